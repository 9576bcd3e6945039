import { countRows, rawRows, removeTestDatabase, uniqueEmail, type RawRow } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/handle";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import type { AccessLevel, RequiredLevel } from "@/lib/core/scopes/levels";
import type { TeamRole } from "@/lib/core/teams/roles";
import { handleGraphqlRequest } from "@/lib/http/graphql/handler";
import { handleVerifyApi } from "@/lib/http/verify-api";
import { createAccount } from "./accounts";
import { createScopedApiKey, deleteApiKey, updateApiKeyScopes } from "./api-keys";
import { approveApprovalRequest, declineApprovalRequest, listPendingApprovals } from "./approvals";
import { listAuditLog, type AuditActor } from "./audit-log";
import { createEndpoint } from "./endpoints";
import { elevateApiKey } from "./key-lifecycle";
import { savePolicies } from "./policies";
import type { DalResult } from "./result";
import { addWebhook } from "./webhooks";

// SPEC §11 `GraphQL Read / Write needs approval`: a Member's key creation, scope change or
// elevation asking for GraphQL Read / Write takes effect for everything else at once, and the
// GraphQL part waits as a request; until an owner or admin approves it the key acts with what it
// had — proved with the verify API and a real GraphQL mutation, in process — and both outcomes are
// audited and become webhook events.

vi.hoisted(() => {
  // The webhook worker and the last-used flush stay out of the way: this file reads the outbox rows.
  process.env.WEBHOOK_POLL_MS = "60000";
  process.env.LAST_USED_FLUSH_MS = "60000";
});

afterAll(removeTestDatabase);

const HOUR = 3_600_000;

type Member = { userId: string; actor: AuditActor };
let team = "";
let other = "";
let owner: Member;
let admin: Member;
let member: Member;
let member2: Member;
let viewer: Member;
let otherOwner: Member;
let endpoint = "";

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

const dashboard = (userId: string): AuditActor => ({ type: "dashboard", userId });

/** A user in the team with `role`, written directly (the members UI is another module's). */
async function addMember(teamId: string, role: TeamRole): Promise<Member> {
  const userId = `usr_${role}_${Math.random().toString(36).slice(2, 10)}`;
  await rawRows("INSERT INTO users (id, email, password_hash, session_version, created_at) VALUES (?, ?, '!', 0, ?)", [userId, uniqueEmail(role), Date.now()]);
  await rawRows("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", [teamId, userId, role, Date.now()]);
  return { userId, actor: dashboard(userId) };
}

async function newTeam(label: string): Promise<{ teamId: string; owner: Member }> {
  const created = unwrap(await createAccount(uniqueEmail(label), `password-${label}-123`));
  return { teamId: created.id, owner: { userId: created.userId, actor: dashboard(created.userId) } };
}

const scopes = (graphql: AccessLevel, endpointsAll: AccessLevel = "none", endpoints: Record<string, AccessLevel> = {}): KeyScopes => ({ graphql, endpointsAll, endpoints });

async function newKey(by: Member, asked: KeyScopes, teamId = team) {
  return unwrap(await createScopedApiKey(teamId, { name: `key-${Math.random().toString(36).slice(2, 8)}`, scopes: asked }, by.actor));
}

/** The verify API's answer for GraphQL at `access`, in process. */
async function verifyGraphql(key: string, access: RequiredLevel): Promise<string> {
  const response = await handleVerifyApi(
    new Request("http://test/api/v1/keys/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key, resource: "graphql", access }) }),
  );
  return ((await response.json()) as { code: string }).code;
}

/** A real GraphQL mutation, in process: its status and error code (null when it went through). */
async function podCreate(key: string): Promise<[number, string | null]> {
  const response = await handleGraphqlRequest(
    new Request("http://test/graphql", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ query: 'mutation { podCreate(input: {name: "approved-pod"}) { id } }' }),
    }),
  );
  const body = (await response.json()) as { error?: { code: string } };
  return [response.status, body.error?.code ?? null];
}

const requestRows = (keyId: string) => rawRows("SELECT * FROM approval_requests WHERE key_id = ? ORDER BY created_at, id", [keyId]);
const graphqlLevel = async (keyId: string) => (await rawRows("SELECT graphql_level FROM api_keys WHERE id = ?", [keyId]))[0]?.graphql_level;

