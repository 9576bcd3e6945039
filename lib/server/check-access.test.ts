import { rawRows, removeTestDatabase } from "@/testing/test-database";
import { twoAccountsWithEndpoints } from "@/testing/two-accounts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/handle";
import { createScopedApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { rollApiKey } from "@/lib/dal/key-lifecycle";
import type { AccessLevel, RequiredLevel } from "@/lib/core/scopes/levels";
import { handleEndpointApi } from "@/lib/http/endpoint-api";
import { CLIENT_ADDRESS_HEADER } from "@/lib/http/front-door";
import { handleGraphqlRequest } from "@/lib/http/graphql/handler";
import { handleVerifyApi } from "@/lib/http/verify-api";
import { checkKeyAccess, type AccessCheck } from "./check-access";
import { getDataPlane } from "./data-plane";

// SPEC §10 "Check access": the answer of the one decision function, with no side effect — no
// last-used date, usage count, rate-limit count (in this process or in the shared bookkeeping)
// or grace-period end. Compared with what the real routes decide, on the same keys. Only `Date`
// is faked, so that every request falls in one rate-limit window.
vi.hoisted(() => {
  process.env.LAST_USED_FLUSH_MS = "60000";
  process.env.ECHO_WORKER_DELAY_MS = "0";
  process.env.RATE_LIMIT_SYNC_MS = "20";
});

const T0 = Date.UTC(2027, 0, 4, 9, 10, 0);
const DASHBOARD = { type: "dashboard" } as const;
const INSIDE = "10.1.2.3";
const OUTSIDE = "192.168.0.1";

let account = "";
let other = "";
let endpoint = "";
let othersEndpoint = "";
let othersKey = "";

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  ({ account, other, endpoint, othersEndpoint } = await twoAccountsWithEndpoints("check"));
  const foreign = await createScopedApiKey(other, { name: "theirs", scopes: { graphql: "read_write", endpointsAll: "read_write", endpoints: {} } }, DASHBOARD);
  if (!foreign.ok) throw new Error("setup");
  othersKey = foreign.value.key.id;
});

afterAll(async () => {
  vi.useRealTimers();
  await removeTestDatabase();
});

type Restrictions = { allowedIps?: string[]; rateLimit?: [number, "second" | "minute" | "hour"]; expiresAt?: number };

