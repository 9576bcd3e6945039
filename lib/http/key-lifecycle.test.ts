import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, importLegacyApiKeys } from "@/lib/dal/api-keys";
import { createEndpoint, renameEndpoint } from "@/lib/dal/endpoints";
import { elevateApiKey, endElevation, expirePreviousKey, recordLifecycleEnds, rollApiKey, setApiKeyExpiration } from "@/lib/dal/key-lifecycle";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { getDataPlane } from "@/lib/server/data-plane";
import { handleEndpointApi } from "./endpoint-api";
import { handleGraphqlRequest } from "./graphql/handler";
import { handleVerifyApi } from "./verify-api";

// SPEC §8 through the real routes, the real DAL and this process's decision cache: every
// time-bound rule holds to the millisecond of the clock, with nothing run at the boundary, and
// every dashboard change applies from the next request on. Only `Date` is faked: timers run.
vi.hoisted(() => {
  process.env.ECHO_WORKER_DELAY_MS = "0";
  process.env.LAST_USED_FLUSH_MS = "60000";
});

const T0 = Date.UTC(2027, 0, 4, 9, 0, 0);
const HOUR = 3_600_000;
const DASHBOARD = { type: "dashboard" } as const;

afterAll(async () => {
  vi.useRealTimers();
  await removeTestDatabase();
});

afterEach(() => {
  vi.setSystemTime(T0);
});

let account = "";
let endpoint = "";

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  const created = await createAccount(uniqueEmail("lifecycle-http"), "password-lifecycle-1");
  if (!created.ok) throw new Error("setup: account");
  account = created.value.id;
  const ep = await createEndpoint(account, "alpha", DASHBOARD);
  if (!ep.ok) throw new Error("setup: endpoint");
  endpoint = ep.value.id;
});

async function newKey(scopes: { graphql?: AccessLevel; endpointsAll?: AccessLevel }, expiresAt: Date | null = null) {
  const result = await createScopedApiKey(
    account,
    { name: `key-${Math.random().toString(36).slice(2, 8)}`, scopes: { graphql: "none", endpointsAll: "none", endpoints: {}, ...scopes }, expiresAt },
    DASHBOARD,
  );
  if (!result.ok) throw new Error(`setup: key ${result.message}`);
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

type Reply = { status: number; json: { error?: { code: string; message: string; required?: unknown; granted?: unknown } } & Record<string, unknown>; headers: Headers };

async function reply(response: Response): Promise<Reply> {
  return { status: response.status, json: JSON.parse(await response.text()) as Reply["json"], headers: response.headers };
}

const health = async (key: string) =>
  reply(await handleEndpointApi(new Request(`http://test/v2/${endpoint}/health`, { headers: { authorization: `Bearer ${key}` } })));
const run = async (key: string) =>
  reply(
    await handleEndpointApi(
      new Request(`http://test/v2/${endpoint}/run`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: '{"input":1}' }),
    ),
  );
const graphql = async (key: string, query: string) =>
  reply(
    await handleGraphqlRequest(
      new Request("http://test/graphql", { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ query }) }),
    ),
  );
const verify = async (key: string) =>
  reply(
    await handleVerifyApi(
      new Request("http://test/api/v1/keys/verify", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key, resource: "endpoint", endpointId: endpoint, access: "read" }),
      }),
    ),
  );
const codeOf = (r: Reply) => r.json.error?.code ?? (r.status === 200 ? "OK" : `HTTP ${r.status}`);

describe("expiry (KEY_EXPIRED from the expiry on, on every route)", () => {
  it("is allowed one millisecond before, refused from the expiry on, by the endpoint API, GraphQL and the verify API", async () => {
    const key = await newKey({ graphql: "read", endpointsAll: "read" }, new Date(T0 + 1000));
    expect(codeOf(await health(key.plaintext))).toBe("OK"); // the decision is now cached
    vi.setSystemTime(T0 + 999);
    expect(codeOf(await health(key.plaintext))).toBe("OK");
    expect((await verify(key.plaintext)).json).toMatchObject({ valid: true, code: "VALID" });
    vi.setSystemTime(T0 + 1000);
    const refused = await health(key.plaintext);
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ error: { code: "KEY_EXPIRED", message: "This API key has expired." } });
    expect(refused.headers.get("www-authenticate")).toBe("Bearer");
    expect(codeOf(await graphql(key.plaintext, "{ myself { id } }"))).toBe("KEY_EXPIRED");
    expect((await verify(key.plaintext)).json).toEqual({ valid: false, code: "KEY_EXPIRED" });
  });

  it("a changed expiration applies from the next request on", async () => {
    const key = await newKey({ endpointsAll: "read" }, new Date(T0 + 1000));
    vi.setSystemTime(T0 + 2000);
    expect(codeOf(await health(key.plaintext))).toBe("KEY_EXPIRED");
    const later = await setApiKeyExpiration(account, key.id, new Date(T0 + HOUR), DASHBOARD, new Date(T0 + 2000));
    expect(later.ok).toBe(true);
    expect(codeOf(await health(key.plaintext))).toBe("OK");
    await setApiKeyExpiration(account, key.id, null, DASHBOARD, new Date(T0 + 2000));
    vi.setSystemTime(T0 + 1000 * HOUR);
    expect(codeOf(await health(key.plaintext))).toBe("OK");
  });
});

