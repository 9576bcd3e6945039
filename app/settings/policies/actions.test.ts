import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAccount, type MemberDto } from "@/lib/dal/accounts";
import { getPolicies, savePolicies } from "@/lib/dal/policies";
import type { TeamRole } from "@/lib/core/teams/roles";
import * as apiKeyActions from "../api-keys/actions";
import * as approvalActions from "../approvals/actions";
import * as policyActions from "./actions";

// SPEC §11 policies and approvals through the server actions, as Next.js runs them (the session
// stubbed): who may save policies and decide requests, and the cap and the approval rule on the
// key actions a Member uses. Refusals change nothing.
const session = vi.hoisted(() => ({ account: null as MemberDto | null }));
const revalidated = vi.hoisted(() => [] as string[]);
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account }));
vi.mock("next/cache", () => ({ revalidatePath: (path: string) => void revalidated.push(path) }));
vi.mock("next/headers", () => ({ headers: async () => new Headers() }));

afterAll(removeTestDatabase);

const DAY = 86_400_000;
let team = "";
const members = {} as Record<TeamRole, MemberDto>;
let outsider: MemberDto;

async function addMember(role: TeamRole): Promise<MemberDto> {
  const userId = `usr_${role}_${Math.random().toString(36).slice(2, 10)}`;
  const email = uniqueEmail(role);
  await rawRows("INSERT INTO users (id, email, password_hash, session_version, created_at) VALUES (?, ?, '!', 0, ?)", [userId, email, Date.now()]);
  await rawRows("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", [team, userId, role, Date.now()]);
  return { id: team, email, createdAt: new Date(), userId, role };
}

async function everything(): Promise<string> {
  const tables = ["team_policies", "api_keys", "api_key_endpoint_scopes", "api_key_elevations", "approval_requests", "audit_log"];
  return JSON.stringify(await Promise.all(tables.map((table) => rawRows(`SELECT * FROM ${table} ORDER BY rowid`))));
}

const save = (input: unknown) => policyActions.savePoliciesAction(input as never);

beforeAll(async () => {
  const owner = await createAccount(uniqueEmail("owner"), "password-owner-123");
  const other = await createAccount(uniqueEmail("outsider"), "password-outsider-123");
  if (!owner.ok || !other.ok) throw new Error("setup");
  team = owner.value.id;
  members.owner = owner.value;
  outsider = other.value;
  for (const role of ["admin", "member", "viewer"] as const) members[role] = await addMember(role);
});

beforeEach(() => {
  session.account = null;
  revalidated.length = 0;
});