async function newKey(scopes: { graphql?: AccessLevel; endpointsAll?: AccessLevel }, restrictions: Restrictions = {}) {
  const result = await createScopedApiKey(account, { name: "checked", scopes: { graphql: "none", endpointsAll: "none", endpoints: {}, ...scopes } }, DASHBOARD);
  if (!result.ok) throw new Error(result.message);
  await (await getDb()).$client.execute({
    sql: "UPDATE api_keys SET allowed_ips = ?, rate_limit = ?, rate_limit_per = ?, expires_at = ? WHERE id = ?",
    args: [
      restrictions.allowedIps ? JSON.stringify(restrictions.allowedIps) : null,
      restrictions.rateLimit?.[0] ?? null,
      restrictions.rateLimit?.[1] ?? null,
      restrictions.expiresAt ?? null,
      result.value.key.id,
    ],
  });
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

type Reply = { code: string; remaining: string | null };

async function reply(response: Response): Promise<Reply> {
  const json = JSON.parse(await response.text()) as { error?: { code: string }; valid?: boolean; code?: string };
  const code = json.error?.code ?? (json.valid === undefined ? (response.status === 200 ? "VALID" : String(response.status)) : json.code!);
  return { code, remaining: response.headers.get("ratelimit-remaining") };
}

const headersFor = (key: string, address: string | null) => {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  if (address !== null) headers[CLIENT_ADDRESS_HEADER] = address;
  return headers;
};

type Check = { resource: "graphql" | { endpointId: string }; access: RequiredLevel; ip: string | null };

/** What the real route decides for the same check: the endpoint API, GraphQL, or (no address) the verify API. */
async function realRequest(key: string, check: Check): Promise<Reply> {
  if (check.ip === null) {
    const target = check.resource === "graphql" ? { resource: "graphql" } : { resource: "endpoint", endpointId: check.resource.endpointId };
    return reply(
      await handleVerifyApi(
        new Request("http://test/api/v1/keys/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key, ...target, access: check.access }) }),
      ),
    );
  }
  if (check.resource === "graphql") {
    const query = check.access === "read" ? "{ myself { id } }" : 'mutation { saveEndpoint(input: {name: "checked"}) { id } }';
    return reply(await handleGraphqlRequest(new Request("http://test/graphql", { method: "POST", headers: headersFor(key, check.ip), body: JSON.stringify({ query }) })));
  }
  const path = check.access === "read" ? "health" : "purge-queue";
  return reply(
    await handleEndpointApi(new Request(`http://test/v2/${check.resource.endpointId}/${path}`, { method: check.access === "read" ? "GET" : "POST", headers: headersFor(key, check.ip) })),
  );
}

const codeOf = (answer: AccessCheck | null) => (answer === null ? null : answer.allowed ? "VALID" : answer.code);

describe("the answer is the real decision's", () => {
  const checks = (): [string, Check][] => [
    ["endpoint read, inside", { resource: { endpointId: endpoint }, access: "read", ip: INSIDE }],
    ["endpoint read / write, inside", { resource: { endpointId: endpoint }, access: "read_write", ip: INSIDE }],
    ["endpoint read, outside", { resource: { endpointId: endpoint }, access: "read", ip: OUTSIDE }],
    ["endpoint read, no address", { resource: { endpointId: endpoint }, access: "read", ip: null }],
    ["another account's endpoint", { resource: { endpointId: othersEndpoint }, access: "read", ip: INSIDE }],
    ["a made-up endpoint", { resource: { endpointId: "ep_made_up" }, access: "read", ip: INSIDE }],
    ["GraphQL read", { resource: "graphql", access: "read", ip: INSIDE }],
    ["GraphQL read / write", { resource: "graphql", access: "read_write", ip: INSIDE }],
  ];

  it.each<[string, { graphql?: AccessLevel; endpointsAll?: AccessLevel }, Restrictions, boolean, string[]]>([
    [
      "a key with an allowlist",
      { graphql: "read", endpointsAll: "read" },
      { allowedIps: ["10.0.0.0/8"] },
      false,
      ["VALID", "INSUFFICIENT_SCOPE", "IP_NOT_ALLOWED", "IP_NOT_ALLOWED", "NOT_FOUND", "NOT_FOUND", "VALID", "INSUFFICIENT_SCOPE"],
    ],
    [
      "a key without one",
      { graphql: "read_write", endpointsAll: "read" },
      {},
      false,
      ["VALID", "INSUFFICIENT_SCOPE", "VALID", "VALID", "NOT_FOUND", "NOT_FOUND", "VALID", "VALID"],
    ],
    ["a disabled key", { graphql: "read", endpointsAll: "read" }, { allowedIps: ["10.0.0.0/8"] }, true, Array(8).fill("KEY_DISABLED")],
    ["an expired key", { graphql: "read", endpointsAll: "read" }, { expiresAt: T0 - 1, allowedIps: ["10.0.0.0/8"] }, false, Array(8).fill("KEY_EXPIRED")],
  ])("%s", async (_label, scopes, restrictions, disabled, expected) => {
    const key = await newKey(scopes, restrictions);
    if (disabled) expect((await setApiKeyEnabled(account, key.id, false, DASHBOARD)).ok).toBe(true);
    const answered: (string | null)[] = [];
    const decided: string[] = [];
    for (const [, check] of checks()) {
      const answer = await checkKeyAccess(account, key.id, check);
      answered.push(codeOf(answer));
      if (answer && !answer.allowed) expect(answer.reason).not.toBe("");
      decided.push((await realRequest(key.plaintext, check)).code);
    }
    expect(decided).toEqual(expected);
    expect(answered).toEqual(decided);
  });

  it("RATE_LIMITED once the real requests have used the limit up", async () => {
    const key = await newKey({ endpointsAll: "read" }, { rateLimit: [2, "hour"] });
    const check: Check = { resource: { endpointId: endpoint }, access: "read", ip: INSIDE };
    expect(codeOf(await checkKeyAccess(account, key.id, check))).toBe("VALID");
    expect((await realRequest(key.plaintext, check)).code).toBe("VALID");
    expect((await realRequest(key.plaintext, check)).code).toBe("VALID");
    expect(codeOf(await checkKeyAccess(account, key.id, check))).toBe("RATE_LIMITED");
    expect((await realRequest(key.plaintext, check)).code).toBe("RATE_LIMITED");
  });

  it("another account's key, or no key at all: null", async () => {
    const check: Check = { resource: "graphql", access: "read", ip: INSIDE };
    expect(await checkKeyAccess(account, othersKey, check)).toBeNull();
    expect(await checkKeyAccess(account, "key_does_not_exist", check)).toBeNull();
    expect(codeOf(await checkKeyAccess(other, othersKey, check))).toBe("VALID");
  });
});

describe("touches nothing", () => {
  /** Every byte a check could change: the key's row, its usage rows, the shared rate-limit bookkeeping. */
  async function state(keyId: string) {
    return {
      key: await rawRows("SELECT * FROM api_keys WHERE id = ?", [keyId]),
      hourly: await rawRows("SELECT * FROM api_key_usage_hourly WHERE key_id = ? ORDER BY bucket, resource, via, access, code", [keyId]),
      daily: await rawRows("SELECT * FROM api_key_usage_daily WHERE key_id = ? ORDER BY bucket, resource, via, access, code", [keyId]),
      shares: await rawRows("SELECT * FROM rate_limit_shares WHERE key_id = ? ORDER BY window_start, process_id", [keyId]),
    };
  }

  /** Waits until this process's rate-limit sync has run at `at` or later (the clock is moved on to make that visible). */
  async function syncedAfter(at: number) {
    vi.setSystemTime(at);
    await vi.waitFor(
      async () => {
        const [row] = await rawRows("SELECT max(seen_at) AS at FROM data_plane_processes");
        expect(Number(row!.at)).toBeGreaterThanOrEqual(at);
      },
      { timeout: 5_000, interval: 10 },
    );
  }

  it("no last-used date, usage count, rate-limit count or shared share changes, however many checks", async () => {
    const plane = await getDataPlane();
    const key = await newKey({ graphql: "read", endpointsAll: "read" }, { rateLimit: [10, "hour"], allowedIps: ["10.0.0.0/8"] });
    const allowed: Check = { resource: { endpointId: endpoint }, access: "read", ip: INSIDE };
    // A real request first: the key has a last used date, usage rows, a window counted here and shared.
    expect(await realRequest(key.plaintext, allowed)).toEqual({ code: "VALID", remaining: "9" });
    await plane.usage.flush();
    await syncedAfter(T0 + 1);
    await syncedAfter(T0 + 2); // twice: the shares have settled
    const before = await state(key.id);
    expect(before.key[0]!.last_used_at).toBe(T0);
    expect(before.hourly).toHaveLength(1);
    expect(before.shares.length).toBeGreaterThan(0);
    const decisions = plane.usage.stats.decisions;
    const recordDecision = vi.spyOn(plane.keyStore, "recordDecision");
    const rateLimit = vi.spyOn(plane.keyStore, "rateLimit");

    const checks: Check[] = [
      allowed,
      { resource: { endpointId: endpoint }, access: "read_write", ip: INSIDE },
      { resource: { endpointId: endpoint }, access: "read", ip: OUTSIDE },
      { resource: { endpointId: endpoint }, access: "read", ip: null },
      { resource: { endpointId: othersEndpoint }, access: "read", ip: INSIDE },
      { resource: "graphql", access: "read", ip: INSIDE },
    ];
    vi.setSystemTime(T0 + 10_000);
    for (let round = 0; round < 20; round++) for (const check of checks) await checkKeyAccess(account, key.id, check);
    expect(codeOf(await checkKeyAccess(account, key.id, allowed))).toBe("VALID");
    expect(recordDecision).not.toHaveBeenCalled();
    expect(rateLimit.mock.calls.every(([, , , mode]) => mode === "inspect")).toBe(true);
    recordDecision.mockRestore();
    rateLimit.mockRestore();

    expect(plane.usage.stats.decisions).toBe(decisions);
    await plane.usage.flush();
    await syncedAfter(T0 + 10_001);
    await syncedAfter(T0 + 10_002);
    expect(await state(key.id)).toEqual(before);
    // The next real request finds the limit where the first one left it.
    expect(await realRequest(key.plaintext, allowed)).toEqual({ code: "VALID", remaining: "8" });
    vi.setSystemTime(T0);
  });

  it("a key never used here: checking it starts no window, so nothing is shared for it", async () => {
    const plane = await getDataPlane();
    const key = await newKey({ endpointsAll: "read" }, { rateLimit: [3, "hour"] });
    for (let i = 0; i < 10; i++) await checkKeyAccess(account, key.id, { resource: { endpointId: endpoint }, access: "read", ip: INSIDE });
    await plane.usage.flush();
    await syncedAfter(T0 + 20_000);
    await syncedAfter(T0 + 20_001);
    expect(await state(key.id)).toMatchObject({ hourly: [], daily: [], shares: [] });
    expect((await state(key.id)).key[0]!.last_used_at).toBeNull();
    expect(await realRequest(key.plaintext, { resource: { endpointId: endpoint }, access: "read", ip: INSIDE })).toEqual({ code: "VALID", remaining: "2" });
    vi.setSystemTime(T0);
  });

  it("a key rolled `Until the new key is first used` keeps its previous secret valid after allowed checks", async () => {
    const plane = await getDataPlane();
    const key = await newKey({ graphql: "read", endpointsAll: "read" });
    const rolled = await rollApiKey(account, key.id, "first_use", DASHBOARD);
    if (!rolled.ok) throw new Error(rolled.message);
    const endGrace = vi.spyOn(plane.keyStore, "endGraceOnFirstUse");
    const before = await state(key.id);
    expect(before.key[0]!.previous_until_first_use).toBe(1);
    for (let i = 0; i < 10; i++) expect(codeOf(await checkKeyAccess(account, key.id, { resource: "graphql", access: "read", ip: INSIDE }))).toBe("VALID");
    expect(endGrace).not.toHaveBeenCalled();
    endGrace.mockRestore();
    await plane.usage.flush();
    expect(await state(key.id)).toEqual(before);
    // The old secret still verifies (a real decision with it does not end the grace period either)...
    expect((await realRequest(key.plaintext, { resource: "graphql", access: "read", ip: INSIDE })).code).toBe("VALID");
    // ...and the new secret's first real use does end it: what the checks above would have done.
    expect((await realRequest(rolled.value.plaintext, { resource: "graphql", access: "read", ip: INSIDE })).code).toBe("VALID");
    await vi.waitFor(async () => expect((await state(key.id)).key[0]!.previous_key_hash).toBeNull(), { timeout: 5_000, interval: 10 });
    expect((await realRequest(key.plaintext, { resource: "graphql", access: "read", ip: INSIDE })).code).toBe("UNAUTHENTICATED");
  });
});
