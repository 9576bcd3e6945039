import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { hash } from "@node-rs/argon2";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAccount, type MemberDto } from "@/lib/dal/accounts";
import { createScopedApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import { elevateApiKey, rollApiKey } from "@/lib/dal/key-lifecycle";
import { addWebhook } from "@/lib/dal/webhooks";
import { TEAM_ROLES, type TeamRole } from "@/lib/core/teams/roles";
import * as apiKeyActions from "./api-keys/actions";
import * as keyPageActions from "./api-keys/[keyId]/actions";
import * as endpointActions from "./endpoints/actions";
import * as webhookActions from "./webhooks/actions";
import * as teamSwitchActions from "./actions";
import * as memberActions from "./members/actions";
import * as policyActions from "./policies/actions";
import * as approvalActions from "./approvals/actions";

// SPEC §11 "Every server action checks the role itself; a refused action changes nothing": every
// dashboard action × every role × whose key it is (the member's own, another member's, or one
// whose creator is gone), and a member of another team — allowed ones succeed and name the user
// in the audit log, refused ones answer FORBIDDEN (or NOT_FOUND outside the team) and leave every
// row of the database byte for byte as it was. The session is stubbed; users and memberships are
// written directly, as the members page would.
const session = vi.hoisted(() => ({ account: null as MemberDto | null }));
const revalidated = vi.hoisted(() => [] as string[]);
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account, TEAM_COOKIE: "keyscope-team" }));
vi.mock("next/cache", () => ({ revalidatePath: (path: string) => void revalidated.push(path) }));
// Elevation reads the client address for the password limiter; the `Team` switch sets a cookie.
vi.mock("next/headers", () => ({ headers: async () => new Headers(), cookies: async () => ({ get: () => undefined, set: () => undefined }) }));

type AnyAction = (input: unknown) => Promise<unknown>;
const actions = { ...apiKeyActions, ...keyPageActions, ...endpointActions, ...webhookActions } as unknown as Record<string, AnyAction>;
// SPEC §11's own actions (members, policies, approvals, the `Team` switch): their rules are their
// tests'; here, which roles each admits.
const teamActions = { ...teamSwitchActions, ...memberActions, ...policyActions, ...approvalActions } as unknown as Record<string, AnyAction>;
/** Every "use server" module under app/settings, each imported above. */
const ACTION_MODULES = ["actions.ts", "api-keys/actions.ts", "api-keys/[keyId]/actions.ts", "endpoints/actions.ts", "webhooks/actions.ts", "members/actions.ts", "policies/actions.ts", "approvals/actions.ts"];

const PASSWORD = "password-authorization-123";
const DAY = 86_400_000;

type Whose = "own" | "other's" | "nobody's";
const WHOSE: Whose[] = ["own", "other's", "nobody's"];

let teamA = "";
let teamCreatedAt = new Date(0);
const members = {} as Record<TeamRole, MemberDto>;
let outsider: MemberDto;
let n = 0;

/** A user in team A with `role`, written as the members page would (one password for all). */
async function addMember(role: TeamRole, passwordHash: string): Promise<MemberDto> {
  const userId = `user_${role}_${++n}`;
  const email = uniqueEmail(`team-${role}`);
  await rawRows("INSERT INTO users (id, email, password_hash, session_version, created_at) VALUES (?, ?, ?, 0, ?)", [userId, email, passwordHash, Date.now()]);
  await rawRows("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", [teamA, userId, role, Date.now() + n]);
  return { id: teamA, email, createdAt: teamCreatedAt, userId, role };
}

beforeAll(async () => {
  const owner = await createAccount(uniqueEmail("team-owner"), PASSWORD);
  const other = await createAccount(uniqueEmail("other-team"), PASSWORD);
  if (!owner.ok || !other.ok) throw new Error("setup: accounts");
  teamA = owner.value.id;
  teamCreatedAt = owner.value.createdAt;
  members.owner = owner.value;
  outsider = other.value;
  const passwordHash = await hash(PASSWORD);
  for (const role of ["admin", "member", "viewer"] as const) members[role] = await addMember(role, passwordHash);
});

