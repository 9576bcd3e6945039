import { countRows, rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import type { TeamRole } from "@/lib/core/teams/roles";
import { createAccount } from "./accounts";
import { createScopedApiKey, importLegacyApiKeys } from "./api-keys";
import { listAuditLog, type AuditActor } from "./audit-log";
import { rollApiKey, setApiKeyExpiration } from "./key-lifecycle";
import { getPolicies, savePolicies } from "./policies";
import type { DalResult } from "./result";

// SPEC §11 policies: what getPolicies/savePolicies store and audit, and `Maximum key lifetime`
// enforced on every way a key gets an expiry (create, change; a roll keeps the expiry it had),
// for every role, scoped and legacy keys alike — refused with nothing saved.

afterAll(removeTestDatabase);

const DAY = 86_400_000;
const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const at = (offset: number) => new Date(T0 + offset);

let teamA = "";
let teamB = "";
let ownerA: AuditActor;
let ownerB: AuditActor;

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

async function newTeam(label: string): Promise<{ teamId: string; actor: AuditActor }> {
  const created = unwrap(await createAccount(uniqueEmail(label), `password-${label}-123`));
  return { teamId: created.id, actor: { type: "dashboard", userId: created.userId } };
}

/** A user in the team with `role`, written directly (the members UI is another module's). */
async function addMember(teamId: string, role: TeamRole): Promise<AuditActor> {
  const userId = `usr_${role}_${Math.random().toString(36).slice(2, 10)}`;
  await rawRows("INSERT INTO users (id, email, password_hash, session_version, created_at) VALUES (?, ?, '!', 0, ?)", [userId, uniqueEmail(role), T0]);
  await rawRows("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", [teamId, userId, role, T0]);
  return { type: "dashboard", userId };
}

const keyCount = (teamId: string) => countRows("api_keys", "account_id = ?", [teamId]);
const auditCount = (teamId: string) => countRows("audit_log", "account_id = ?", [teamId]);

beforeAll(async () => {
  ({ teamId: teamA, actor: ownerA } = await newTeam("policies-a"));
  ({ teamId: teamB, actor: ownerB } = await newTeam("policies-b"));
});

describe("getPolicies / savePolicies", () => {
  it("a team that never saved any has no limit and no approval", async () => {
    const { teamId } = await newTeam("fresh");
    expect(await getPolicies(teamId)).toEqual({ maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false });
    expect(await countRows("team_policies", "account_id = ?", [teamId])).toBe(0);
  });

  it("saves both, audits before and after as `policies.changed` on the team naming the user, and only its own team", async () => {
    const { teamId, actor } = await newTeam("save");
    const [firstBefore] = await rawRows("SELECT count(*) AS n FROM team_policies");
    const saved = unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true }, actor, at(0)));
    expect(saved).toEqual({ maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true });
    expect(await getPolicies(teamId)).toEqual(saved);
    expect(await countRows("team_policies")).toBe(Number(firstBefore?.n) + 1);
    expect(await getPolicies(teamA)).toEqual({ maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false });

    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: true }, actor, at(DAY)));
    expect(await getPolicies(teamId)).toEqual({ maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: true });

    const { entries } = await listAuditLog(teamId, { page: 1 });
    expect(entries.map(({ action, target, details, actor: who }) => ({ action, target, details, who: who?.type === "dashboard" ? who.userId : null }))).toEqual([
      {
        action: "policies.changed",
        target: { type: "team", id: teamId, name: null },
        details: { before: { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true }, after: { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: true } },
        who: actor.type === "dashboard" ? actor.userId : null,
      },
      {
        action: "policies.changed",
        target: { type: "team", id: teamId, name: null },
        details: { before: { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false }, after: { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true } },
        who: actor.type === "dashboard" ? actor.userId : null,
      },
    ]);
  });

  it("saving what is in force records nothing (also the defaults on a team with no row)", async () => {
    const { teamId, actor } = await newTeam("same");
    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false }, actor, at(0)));
    expect(await auditCount(teamId)).toBe(0);
    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: 365, graphqlWriteNeedsApproval: false }, actor, at(1)));
    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: 365, graphqlWriteNeedsApproval: false }, actor, at(2)));
    expect(await auditCount(teamId)).toBe(1);
  });

  it.each([
    ["a lifetime the select does not offer", { maxKeyLifetimeDays: 7, graphqlWriteNeedsApproval: false }],
    ["a lifetime as text", { maxKeyLifetimeDays: "90", graphqlWriteNeedsApproval: false }],
    ["a missing checkbox", { maxKeyLifetimeDays: 90 }],
    ["a checkbox as text", { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: "on" }],
    ["nothing", undefined],
  ])("refuses %s and changes nothing", async (_label, input) => {
    const before = await rawRows("SELECT * FROM team_policies WHERE account_id = ?", [teamB]);
    const entries = await auditCount(teamB);
    expect(await savePolicies(teamB, input, ownerB, at(0))).toMatchObject({ ok: false, code: "BAD_REQUEST" });
    expect(await rawRows("SELECT * FROM team_policies WHERE account_id = ?", [teamB])).toEqual(before);
    expect(await auditCount(teamB)).toBe(entries);
  });

  it("an unknown team is NOT_FOUND and nothing is written", async () => {
    const rows = await countRows("team_policies");
    expect(await savePolicies("no-such-team", { maxKeyLifetimeDays: 30, graphqlWriteNeedsApproval: true }, ownerA, at(0))).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await countRows("team_policies")).toBe(rows);
    expect(await countRows("audit_log", "account_id = ?", ["no-such-team"])).toBe(0);
  });
});