type Entry = { action: string; targetId: string | null; details: Record<string, unknown>; actorUserId: unknown };

/** Runs `change`; answers its result and the entries it wrote in `teamId`'s audit log. */
async function audited<T>(change: () => Promise<T>, teamId = team): Promise<[T, Entry[]]> {
  const [last] = await rawRows("SELECT coalesce(max(id), 0) AS id FROM audit_log");
  const result = await change();
  const rows = await rawRows("SELECT * FROM audit_log WHERE id > ? AND account_id = ? ORDER BY id", [Number(last?.id), teamId]);
  return [
    result,
    rows.map((row) => ({
      action: String(row.action),
      targetId: row.target_id as string | null,
      details: JSON.parse(String(row.details)) as Record<string, unknown>,
      actorUserId: row.actor === null ? null : (JSON.parse(String(row.actor)) as { userId?: string }).userId,
    })),
  ];
}

/** Everything a decision could touch, in both teams: a refused one must leave it exactly so. */
async function everything(): Promise<string> {
  const tables = ["api_keys", "api_key_endpoint_scopes", "api_key_elevations", "approval_requests", "audit_log", "webhook_deliveries"];
  return JSON.stringify(await Promise.all(tables.map((table) => rawRows(`SELECT * FROM ${table} ORDER BY rowid`))));
}

const eventsFor = async (keyId: string): Promise<RawRow[]> =>
  rawRows("SELECT event, json_extract(payload, '$.key.id') AS key, json_extract(payload, '$.details.kind') AS kind FROM webhook_deliveries WHERE json_extract(payload, '$.key.id') = ? ORDER BY rowid", [keyId]);

beforeAll(async () => {
  await getDb(); // creates and migrates the file (migration 0010 carries the approval events' trigger)

  ({ teamId: team, owner } = await newTeam("approvals"));
  ({ teamId: other, owner: otherOwner } = await newTeam("approvals-other"));
  admin = await addMember(team, "admin");
  member = await addMember(team, "member");
  member2 = await addMember(team, "member");
  viewer = await addMember(team, "viewer");
  endpoint = unwrap(await createEndpoint(team, "alpha", owner.actor)).id;
  unwrap(await savePolicies(team, { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: true }, owner.actor));
  unwrap(await addWebhook(team, "https://hooks.example.com/keyscope", owner.actor));
});