afterAll(async () => {
  await removeTestDatabase();
});

beforeEach(() => {
  session.account = null;
  revalidated.length = 0;
});

/** Every row of every table: a refused action must leave all of it as it was. */
async function snapshot(): Promise<string> {
  const tables = await rawRows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name");
  const rows = await Promise.all(tables.map(({ name }) => rawRows(`SELECT * FROM "${String(name)}" ORDER BY rowid`)));
  return JSON.stringify(tables.map(({ name }, i) => [name, rows[i]]));
}

/** Who created the key a case is aimed at, for the acting role. */
function creatorFor(role: TeamRole, whose: Whose): string | null {
  if (whose === "nobody's") return null;
  if (whose === "own") return members[role].userId;
  // Another member's: the owner's for everyone but the owner, the Member's for the owner.
  return role === "owner" ? members.member.userId : members.owner.userId;
}

type Fixture = { keyId: string; endpointId: string; elevationId: string; webhookId: string };

/**
 * A key of team A in every state some action needs — a month old and never used (so a suggestion
 * narrows it), disabled, rolled with the old secret still valid, elevated, reported leaked — plus
 * an endpoint of the team's.
 */
async function fixture(createdBy: string | null): Promise<Fixture> {
  const label = `fx-${++n}`;
  const endpoint = await createEndpoint(teamA, label, { type: "dashboard" });
  if (!endpoint.ok) throw new Error("setup: endpoint");
  const endpointId = endpoint.value.id;
  const created = await createScopedApiKey(
    teamA,
    { name: label, scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointId]: "read_write" } } },
    { type: "dashboard", userId: members.owner.userId },
    new Date(Date.now() - 31 * DAY),
  );
  if (!created.ok) throw new Error("setup: key");
  const keyId = created.value.key.id;
  await rawRows("UPDATE api_keys SET created_by = ? WHERE id = ?", [createdBy, keyId]);
  if (!(await setApiKeyEnabled(teamA, keyId, false, { type: "dashboard" })).ok) throw new Error("setup: disable");
  if (!(await rollApiKey(teamA, keyId, "24h", { type: "dashboard" })).ok) throw new Error("setup: roll");
  const elevated = await elevateApiKey(teamA, keyId, { target: { resource: "graphql" }, level: "read_write", duration: "1h", reason: "setup" }, { type: "dashboard" });
  if (!elevated.ok) throw new Error("setup: elevate");
  await rawRows("UPDATE api_keys SET leaked_at = ?, leak_url = 'https://example.test/leak', leak_source = 'scanner' WHERE id = ?", [Date.now(), keyId]);
  return { keyId, endpointId, elevationId: elevated.value.elevations[0]!.id, webhookId: "" };
}

/** A webhook of team A's (a team has a few at most, so only for the cases that delete one). */
async function withWebhook(f: Fixture): Promise<Fixture> {
  const webhook = await addWebhook(teamA, `https://hook-${++n}.example.com/hook`, { type: "dashboard" });
  if (!webhook.ok) throw new Error(`setup: webhook: ${webhook.message}`);
  return { ...f, webhookId: webhook.value.webhook.id };
}

// A refused case changes nothing (which it proves), so its fixture serves the next refused case.
const unchanged = new Map<string | null, Fixture>();

/** A fixture for a case: a fresh one when the case may change it, else the last unchanged one. */
async function fixtureFor(createdBy: string | null, changes: boolean): Promise<Fixture> {
  const kept = unchanged.get(createdBy);
  if (!changes && kept) return kept;
  const made = await fixture(createdBy);
  if (!changes) unchanged.set(createdBy, made);
  return made;
}