describe("savePoliciesAction", () => {
  it.each(["admin", "member", "viewer"] as const)("%s: FORBIDDEN, nothing changed", async (role) => {
    session.account = members[role];
    const before = await everything();
    expect(await save({ maxKeyLifetime: "30d", graphqlWriteNeedsApproval: true })).toEqual({
      ok: false,
      code: "FORBIDDEN",
      message: expect.stringContaining("cannot change policies"),
    });
    expect(await everything()).toBe(before);
    expect(revalidated).toEqual([]);
  });

  it("signed out: UNAUTHENTICATED; a bad input: BAD_REQUEST with field errors; nothing changed", async () => {
    const before = await everything();
    expect(await save({ maxKeyLifetime: "30d", graphqlWriteNeedsApproval: true })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    session.account = members.owner;
    for (const input of [{ maxKeyLifetime: "7d", graphqlWriteNeedsApproval: true }, { maxKeyLifetime: "30d" }, "garbage"]) {
      expect(await save(input)).toMatchObject({ ok: false, code: "BAD_REQUEST", fieldErrors: expect.any(Object) });
    }
    expect(await everything()).toBe(before);
  });

  it("the owner saves them for their own team only, and the dashboard is revalidated", async () => {
    session.account = members.owner;
    expect(await save({ maxKeyLifetime: "90d", graphqlWriteNeedsApproval: true })).toEqual({ ok: true, data: { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true } });
    expect(revalidated).toEqual(["/settings"]);
    expect(await getPolicies(team)).toEqual({ maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true });
    expect(await getPolicies(outsider.id)).toEqual({ maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false });
  });
});

describe("the key actions under a 90-day cap and the approval policy", () => {
  const graphqlWrite = { graphql: "read_write", endpointsAll: "read", endpoints: {} };

  beforeAll(async () => {
    const saved = await savePolicies(team, { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true }, { type: "dashboard", userId: members.owner.userId });
    if (!saved.ok) throw new Error("setup: policies");
  });

  it.each(["owner", "admin", "member"] as const)("%s: `No expiration`, `1 year` and a custom date past 90 days are refused on create and on change", async (role) => {
    session.account = members[role];
    const created = await apiKeyActions.createApiKeyAction({ name: `capped-${role}`, scopes: { graphql: "none", endpointsAll: "none", endpoints: {} }, expiration: "30d" });
    if (!created.ok) throw new Error(created.message);
    const [row] = await rawRows("SELECT id FROM api_keys WHERE name = ?", [`capped-${role}`]);
    const keyId = String(row?.id);
    const before = await everything();
    const tooLong = [
      { expiration: "never" },
      { expiration: "1y" },
      { expiration: "custom", expiresAt: new Date(Date.now() + 91 * DAY).toISOString() },
    ] as const;
    for (const expiry of tooLong) {
      expect(await apiKeyActions.createApiKeyAction({ name: "too long", scopes: { graphql: "none", endpointsAll: "none", endpoints: {} }, ...expiry })).toMatchObject({
        ok: false,
        code: "BAD_REQUEST",
        message: expect.stringContaining("90 days"),
      });
      expect(await apiKeyActions.setApiKeyExpirationAction({ keyId, ...expiry })).toMatchObject({ ok: false, code: "BAD_REQUEST", message: expect.stringContaining("90 days") });
    }
    expect(await everything()).toBe(before);
    expect(await apiKeyActions.setApiKeyExpirationAction({ keyId, expiration: "90d" })).toMatchObject({ ok: true });
  });

  it("a Member's key asking GraphQL Read / Write says it waits; an admin approves it; the Member could not", async () => {
    session.account = members.member;
    const created = await apiKeyActions.createApiKeyAction({ name: "needs-approval", scopes: graphqlWrite, expiration: "30d" });
    expect(created).toEqual({ ok: true, data: { plaintext: expect.stringMatching(/^rpa_/), name: "needs-approval", pendingApproval: true } });
    const [request] = await rawRows("SELECT r.id, k.id AS key_id FROM approval_requests r JOIN api_keys k ON k.id = r.key_id WHERE k.name = 'needs-approval'");
    const requestId = String(request?.id);

    for (const role of ["member", "viewer"] as const) {
      session.account = members[role];
      const before = await everything();
      for (const decide of [approvalActions.approveRequestAction, approvalActions.declineRequestAction]) {
        expect(await decide({ requestId })).toMatchObject({ ok: false, code: "FORBIDDEN", message: expect.stringContaining("approve or decline") });
      }
      expect(await everything()).toBe(before);
    }

    session.account = outsider;
    const before = await everything();
    expect(await approvalActions.approveRequestAction({ requestId })).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await everything()).toBe(before);

    session.account = members.admin;
    revalidated.length = 0;
    expect(await approvalActions.approveRequestAction({ requestId })).toEqual({ ok: true, data: undefined });
    expect(revalidated).toEqual(["/settings/approvals", "/settings/api-keys", `/settings/api-keys/${request?.key_id}`]);
    expect((await rawRows("SELECT graphql_level FROM api_keys WHERE id = ?", [String(request?.key_id)]))[0]?.graphql_level).toBe("read_write");
  });

  it("an Admin asks nothing: their key gets GraphQL Read / Write at once", async () => {
    session.account = members.admin;
    expect(await apiKeyActions.createApiKeyAction({ name: "admin-direct", scopes: graphqlWrite, expiration: "30d" })).toEqual({
      ok: true,
      data: { plaintext: expect.stringMatching(/^rpa_/), name: "admin-direct" },
    });
  });

  it("a Member promoted to Admin cannot approve the request they made; Decline withdraws it", async () => {
    session.account = members.member;
    const created = await apiKeyActions.createApiKeyAction({ name: "own-request", scopes: graphqlWrite, expiration: "30d" });
    expect(created).toMatchObject({ ok: true, data: { pendingApproval: true } });
    const [request] = await rawRows("SELECT r.id FROM approval_requests r JOIN api_keys k ON k.id = r.key_id WHERE k.name = 'own-request'");
    await rawRows("UPDATE memberships SET role = 'admin' WHERE account_id = ? AND user_id = ?", [team, members.member.userId]);
    try {
      session.account = { ...members.member, role: "admin" };
      const before = await everything();
      expect(await approvalActions.approveRequestAction({ requestId: String(request?.id) })).toEqual({
        ok: false,
        code: "BAD_REQUEST",
        message: "You can't approve your own request: another owner or admin must.",
      });
      expect(await everything()).toBe(before);
      expect(await approvalActions.declineRequestAction({ requestId: String(request?.id) })).toEqual({ ok: true, data: undefined });
    } finally {
      await rawRows("UPDATE memberships SET role = 'member' WHERE account_id = ? AND user_id = ?", [team, members.member.userId]);
    }
  });
});