describe("a Member's key creation asking for GraphQL Read / Write", () => {
  it("gets everything else at once and GraphQL None; the request waits, audited; GraphQL refuses mutations (and queries) until approved, then allows them", async () => {
    const [created, entries] = await audited(() => newKey(member, scopes("read_write", "read", { [endpoint]: "read_write" })));
    expect(created.pendingApproval).toBe(true);
    expect(created.key.scopes).toEqual(scopes("none", "read", { [endpoint]: "read_write" }));
    expect(await graphqlLevel(created.key.id)).toBe("none");
    const [request] = await requestRows(created.key.id);
    expect(request).toMatchObject({ account_id: team, kind: "created", status: "pending", requested_by: member.userId, decided_at: null, decided_by: null });
    expect(entries).toEqual([
      { action: "api_key.created", targetId: created.key.id, details: expect.objectContaining({ scopes: expect.objectContaining({ graphql: "none", endpointsAll: "read" }) }), actorUserId: member.userId },
      { action: "approval.requested", targetId: created.key.id, details: { requestId: request?.id, kind: "created", resource: "graphql", level: "read_write" }, actorUserId: member.userId },
    ]);

    expect(await verifyGraphql(created.plaintext, "read_write")).toBe("INSUFFICIENT_SCOPE");
    expect(await verifyGraphql(created.plaintext, "read")).toBe("INSUFFICIENT_SCOPE");
    expect(await podCreate(created.plaintext)).toEqual([403, "INSUFFICIENT_SCOPE"]);
    const pods = await countRows("pods", "account_id = ?", [team]);

    const pending = await listPendingApprovals(team);
    expect(pending).toContainEqual({
      id: request?.id,
      keyId: created.key.id,
      keyName: created.key.name,
      kind: "created",
      requestedBy: { userId: member.userId, email: expect.stringContaining("@") },
      createdAt: expect.any(Date),
      duration: null,
      reason: null,
    });
    expect((await listPendingApprovals(team, { requestedBy: member.userId })).map((r) => r.id)).toContain(request?.id);
    expect((await listPendingApprovals(team, { requestedBy: member2.userId })).map((r) => r.id)).not.toContain(request?.id);
    expect((await listPendingApprovals(team, { keyId: created.key.id })).map((r) => r.id)).toEqual([request?.id]);
    expect(await listPendingApprovals(other)).toEqual([]);

    const [approved, decision] = await audited(() => approveApprovalRequest(team, String(request?.id), admin.actor));
    expect(approved).toEqual({ ok: true, value: { id: request?.id, keyId: created.key.id } });
    expect(decision).toEqual([
      {
        action: "approval.approved",
        targetId: created.key.id,
        details: { requestId: request?.id, kind: "created", resource: "graphql", level: "read_write", requestedBy: expect.stringContaining("@") },
        actorUserId: admin.userId,
      },
      {
        action: "api_key.scopes_changed",
        targetId: created.key.id,
        details: { before: expect.objectContaining({ graphql: "none" }), after: expect.objectContaining({ graphql: "read_write", endpointsAll: "read" }) },
        actorUserId: admin.userId,
      },
    ]);
    expect(await graphqlLevel(created.key.id)).toBe("read_write");
    expect((await requestRows(created.key.id))[0]).toMatchObject({ status: "approved", decided_by: admin.userId, decided_at: expect.any(Number) });
    expect(await listPendingApprovals(team, { keyId: created.key.id })).toEqual([]);

    expect(await verifyGraphql(created.plaintext, "read_write")).toBe("VALID");
    expect(await podCreate(created.plaintext)).toEqual([200, null]);
    expect(await countRows("pods", "account_id = ?", [team])).toBe(pods + 1);
    expect(await eventsFor(created.key.id)).toEqual([
      { event: "key.created", key: created.key.id, kind: "scoped" },
      { event: "approval.requested", key: created.key.id, kind: "created" },
      { event: "approval.approved", key: created.key.id, kind: "created" },
    ]);
  });

  it.each([
    ["an owner", () => owner, true],
    ["an admin", () => admin, true],
    ["a member", () => member, false],
  ] as const)("%s: GraphQL Read / Write at once only for owners and admins", async (_label, who, direct) => {
    const created = await newKey(who(), scopes("read_write"));
    expect(created.key.scopes.graphql).toBe(direct ? "read_write" : "none");
    expect(created.pendingApproval).toBe(direct ? undefined : true);
    expect(await requestRows(created.key.id)).toHaveLength(direct ? 0 : 1);
    expect(await verifyGraphql(created.plaintext, "read_write")).toBe(direct ? "VALID" : "INSUFFICIENT_SCOPE");
  });

  it("GraphQL Read needs no approval; nor does Read / Write in a team without the policy, or an actor that is no member (the CLI)", async () => {
    const read = await newKey(member, scopes("read"));
    expect([read.key.scopes.graphql, read.pendingApproval, (await requestRows(read.key.id)).length]).toEqual(["read", undefined, 0]);

    const free = await newTeam("no-policy");
    const plain = await addMember(free.teamId, "member");
    const rw = unwrap(await createScopedApiKey(free.teamId, { name: "rw", scopes: scopes("read_write") }, plain.actor));
    expect([rw.key.scopes.graphql, rw.pendingApproval]).toEqual(["read_write", undefined]);

    const cli = unwrap(await createScopedApiKey(team, { name: "cli", scopes: scopes("read_write") }, { type: "cli", command: "seed" }));
    expect(cli.key.scopes.graphql).toBe("read_write");
  });

  it("a member removed since their session was checked counts as a Viewer: the request still waits", async () => {
    const gone = await addMember(team, "member");
    await rawRows("DELETE FROM memberships WHERE account_id = ? AND user_id = ?", [team, gone.userId]);
    const created = await newKey(gone, scopes("read_write"));
    expect([created.key.scopes.graphql, created.pendingApproval]).toEqual(["none", true]);
  });
});