/** Per key action: an input that succeeds on a fresh fixture for whoever may change the key. */
const KEY_ACTIONS: Record<string, (f: Fixture) => unknown> = {
  setApiKeyEnabledAction: (f) => ({ keyId: f.keyId, enabled: true }),
  updateApiKeyScopesAction: (f) => ({ keyId: f.keyId, scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }),
  deleteApiKeyAction: (f) => ({ keyId: f.keyId }),
  setApiKeyExpirationAction: (f) => ({ keyId: f.keyId, expiration: "30d" }),
  rollApiKeyAction: (f) => ({ keyId: f.keyId, grace: "1h" }),
  expirePreviousKeyAction: (f) => ({ keyId: f.keyId }),
  elevateApiKeyAction: (f) => ({ keyId: f.keyId, target: "endpoints", level: "read_write", duration: "15m", reason: "deploy", password: PASSWORD }),
  endElevationAction: (f) => ({ keyId: f.keyId, elevationId: f.elevationId }),
  dismissLeakBannerAction: (f) => ({ keyId: f.keyId }),
  setApiKeyRestrictionsAction: (f) => ({ keyId: f.keyId, allowedIps: "10.0.0.0/8", rateLimit: 100, per: "minute" }),
  applyScopeSuggestionAction: (f) => ({ keyId: f.keyId, basedOn: "30d", after: { graphql: "none", endpointsAll: "none", endpoints: {} } }),
};

/** The actions that are not a change to one key, with the permission each needs and an input. */
const TEAM_ACTIONS: Record<string, { allowed: readonly TeamRole[]; input: (f: Fixture) => unknown }> = {
  // Read-only: every role may ask.
  checkAccessAction: { allowed: ["owner", "admin", "member", "viewer"], input: (f) => ({ keyId: f.keyId, resource: "graphql", access: "read" }) },
  createApiKeyAction: { allowed: ["owner", "admin", "member"], input: () => ({ name: `new-${++n}`, scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }) },
  createEndpointAction: { allowed: ["owner", "admin"], input: () => ({ name: `endpoint-${++n}` }) },
  renameEndpointAction: { allowed: ["owner", "admin"], input: (f) => ({ endpointId: f.endpointId, name: `renamed-${++n}` }) },
  deleteEndpointAction: { allowed: ["owner", "admin"], input: (f) => ({ endpointId: f.endpointId }) },
  addWebhookAction: { allowed: ["owner"], input: () => ({ url: `https://added-${++n}.example.com/hook` }) },
  deleteWebhookAction: { allowed: ["owner"], input: (f) => ({ webhookId: f.webhookId }) },
};

// SPEC §11, written out rather than read from lib/core/teams/roles.ts: Owner and Admin change every
// key, a Member the keys they created, a Viewer none.
const MAY_CHANGE_KEY: Record<TeamRole, Record<Whose, boolean>> = {
  owner: { own: true, "other's": true, "nobody's": true },
  admin: { own: true, "other's": true, "nobody's": true },
  member: { own: true, "other's": false, "nobody's": false },
  viewer: { own: false, "other's": false, "nobody's": false },
};

const LABEL: Record<TeamRole, string> = { owner: "Owner", admin: "Admin", member: "Member", viewer: "Viewer" };

/** The audit entries written since `since` name the acting user (SPEC §11), by id and email. */
async function expectEntriesNameUser(since: number, member: MemberDto) {
  const entries = await rawRows("SELECT actor FROM audit_log WHERE id > ? AND account_id = ?", [since, teamA]);
  for (const { actor } of entries) expect(JSON.parse(String(actor))).toEqual({ type: "dashboard", userId: member.userId, email: member.email });
}

async function lastAuditId(): Promise<number> {
  const [row] = await rawRows("SELECT coalesce(max(id), 0) AS id FROM audit_log");
  return Number(row?.id);
}