describe("rolling", () => {
  it("`Expire now`: the old secret is unknown at once, the new one has the same access", async () => {
    const key = await newKey({ endpointsAll: "read" });
    expect(codeOf(await health(key.plaintext))).toBe("OK");
    const rolled = await rollApiKey(account, key.id, "now", DASHBOARD, new Date(T0));
    if (!rolled.ok) throw new Error(rolled.message);
    expect(rolled.value.key.id).toBe(key.id);
    expect(codeOf(await health(key.plaintext))).toBe("UNAUTHENTICATED");
    expect(codeOf(await health(rolled.value.plaintext))).toBe("OK");
    expect(codeOf(await run(rolled.value.plaintext))).toBe("INSUFFICIENT_SCOPE");
  });

  it("`1 hour`: both verify until one millisecond before the end; `Expire previous key now` ends it at once", async () => {
    const key = await newKey({ endpointsAll: "read" });
    const rolled = await rollApiKey(account, key.id, "1h", DASHBOARD, new Date(T0));
    if (!rolled.ok) throw new Error(rolled.message);
    const fresh = rolled.value.plaintext;
    expect([codeOf(await health(key.plaintext)), codeOf(await health(fresh))]).toEqual(["OK", "OK"]);
    vi.setSystemTime(T0 + HOUR - 1);
    expect([codeOf(await health(key.plaintext)), codeOf(await health(fresh))]).toEqual(["OK", "OK"]);
    vi.setSystemTime(T0 + HOUR);
    expect([codeOf(await health(key.plaintext)), codeOf(await health(fresh))]).toEqual(["UNAUTHENTICATED", "OK"]);

    const again = await newKey({ endpointsAll: "read" });
    const second = await rollApiKey(account, again.id, "7d", DASHBOARD, new Date(T0 + HOUR));
    if (!second.ok) throw new Error(second.message);
    expect(codeOf(await health(again.plaintext))).toBe("OK");
    expect((await expirePreviousKey(account, again.id, DASHBOARD, new Date(T0 + HOUR))).ok).toBe(true);
    expect(codeOf(await health(again.plaintext))).toBe("UNAUTHENTICATED");
    expect(codeOf(await health(second.value.plaintext))).toBe("OK");
  });

  it("rolling again ends the earlier grace period at once", async () => {
    const key = await newKey({ endpointsAll: "read" });
    const first = await rollApiKey(account, key.id, "24h", DASHBOARD, new Date(T0));
    if (!first.ok) throw new Error(first.message);
    const second = await rollApiKey(account, key.id, "24h", DASHBOARD, new Date(T0));
    if (!second.ok) throw new Error(second.message);
    expect(codeOf(await health(key.plaintext))).toBe("UNAUTHENTICATED");
    expect(codeOf(await health(first.value.plaintext))).toBe("OK");
    expect(codeOf(await health(second.value.plaintext))).toBe("OK");
  });

  it("`Until the new key is first used`: the old secret works until the new one's first allowed use, then not", async () => {
    const key = await newKey({ endpointsAll: "read" });
    const rolled = await rollApiKey(account, key.id, "first_use", DASHBOARD, new Date(T0));
    if (!rolled.ok) throw new Error(rolled.message);
    expect(codeOf(await health(key.plaintext))).toBe("OK");
    expect(codeOf(await health(key.plaintext))).toBe("OK");
    expect(codeOf(await run(rolled.value.plaintext))).toBe("INSUFFICIENT_SCOPE"); // refused: not a use
    expect(codeOf(await health(key.plaintext))).toBe("OK");
    expect(codeOf(await health(rolled.value.plaintext))).toBe("OK");
    // The end is written off the request path; from its commit on the old secret is unknown.
    await expect.poll(async () => codeOf(await health(key.plaintext)), { timeout: 5000 }).toBe("UNAUTHENTICATED");
    expect(codeOf(await health(rolled.value.plaintext))).toBe("OK");
    const entries = await rawRows("SELECT action, created_at, details, actor FROM audit_log WHERE target_id = ? ORDER BY id", [key.id]);
    expect(entries.map((entry) => entry.action)).toEqual(["api_key.created", "api_key.rolled", "api_key.previous_expired"]);
    expect(JSON.parse(String(entries[2]!.details))).toEqual({ validUntil: T0, cause: "first_use" });
    expect(JSON.parse(String(entries[2]!.actor))).toEqual({ type: "system" });
  });

  it("rolling a legacy key makes it a scoped key with the same access; the legacy secret keeps its grace period", async () => {
    const legacy = Array.from({ length: 32 }, (_, i) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(i * 7 + 3) % 36]).join("");
    const imported = await importLegacyApiKeys(account, [{ line: 1, name: "old", permission: "read_write", keyHash: hashKey(legacy), hint: formatDisplayHint(legacy, "legacy") }], DASHBOARD);
    if (!imported.ok) throw new Error(imported.message);
    const id = imported.value.ids[0]!;
    const rolled = await rollApiKey(account, id, "1h", DASHBOARD, new Date(T0));
    if (!rolled.ok) throw new Error(rolled.message);
    expect(rolled.value.key.kind).toBe("scoped");
    expect(rolled.value.plaintext).toMatch(/^rpa_/);
    expect(rolled.value.key.scopes).toEqual({ graphql: "read_write", endpointsAll: "read_write", endpoints: {} });
    expect(codeOf(await run(rolled.value.plaintext))).toBe("OK");
    expect(codeOf(await graphql(rolled.value.plaintext, 'mutation { podCreate(input: {name: "p"}) { id } }'))).toBe("OK");
    expect(codeOf(await run(legacy))).toBe("OK");
    vi.setSystemTime(T0 + HOUR);
    expect(codeOf(await run(legacy))).toBe("UNAUTHENTICATED");
  });
});