describe("a Member's scope change asking for GraphQL Read / Write", () => {
  it("applies the rest, keeps GraphQL as it was, asks once however often it is saved; Decline leaves the key as it is", async () => {
    const { key, plaintext } = await newKey(member, scopes("read"));
    const [changed, entries] = await audited(() => updateApiKeyScopes(team, key.id, scopes("read_write", "read_write"), member.actor));
    expect(unwrap(changed)).toMatchObject({ pendingApproval: true, scopes: scopes("read", "read_write") });
    const [request] = await requestRows(key.id);
    expect(request).toMatchObject({ kind: "scopes_changed", status: "pending", requested_by: member.userId });
    expect(entries.map((entry) => [entry.action, entry.details])).toEqual([
      ["api_key.scopes_changed", { before: expect.objectContaining({ graphql: "read", endpointsAll: "none" }), after: expect.objectContaining({ graphql: "read", endpointsAll: "read_write" }) }],
      ["approval.requested", { requestId: request?.id, kind: "scopes_changed", resource: "graphql", level: "read_write" }],
    ]);
    expect(await verifyGraphql(plaintext, "read")).toBe("VALID");
    expect(await verifyGraphql(plaintext, "read_write")).toBe("INSUFFICIENT_SCOPE");
    expect(await podCreate(plaintext)).toEqual([403, "INSUFFICIENT_SCOPE"]);

    // Saving the same again: no second request, and (nothing else changed) no entry at all.
    const [again, none] = await audited(() => updateApiKeyScopes(team, key.id, scopes("read_write", "read_write"), member.actor));
    expect(unwrap(again).pendingApproval).toBe(true);
    expect(none).toEqual([]);
    expect(await requestRows(key.id)).toHaveLength(1);

    const [declined, decision] = await audited(() => declineApprovalRequest(team, String(request?.id), owner.actor));
    expect(declined.ok).toBe(true);
    expect(decision).toEqual([
      {
        action: "approval.declined",
        targetId: key.id,
        details: { requestId: request?.id, kind: "scopes_changed", resource: "graphql", level: "read_write", requestedBy: expect.stringContaining("@") },
        actorUserId: owner.userId,
      },
    ]);
    expect(await graphqlLevel(key.id)).toBe("read");
    expect((await requestRows(key.id))[0]).toMatchObject({ status: "declined", decided_by: owner.userId });
    expect(await verifyGraphql(plaintext, "read_write")).toBe("INSUFFICIENT_SCOPE");
    expect((await eventsFor(key.id)).map((row) => row.event)).toEqual(["key.created", "approval.requested", "approval.declined"]);

    // Decided: a second decision either way is refused and changes nothing.
    const before = await everything();
    expect(await approveApprovalRequest(team, String(request?.id), owner.actor)).toEqual({ ok: false, code: "CONFLICT", message: "This request was already declined." });
    expect(await declineApprovalRequest(team, String(request?.id), admin.actor)).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(await everything()).toBe(before);
  });

  it("a key that has GraphQL Read / Write already (say, approved before) keeps it without a new request", async () => {
    const { key } = await newKey(owner, scopes("read_write"));
    const changed = unwrap(await updateApiKeyScopes(team, key.id, scopes("read_write", "read"), member.actor));
    expect([changed.scopes.graphql, changed.pendingApproval]).toEqual(["read_write", undefined]);
    expect(await requestRows(key.id)).toHaveLength(0);
  });

  it("approving after an owner raised the key to Read / Write meanwhile changes no scope, and closes the request", async () => {
    const { key } = await newKey(member, scopes("none"));
    unwrap(await updateApiKeyScopes(team, key.id, scopes("read_write"), member.actor));
    const [request] = await requestRows(key.id);
    unwrap(await updateApiKeyScopes(team, key.id, scopes("read_write"), owner.actor));
    const [approved, entries] = await audited(() => approveApprovalRequest(team, String(request?.id), admin.actor));
    expect(approved.ok).toBe(true);
    expect(entries.map((entry) => entry.action)).toEqual(["approval.approved"]);
    expect((await requestRows(key.id))[0]?.status).toBe("approved");
  });
});