/** Every file under app/settings that declares server actions, relative to it. */
function actionFiles(dir = path.join(process.cwd(), "app/settings")): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return actionFiles(file);
    return /\.tsx?$/.test(entry.name) && /^\s*["']use server["']/.test(readFileSync(file, "utf8")) ? [path.relative(path.join(process.cwd(), "app/settings"), file)] : [];
  });
}

describe("the table covers every dashboard action", () => {
  it("every 'use server' module of the dashboard is one this table imports", () => {
    expect(actionFiles().sort()).toEqual([...ACTION_MODULES].sort());
  });

  it("each action is in exactly one of the lists", () => {
    expect([...Object.keys(KEY_ACTIONS), ...Object.keys(TEAM_ACTIONS)].sort()).toEqual(Object.keys(actions).sort());
    expect(Object.keys(SPEC_11_ACTIONS).sort()).toEqual(Object.keys(teamActions).sort());
  });
});

describe("a change to one key: every role × whose key", () => {
  const cases = Object.keys(KEY_ACTIONS).flatMap((name) => TEAM_ROLES.flatMap((role) => WHOSE.map((whose) => [name, role, whose] as const)));

  it.each(cases)("%s by %s on %s key", async (name, role, whose) => {
    const allowed = MAY_CHANGE_KEY[role][whose];
    const f = await fixtureFor(creatorFor(role, whose), allowed);
    const member = members[role];
    session.account = member;
    const since = await lastAuditId();
    const before = allowed ? "" : await snapshot();
    const result = await actions[name]!(KEY_ACTIONS[name]!(f));
    if (allowed) {
      expect(result).toMatchObject({ ok: true });
      expect(revalidated.length).toBeGreaterThan(0);
      await expectEntriesNameUser(since, member);
    } else {
      const message = role === "viewer" ? "Your role (Viewer) cannot change keys." : `Your role (${LABEL[role]}) can only change keys you created.`;
      expect(result).toEqual({ ok: false, code: "FORBIDDEN", message });
      expect(await snapshot()).toBe(before);
      expect(revalidated).toEqual([]);
    }
  });

  it.each(Object.keys(KEY_ACTIONS))("%s by a member (the owner) of another team: NOT_FOUND, and nothing changes", async (name) => {
    const f = await fixtureFor(members.owner.userId, false);
    session.account = outsider;
    const before = await snapshot();
    expect(await actions[name]!(KEY_ACTIONS[name]!(f))).toEqual({ ok: false, code: "NOT_FOUND", message: "API key not found." });
    expect(await snapshot()).toBe(before);
    expect(revalidated).toEqual([]);
  });
});