describe("time-boxed elevation", () => {
  const MUTATION = 'mutation { saveEndpoint(input: {name: "made-by-elevation"}) { id } }';

  it("raises GraphQL to Read / Write until one millisecond before its end; the key's own level from then on", async () => {
    const key = await newKey({ graphql: "read" });
    const before = await graphql(key.plaintext, MUTATION);
    expect(before.status).toBe(403);
    const elevated = await elevateApiKey(account, key.id, { target: { resource: "graphql" }, level: "read_write", duration: "15m", reason: "deploy" }, DASHBOARD, new Date(T0));
    expect(elevated.ok).toBe(true);
    expect(codeOf(await graphql(key.plaintext, MUTATION))).toBe("OK");
    vi.setSystemTime(T0 + 15 * 60_000 - 1);
    expect(codeOf(await graphql(key.plaintext, MUTATION))).toBe("OK");
    vi.setSystemTime(T0 + 15 * 60_000);
    const after = await graphql(key.plaintext, MUTATION);
    expect(after.status).toBe(403);
    expect(after.json.error).toEqual({
      code: "INSUFFICIENT_SCOPE",
      message: "This key has Read on GraphQL; this request needs Read / Write.",
      required: { resource: "graphql", access: "read_write" },
      granted: "read",
    });
    // Its end goes into the audit log once, at the time it happened.
    expect(await recordLifecycleEnds(new Date(T0 + 20 * 60_000))).toBeGreaterThanOrEqual(1);
    const ended = await rawRows("SELECT created_at, details FROM audit_log WHERE target_id = ? AND action = 'api_key.elevation_ended'", [key.id]);
    expect(ended).toHaveLength(1);
    expect(Number(ended[0]!.created_at)).toBe(T0 + 15 * 60_000);
    expect(await recordLifecycleEnds(new Date(T0 + 20 * 60_000))).toBe(0);
  });

  it("`End elevation` applies from the next request on", async () => {
    const key = await newKey({ endpointsAll: "read" });
    const elevated = await elevateApiKey(account, key.id, { target: { resource: "endpoint", endpointId: endpoint }, level: "read_write", duration: "1h", reason: "backfill" }, DASHBOARD, new Date(T0));
    if (!elevated.ok) throw new Error(elevated.message);
    expect(codeOf(await run(key.plaintext))).toBe("OK");
    const elevation = elevated.value.elevations[0]!;
    expect((await endElevation(account, key.id, elevation.id, DASHBOARD, new Date(T0))).ok).toBe(true);
    const refused = await run(key.plaintext);
    expect(refused.json.error).toEqual({
      code: "INSUFFICIENT_SCOPE",
      message: 'This key has Read on endpoint "alpha"; this request needs Read / Write.',
      required: { resource: "endpoint", endpointId: endpoint, access: "read_write" },
      granted: "read",
    });
  });

  it("the 403 names the endpoint as it is named now: a rename applies from the next request on", async () => {
    const key = await newKey({ endpointsAll: "read" });
    const other = await createEndpoint(account, "before-rename", DASHBOARD);
    if (!other.ok) throw new Error("setup");
    const post = () =>
      handleEndpointApi(new Request(`http://test/v2/${other.value.id}/purge-queue`, { method: "POST", headers: { authorization: `Bearer ${key.plaintext}` } }));
    expect((await reply(await post())).json.error?.message).toContain('endpoint "before-rename"');
    expect((await renameEndpoint(account, other.value.id, "after-rename", DASHBOARD)).ok).toBe(true);
    expect((await reply(await post())).json.error?.message).toContain('endpoint "after-rename"');
  });
});

describe("the decision cache stays correct", () => {
  it("served the checks above from the cache (the time rules do not bypass it)", async () => {
    const stats = (await getDataPlane()).keyStore.cacheStats;
    expect(stats).not.toBeNull();
    expect(stats!.hits).toBeGreaterThan(0);
  });
});