describe("a Member's elevation of GraphQL to Read / Write", () => {
  it("starts nothing, waits with its duration and reason; approval starts it then, for that long", async () => {
    const { key, plaintext } = await newKey(member, scopes("read"));
    const asked = Date.now();
    const [elevated, entries] = await audited(() => elevateApiKey(team, key.id, { target: { resource: "graphql" }, level: "read_write", duration: "1h", reason: "INC-7 hotfix" }, member.actor));
    expect(unwrap(elevated)).toMatchObject({ pendingApproval: true, elevations: [] });
    expect(await countRows("api_key_elevations", "key_id = ?", [key.id])).toBe(0);
    const [request] = await requestRows(key.id);
    expect(request).toMatchObject({ kind: "elevated", status: "pending", details: JSON.stringify({ duration: "1h", reason: "INC-7 hotfix" }) });
    expect(entries.map((entry) => [entry.action, entry.details])).toEqual([
      ["approval.requested", { requestId: request?.id, kind: "elevated", resource: "graphql", level: "read_write", duration: "1h", reason: "INC-7 hotfix" }],
    ]);
    expect(await verifyGraphql(plaintext, "read_write")).toBe("INSUFFICIENT_SCOPE");
    expect((await listPendingApprovals(team, { keyId: key.id }))[0]).toMatchObject({ kind: "elevated", duration: "1h", reason: "INC-7 hotfix" });

    const decidedAt = new Date(Math.max(Date.now(), asked + 1));
    const [approved, decision] = await audited(() => approveApprovalRequest(team, String(request?.id), owner.actor, decidedAt));
    expect(approved.ok).toBe(true);
    const [elevation] = await rawRows("SELECT * FROM api_key_elevations WHERE key_id = ?", [key.id]);
    expect(elevation).toMatchObject({ target: "graphql", level: "read_write", reason: "INC-7 hotfix", created_at: decidedAt.getTime(), ends_at: decidedAt.getTime() + HOUR, ended_at: null });
    expect(decision.map((entry) => [entry.action, entry.actorUserId])).toEqual([
      ["api_key.elevated", owner.userId],
      ["approval.approved", owner.userId],
    ]);
    expect(decision[1]?.details).toEqual({
      requestId: request?.id,
      kind: "elevated",
      resource: "graphql",
      level: "read_write",
      duration: "1h",
      reason: "INC-7 hotfix",
      requestedBy: expect.stringContaining("@"),
      endsAt: decidedAt.getTime() + HOUR,
    });
    expect(await graphqlLevel(key.id)).toBe("read");
    expect(await verifyGraphql(plaintext, "read_write")).toBe("VALID");
    expect(await podCreate(plaintext)).toEqual([200, null]);
    expect((await eventsFor(key.id)).map((row) => row.event)).toEqual(["key.created", "approval.requested", "key.elevation_started", "approval.approved"]);
  });

  it("an elevation that can no longer start (another GraphQL elevation in force) is refused with the request still pending, and can be declined", async () => {
    const { key } = await newKey(member, scopes("none"));
    unwrap(await elevateApiKey(team, key.id, { target: { resource: "graphql" }, level: "read_write", duration: "15m", reason: "later" }, member.actor));
    const [request] = await requestRows(key.id);
    unwrap(await elevateApiKey(team, key.id, { target: { resource: "graphql" }, level: "read", duration: "1h", reason: "look" }, member.actor));
    const before = await everything();
    expect(await approveApprovalRequest(team, String(request?.id), admin.actor)).toMatchObject({ ok: false, code: "CONFLICT", message: expect.stringMatching(/Decline/) });
    expect(await everything()).toBe(before);
    expect((await declineApprovalRequest(team, String(request?.id), admin.actor)).ok).toBe(true);
  });

  it.each([
    ["GraphQL Read", { resource: "graphql" }, "read"],
    ["All endpoints Read / Write", { resource: "endpoints" }, "read_write"],
  ] as const)("needs no approval: %s", async (_label, target, level) => {
    const { key } = await newKey(member, scopes("none"));
    const elevated = unwrap(await elevateApiKey(team, key.id, { target, level, duration: "15m", reason: "routine" }, member.actor));
    expect([elevated.pendingApproval, elevated.elevations.length]).toEqual([undefined, 1]);
    expect(await requestRows(key.id)).toHaveLength(0);
  });
});