describe("`Maximum key lifetime` on every path", () => {
  // A team with a 90-day cap, and one member of each role that may hold keys.
  let capped = "";
  let actors: Record<"owner" | "admin" | "member", AuditActor>;
  const scopes = createEmptyScopes();

  beforeAll(async () => {
    const team = await newTeam("capped");
    capped = team.teamId;
    actors = { owner: team.actor, admin: await addMember(capped, "admin"), member: await addMember(capped, "member") };
    unwrap(await savePolicies(capped, { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: false }, team.actor, at(0)));
  });

  const roles = ["owner", "admin", "member"] as const;

  it.each(roles)("create (%s): no expiry and one past 90 days are refused, nothing saved; 90 days to the millisecond and less are fine", async (role) => {
    const keys = await keyCount(capped);
    const entries = await auditCount(capped);
    for (const expiresAt of [null, undefined, at(90 * DAY + 1), at(365 * DAY)]) {
      const refused = await createScopedApiKey(capped, { name: "too long", scopes, expiresAt }, actors[role], at(0));
      expect(refused).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.stringMatching(/90 days/) });
    }
    expect(await keyCount(capped)).toBe(keys);
    expect(await auditCount(capped)).toBe(entries);
    for (const expiresAt of [at(90 * DAY), at(7 * DAY)]) {
      const created = unwrap(await createScopedApiKey(capped, { name: "fine", scopes, expiresAt }, actors[role], at(0)));
      expect(created.key.expiresAt).toEqual(expiresAt);
    }
  });

  it.each(roles)("change expiration (%s): clearing it or moving it past the cap is refused, nothing saved", async (role) => {
    const { key } = unwrap(await createScopedApiKey(capped, { name: "change", scopes, expiresAt: at(30 * DAY) }, actors[role], at(0)));
    const row = await rawRows("SELECT * FROM api_keys WHERE id = ?", [key.id]);
    const entries = await auditCount(capped);
    // Counted from when the change is made, not from the key's creation.
    const now = at(10 * DAY);
    for (const expiresAt of [null, at(100 * DAY + 1)]) {
      expect(await setApiKeyExpiration(capped, key.id, expiresAt, actors[role], now)).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.stringMatching(/90 days/) });
    }
    expect(await rawRows("SELECT * FROM api_keys WHERE id = ?", [key.id])).toEqual(row);
    expect(await auditCount(capped)).toBe(entries);
    expect(unwrap(await setApiKeyExpiration(capped, key.id, at(100 * DAY), actors[role], now)).expiresAt).toEqual(at(100 * DAY));
  });

  it("a legacy key's expiry is capped too; a roll keeps the expiry it had", async () => {
    const plaintext = "LEGACYPOLICYKEY0000000000000000A";
    const imported = unwrap(
      await importLegacyApiKeys(capped, [{ line: 1, name: "old", permission: "read", keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }], { type: "cli", command: "keys:import-legacy" }, at(0)),
    );
    const legacyId = imported.ids[0]!;
    expect(await setApiKeyExpiration(capped, legacyId, null, actors.owner, at(0))).toMatchObject({ ok: false, code: "BAD_REQUEST" });
    expect(await setApiKeyExpiration(capped, legacyId, at(91 * DAY), actors.owner, at(0))).toMatchObject({ ok: false, code: "BAD_REQUEST" });
    unwrap(await setApiKeyExpiration(capped, legacyId, at(60 * DAY), actors.owner, at(0)));
    const rolled = unwrap(await rollApiKey(capped, legacyId, "now", actors.owner, at(DAY)));
    expect(rolled.key.expiresAt).toEqual(at(60 * DAY));
  });

  it("another team's cap does not apply, and an unknown key stays NOT_FOUND under a cap", async () => {
    const created = unwrap(await createScopedApiKey(teamA, { name: "uncapped", scopes, expiresAt: null }, ownerA, at(0)));
    expect(created.key.expiresAt).toBeNull();
    expect(await setApiKeyExpiration(capped, created.key.id, null, actors.owner, at(0))).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect((await rawRows("SELECT expires_at FROM api_keys WHERE id = ?", [created.key.id]))[0]?.expires_at).toBeNull();
  });

  it.each([
    [30, 30 * DAY, 30 * DAY + 1],
    [365, 365 * DAY, 365 * DAY + 1],
  ])("a %i-day cap allows exactly that long and no longer", async (days, allowed, refused) => {
    const { teamId, actor } = await newTeam(`cap-${days}`);
    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: days, graphqlWriteNeedsApproval: false }, actor, at(0)));
    expect((await createScopedApiKey(teamId, { name: "edge", scopes, expiresAt: at(allowed) }, actor, at(0))).ok).toBe(true);
    expect(await createScopedApiKey(teamId, { name: "edge", scopes, expiresAt: at(refused) }, actor, at(0))).toMatchObject({ ok: false, code: "BAD_REQUEST" });
  });

  it("turning the cap off allows keys without expiry again; keys made under it keep theirs", async () => {
    const { teamId, actor } = await newTeam("cap-off");
    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: 30, graphqlWriteNeedsApproval: false }, actor, at(0)));
    const under = unwrap(await createScopedApiKey(teamId, { name: "under", scopes, expiresAt: at(30 * DAY) }, actor, at(0)));
    unwrap(await savePolicies(teamId, { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false }, actor, at(1)));
    expect(unwrap(await createScopedApiKey(teamId, { name: "free", scopes, expiresAt: null }, actor, at(2))).key.expiresAt).toBeNull();
    expect((await rawRows("SELECT expires_at FROM api_keys WHERE id = ?", [under.key.id]))[0]?.expires_at).toBe(T0 + 30 * DAY);
  });
});