describe("the team's other actions: every role", () => {
  const cases = Object.keys(TEAM_ACTIONS).flatMap((name) => TEAM_ROLES.map((role) => [name, role] as const));

  it.each(cases)("%s by %s", async (name, role) => {
    const allowed = TEAM_ACTIONS[name]!.allowed.includes(role);
    const plain = await fixtureFor(members.owner.userId, allowed);
    const f = name === "deleteWebhookAction" ? await withWebhook(plain) : plain;
    const member = members[role];
    session.account = member;
    const since = await lastAuditId();
    const before = allowed ? "" : await snapshot();
    const result = await actions[name]!(TEAM_ACTIONS[name]!.input(f));
    if (allowed) {
      expect(result).toMatchObject({ ok: true });
      await expectEntriesNameUser(since, member);
    } else {
      expect(result).toMatchObject({ ok: false, code: "FORBIDDEN", message: expect.stringMatching(new RegExp(`^Your role \\(${LABEL[role]}\\) cannot `)) });
      expect(await snapshot()).toBe(before);
      expect(revalidated).toEqual([]);
    }
  });

  it("a key a member creates is theirs: `Created by` names them, and they may then change it", async () => {
    session.account = members.member;
    const created = await actions.createApiKeyAction!({ name: "members-own", scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } });
    expect(created).toMatchObject({ ok: true });
    const [row] = await rawRows("SELECT id, created_by FROM api_keys WHERE account_id = ? AND name = 'members-own'", [teamA]);
    expect(row?.created_by).toBe(members.member.userId);
    expect(await actions.setApiKeyEnabledAction!({ keyId: row?.id, enabled: false })).toEqual({ ok: true, data: { enabled: false } });
    // …and another Member may not.
    const second = await addMember("member", String((await rawRows("SELECT password_hash FROM users WHERE id = ?", [members.member.userId]))[0]?.password_hash));
    session.account = second;
    const before = await snapshot();
    expect(await actions.setApiKeyEnabledAction!({ keyId: row?.id, enabled: true })).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(await snapshot()).toBe(before);
  });

  it("a role changed between two calls is the one the next call is judged by", async () => {
    const f = await fixture(members.owner.userId);
    session.account = { ...members.admin };
    expect(await actions.setApiKeyEnabledAction!({ keyId: f.keyId, enabled: true })).toMatchObject({ ok: true });
    // The session re-reads the membership on every call (lib/auth/session.ts); here, its answer.
    session.account = { ...members.admin, role: "viewer" };
    const before = await snapshot();
    expect(await actions.setApiKeyEnabledAction!({ keyId: f.keyId, enabled: false })).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(await snapshot()).toBe(before);
  });
});

/** A member of team A to change or remove: none of the table's own members. */
async function bystander(): Promise<string> {
  const passwordHash = String((await rawRows("SELECT password_hash FROM users WHERE id = ?", [members.viewer.userId]))[0]?.password_hash);
  return (await addMember("viewer", passwordHash)).userId;
}

/** SPEC §11's own actions: the roles the table admits, and an input each would act on. */
const SPEC_11_ACTIONS: Record<string, { allowed: readonly TeamRole[]; input: () => Promise<unknown> }> = {
  switchTeamAction: { allowed: ["owner", "admin", "member", "viewer"], input: async () => ({ teamId: teamA }) },
  inviteMemberAction: { allowed: ["owner"], input: async () => ({ email: uniqueEmail("invited"), role: "member" }) },
  changeMemberRoleAction: { allowed: ["owner"], input: async () => ({ userId: await bystander(), role: "member" }) },
  removeMemberAction: { allowed: ["owner"], input: async () => ({ userId: await bystander() }) },
  // What every team had before policies: saving it changes nothing the cases above rely on.
  savePoliciesAction: { allowed: ["owner"], input: async () => ({ maxKeyLifetime: "none", graphqlWriteNeedsApproval: false }) },
  approveRequestAction: { allowed: ["owner", "admin"], input: async () => ({ requestId: "apr_missing" }) },
  declineRequestAction: { allowed: ["owner", "admin"], input: async () => ({ requestId: "apr_missing" }) },
};

describe("SPEC §11's own actions: which roles each admits", () => {
  const cases = Object.keys(SPEC_11_ACTIONS).flatMap((name) => TEAM_ROLES.map((role) => [name, role] as const));

  it.each(cases)("%s by %s", async (name, role) => {
    const { allowed, input } = SPEC_11_ACTIONS[name]!;
    const given = await input();
    session.account = members[role];
    const before = await snapshot();
    const result = (await teamActions[name]!(given)) as { ok: boolean; code?: string };
    if (allowed.includes(role)) {
      // Admitted: whatever the action's own rules answer, never the role's refusal.
      expect(result.code).not.toBe("FORBIDDEN");
      expect(result.code).not.toBe("UNAVAILABLE");
    } else {
      expect(result).toEqual({ ok: false, code: "FORBIDDEN", message: expect.stringMatching(new RegExp(`^Your role \\(${LABEL[role]}\\) cannot `)) });
      expect(await snapshot()).toBe(before);
      expect(revalidated).toEqual([]);
    }
  });
});