describe("who may decide", () => {
  let requestId = "";
  let keyId = "";

  beforeEach(async () => {
    const created = await newKey(member, scopes("read_write"));
    keyId = created.key.id;
    requestId = String((await requestRows(keyId))[0]?.id);
  });

  it.each([
    ["the requesting Member themselves", () => member.actor, "Only owners and admins can approve or decline requests."],
    ["another Member", () => member2.actor, "Only owners and admins can approve or decline requests."],
    ["a Viewer", () => viewer.actor, "Only owners and admins can approve or decline requests."],
    ["the owner of another team", () => otherOwner.actor, "Only owners and admins can approve or decline requests."],
    ["an actor naming no user", () => ({ type: "dashboard" }) as AuditActor, "Only owners and admins can approve or decline requests."],
  ])("%s: refused either way, nothing changed", async (_label, actor, message) => {
    const before = await everything();
    expect(await approveApprovalRequest(team, requestId, actor())).toEqual({ ok: false, code: "BAD_REQUEST", message });
    expect(await declineApprovalRequest(team, requestId, actor())).toEqual({ ok: false, code: "BAD_REQUEST", message });
    expect(await everything()).toBe(before);
  });

  it("a requester promoted to Admin since cannot approve their own request (but another admin can)", async () => {
    await rawRows("UPDATE memberships SET role = 'admin' WHERE account_id = ? AND user_id = ?", [team, member.userId]);
    try {
      const before = await everything();
      expect(await approveApprovalRequest(team, requestId, member.actor)).toEqual({
        ok: false,
        code: "BAD_REQUEST",
        message: "You can't approve your own request: another owner or admin must.",
      });
      expect(await everything()).toBe(before);
      expect((await approveApprovalRequest(team, requestId, admin.actor)).ok).toBe(true);
    } finally {
      await rawRows("UPDATE memberships SET role = 'member' WHERE account_id = ? AND user_id = ?", [team, member.userId]);
    }
  });

  it("another team's owner deciding in their own team finds nothing; so does an unknown id", async () => {
    const before = await everything();
    for (const id of [requestId, "apr_unknown"]) {
      expect(await approveApprovalRequest(other, id, otherOwner.actor)).toEqual({ ok: false, code: "NOT_FOUND", message: "Approval request not found." });
      expect(await declineApprovalRequest(other, id, otherOwner.actor)).toEqual({ ok: false, code: "NOT_FOUND", message: "Approval request not found." });
    }
    expect(await everything()).toBe(before);
  });

  it("deleting the key removes its request: it is no longer listed, and deciding it finds nothing", async () => {
    unwrap(await deleteApiKey(team, keyId, member.actor));
    expect(await countRows("approval_requests", "id = ?", [requestId])).toBe(0);
    expect((await listPendingApprovals(team)).map((r) => r.id)).not.toContain(requestId);
    expect(await approveApprovalRequest(team, requestId, owner.actor)).toMatchObject({ ok: false, code: "NOT_FOUND" });
  });

  it("a request decided between the read and the write (another decider first) is refused, and writes nothing more", async () => {
    // The other decision lands just before this one's batch.
    const db = await getDb();
    const client = db.$client;
    const batch = client.batch.bind(client);
    const spy = vi.spyOn(client, "batch").mockImplementationOnce(async (statements, mode) => {
      await client.execute({ sql: "UPDATE approval_requests SET status = 'declined', decided_by = ?, decided_at = ? WHERE id = ?", args: [admin.userId, Date.now(), requestId] });
      return batch(statements, mode);
    });
    try {
      const entries = await countRows("audit_log", "account_id = ?", [team]);
      expect(await approveApprovalRequest(team, requestId, owner.actor)).toMatchObject({ ok: false, code: "CONFLICT" });
      expect(await countRows("audit_log", "account_id = ?", [team])).toBe(entries);
      expect(await graphqlLevel(keyId)).toBe("none");
    } finally {
      spy.mockRestore();
    }
  });
});

describe("the audit log reads every entry written here", () => {
  it("lists requests and both outcomes as what they are (none as an entry this version cannot read)", async () => {
    const { entries } = await listAuditLog(team, { page: 1, pageSize: 200 });
    const actions = new Set(entries.map((entry) => entry.action));
    for (const action of ["approval.requested", "approval.approved", "approval.declined", "policies.changed"]) expect(actions).toContain(action);
    expect(actions).not.toContain("unknown");
  });
});
