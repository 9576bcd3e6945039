import { rawRows, removeTestDatabase } from "@/testing/test-database";
import { twoAccountsWithEndpoints } from "@/testing/two-accounts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/handle";
import { createScopedApiKey, deleteApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { generateScopedKey } from "@/lib/core/keys/generate";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { dayOf, hourOf } from "@/lib/core/usage/tally";
import { getDataPlane } from "@/lib/server/data-plane";
import { handleEndpointApi } from "./endpoint-api";
import { CLIENT_ADDRESS_HEADER } from "./front-door";
import { handleGraphqlRequest } from "./graphql/handler";
import { handleVerifyApi } from "./verify-api";

// SPEC §10 "Counting" on the request path, through the real routes, DAL, decision cache and
// usage recorder: every decision about a known key is counted once, under the resource, way in,
// access and code it had; nothing is attributed for keys that are not known. The tests flush the
// recorder themselves; only `Date` is faked, so that every request falls in one hour.
vi.hoisted(() => {
  process.env.LAST_USED_FLUSH_MS = "60000";
  process.env.ECHO_WORKER_DELAY_MS = "0";
});

const T0 = Date.UTC(2027, 0, 4, 9, 10, 0);
const DASHBOARD = { type: "dashboard" } as const;

let account = "";
let endpoint = "";
let othersEndpoint = "";
const MADE_UP_ENDPOINT = "ep_made_up_by_the_caller";

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  ({ account, endpoint, othersEndpoint } = await twoAccountsWithEndpoints("count"));
});

afterAll(async () => {
  vi.useRealTimers();
  await removeTestDatabase();
});

type Restrictions = { allowedIps?: string[]; rateLimit?: [number, "second" | "minute" | "hour"]; expiresAt?: number };

async function newKey(scopes: { graphql?: AccessLevel; endpointsAll?: AccessLevel }, restrictions: Restrictions = {}) {
  const result = await createScopedApiKey(account, { name: "counted", scopes: { graphql: "none", endpointsAll: "none", endpoints: {}, ...scopes } }, DASHBOARD);
  if (!result.ok) throw new Error(result.message);
  if (restrictions.allowedIps || restrictions.rateLimit || restrictions.expiresAt) {
    // Straight to the row, in one committed write (the dashboard's forms have their own tests).
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
  }
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

const headersFor = (key: string | null, address: string | null = "10.1.2.3") => {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (address !== null) headers[CLIENT_ADDRESS_HEADER] = address;
  return headers;
};

/** The error code of an answer, or "OK". */
async function codeOf(response: Response): Promise<string> {
  const json = JSON.parse(await response.text()) as { error?: { code: string }; errors?: { extensions?: { code?: string } }[]; code?: string; valid?: boolean };
  if (json.error) return json.error.code;
  if (json.valid !== undefined) return json.code!;
  return response.status === 200 ? "OK" : String(response.status);
}

const health = async (key: string | null, ep = endpoint, address: string | null = "10.1.2.3") =>
  codeOf(await handleEndpointApi(new Request(`http://test/v2/${ep}/health`, { headers: headersFor(key, address) })));
const run = async (key: string) =>
  codeOf(await handleEndpointApi(new Request(`http://test/v2/${endpoint}/run`, { method: "POST", headers: headersFor(key), body: '{"input":1}' })));
const graphql = async (key: string | null, query = "{ myself { id } }") =>
  codeOf(await handleGraphqlRequest(new Request("http://test/graphql", { method: "POST", headers: headersFor(key), body: JSON.stringify({ query }) })));
const verify = async (body: Record<string, unknown>) =>
  codeOf(await handleVerifyApi(new Request("http://test/api/v1/keys/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })));

const flush = async () => (await getDataPlane()).usage.flush();

type Counted = { resource: string; via: string; access: string; code: string; count: number };

/** The key's usage after a flush, by hour (all in T0's hour) — and the daily roll-up agrees. */
async function usageOf(keyId: string): Promise<Counted[]> {
  await flush();
  const read = async (table: string) =>
    (
      await rawRows(`SELECT account_id, bucket, resource, via, access, code, count FROM ${table} WHERE key_id = ? ORDER BY resource, via, access, code`, [keyId])
    ).map((row) => ({
      account: String(row.account_id),
      bucket: Number(row.bucket),
      counted: { resource: String(row.resource), via: String(row.via), access: String(row.access), code: String(row.code), count: Number(row.count) } as Counted,
    }));
  const hourly = await read("api_key_usage_hourly");
  const daily = await read("api_key_usage_daily");
  for (const row of hourly) expect([row.account, row.bucket]).toEqual([account, hourOf(T0)]);
  for (const row of daily) expect([row.account, row.bucket]).toEqual([account, dayOf(T0)]);
  expect(daily.map((row) => row.counted)).toEqual(hourly.map((row) => row.counted));
  return sorted(hourly.map((row) => row.counted));
}

const order = (row: Counted) => [row.resource, row.via, row.access, row.code].join("|");
const sorted = (rows: Counted[]) => [...rows].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));

/** Everything counted so far, for anyone. */
async function totalCounted(): Promise<number[]> {
  await flush();
  const [hourly] = await rawRows("SELECT coalesce(sum(count), 0) AS n FROM api_key_usage_hourly");
  const [daily] = await rawRows("SELECT coalesce(sum(count), 0) AS n FROM api_key_usage_daily");
  return [Number(hourly!.n), Number(daily!.n)];
}

describe("every decision about a known key is counted once, as what it was", () => {
  type Case = {
    label: string;
    scopes: { graphql?: AccessLevel; endpointsAll?: AccessLevel };
    restrictions?: Restrictions;
    disabled?: boolean;
    request: (key: string) => Promise<string>;
    answer: string;
    counted: Omit<Counted, "count">;
  };
  const cases: Case[] = [
    { label: "allowed", scopes: { endpointsAll: "read" }, request: (key) => health(key), answer: "OK", counted: { resource: "", via: "api", access: "read", code: "VALID" } },
    {
      label: "KEY_DISABLED",
      scopes: { endpointsAll: "read" },
      disabled: true,
      request: (key) => health(key),
      answer: "KEY_DISABLED",
      counted: { resource: "", via: "api", access: "read", code: "KEY_DISABLED" },
    },
    {
      label: "KEY_EXPIRED",
      scopes: { endpointsAll: "read_write" },
      restrictions: { expiresAt: T0 - 1 },
      request: (key) => run(key),
      answer: "KEY_EXPIRED",
      counted: { resource: "", via: "api", access: "read_write", code: "KEY_EXPIRED" },
    },
    {
      label: "IP_NOT_ALLOWED",
      scopes: { endpointsAll: "read" },
      restrictions: { allowedIps: ["10.0.0.0/8"] },
      request: (key) => health(key, endpoint, "192.168.0.1"),
      answer: "IP_NOT_ALLOWED",
      counted: { resource: "", via: "api", access: "read", code: "IP_NOT_ALLOWED" },
    },
    {
      label: "NOT_FOUND (another account's endpoint)",
      scopes: { endpointsAll: "read_write" },
      request: (key) => health(key, othersEndpoint),
      answer: "NOT_FOUND",
      counted: { resource: "unknown", via: "api", access: "read", code: "NOT_FOUND" },
    },
    {
      label: "NOT_FOUND (a made-up endpoint id)",
      scopes: { endpointsAll: "read_write" },
      request: (key) => health(key, MADE_UP_ENDPOINT),
      answer: "NOT_FOUND",
      counted: { resource: "unknown", via: "api", access: "read", code: "NOT_FOUND" },
    },
    {
      label: "INSUFFICIENT_SCOPE",
      scopes: { endpointsAll: "read" },
      request: (key) => run(key),
      answer: "INSUFFICIENT_SCOPE",
      counted: { resource: "", via: "api", access: "read_write", code: "INSUFFICIENT_SCOPE" },
    },
    {
      label: "GraphQL query, allowed",
      scopes: { graphql: "read" },
      request: (key) => graphql(key),
      answer: "OK",
      counted: { resource: "graphql", via: "api", access: "read", code: "VALID" },
    },
    {
      label: "GraphQL mutation, INSUFFICIENT_SCOPE",
      scopes: { graphql: "read" },
      request: (key) => graphql(key, 'mutation { saveEndpoint(input: {name: "counted"}) { id } }'),
      answer: "INSUFFICIENT_SCOPE",
      counted: { resource: "graphql", via: "api", access: "read_write", code: "INSUFFICIENT_SCOPE" },
    },
    {
      label: "verify API, allowed",
      scopes: { endpointsAll: "read" },
      request: (key) => verify({ key, resource: "endpoint", endpointId: endpoint, access: "read" }),
      answer: "VALID",
      counted: { resource: "", via: "verify", access: "read", code: "VALID" },
    },
    {
      label: "verify API, GraphQL INSUFFICIENT_SCOPE",
      scopes: { graphql: "read" },
      request: (key) => verify({ key, resource: "graphql", access: "read_write" }),
      answer: "INSUFFICIENT_SCOPE",
      counted: { resource: "graphql", via: "verify", access: "read_write", code: "INSUFFICIENT_SCOPE" },
    },
    {
      label: "verify API, another account's endpoint",
      scopes: { endpointsAll: "read" },
      request: (key) => verify({ key, resource: "endpoint", endpointId: othersEndpoint, access: "read" }),
      answer: "NOT_FOUND",
      counted: { resource: "unknown", via: "verify", access: "read", code: "NOT_FOUND" },
    },
    {
      label: "verify API, no address for a key with an allowlist",
      scopes: { endpointsAll: "read" },
      restrictions: { allowedIps: ["10.0.0.0/8"] },
      request: (key) => verify({ key, resource: "endpoint", endpointId: endpoint, access: "read" }),
      answer: "IP_NOT_ALLOWED",
      counted: { resource: "", via: "verify", access: "read", code: "IP_NOT_ALLOWED" },
    },
  ];

  it.each(cases)("$label", async ({ scopes, restrictions, disabled, request, answer, counted }) => {
    const key = await newKey(scopes, restrictions);
    if (disabled) expect((await setApiKeyEnabled(account, key.id, false, DASHBOARD)).ok).toBe(true);
    expect(await request(key.plaintext)).toBe(answer);
    expect(await usageOf(key.id)).toEqual([{ ...counted, resource: counted.resource === "" ? endpoint : counted.resource, count: 1 }]);
    // Once more: the same row, counted twice.
    expect(await request(key.plaintext)).toBe(answer);
    expect((await usageOf(key.id)).map((row) => row.count)).toEqual([2]);
  });

  it("RATE_LIMITED: the allowed requests and the refused ones, each under its code, across routes", async () => {
    const key = await newKey({ graphql: "read", endpointsAll: "read" }, { rateLimit: [2, "hour"] });
    const answers = [await health(key.plaintext), await graphql(key.plaintext), await health(key.plaintext), await graphql(key.plaintext)];
    answers.push(await verify({ key: key.plaintext, resource: "endpoint", endpointId: endpoint, access: "read" }));
    expect(answers).toEqual(["OK", "OK", "RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    expect(await usageOf(key.id)).toEqual(
      sorted([
        { resource: endpoint, via: "api", access: "read", code: "RATE_LIMITED", count: 1 },
        { resource: endpoint, via: "api", access: "read", code: "VALID", count: 1 },
        { resource: endpoint, via: "verify", access: "read", code: "RATE_LIMITED", count: 1 },
        { resource: "graphql", via: "api", access: "read", code: "RATE_LIMITED", count: 1 },
        { resource: "graphql", via: "api", access: "read", code: "VALID", count: 1 },
      ]),
    );
  });

  it("the requested endpoint id is never stored: not another account's, not a made-up one", async () => {
    await flush();
    const [row] = await rawRows(
      "SELECT (SELECT count(*) FROM api_key_usage_hourly WHERE resource IN (?1, ?2)) + (SELECT count(*) FROM api_key_usage_daily WHERE resource IN (?1, ?2)) AS n",
      [othersEndpoint, MADE_UP_ENDPOINT],
    );
    expect(Number(row!.n)).toBe(0);
  });

  it("the last used date follows the allowed requests only", async () => {
    const key = await newKey({ endpointsAll: "read" });
    expect(await run(key.plaintext)).toBe("INSUFFICIENT_SCOPE");
    await flush();
    const lastUsed = async () => (await rawRows("SELECT last_used_at AS at FROM api_keys WHERE id = ?", [key.id]))[0]!.at;
    expect(await lastUsed()).toBeNull();
    vi.setSystemTime(T0 + 5_000);
    expect(await health(key.plaintext)).toBe("OK");
    vi.setSystemTime(T0 + 9_000);
    expect(await run(key.plaintext)).toBe("INSUFFICIENT_SCOPE");
    await flush();
    vi.setSystemTime(T0);
    expect(Number(await lastUsed())).toBe(T0 + 5_000);
  });
});

describe("keys that are not known are attributed to nobody", () => {
  it("unknown, malformed, missing and deleted keys: counted nowhere, on every route", async () => {
    const deleted = await newKey({ graphql: "read", endpointsAll: "read" });
    expect((await deleteApiKey(account, deleted.id, DASHBOARD)).ok).toBe(true);
    const before = await totalCounted();
    const unknown = generateScopedKey(); // well formed, valid checksum, never issued
    const answers: string[] = [];
    for (const key of [unknown, "rpa_garbage", "x".repeat(200), deleted.plaintext]) {
      answers.push(await health(key), await health(key, othersEndpoint), await run(key), await graphql(key));
      answers.push(await verify({ key, resource: "endpoint", endpointId: endpoint, access: "read" }), await verify({ key, resource: "graphql", access: "read" }));
    }
    answers.push(await health(null), await graphql(null));
    expect(new Set(answers)).toEqual(new Set(["UNAUTHENTICATED"]));
    expect(await totalCounted()).toEqual(before);
  });

  it("a verify request that is not well formed decides nothing, and counts nothing", async () => {
    const key = await newKey({ endpointsAll: "read" });
    const before = await totalCounted();
    expect(await verify({ key: key.plaintext, resource: "endpoint", access: "read" })).toBe("BAD_REQUEST");
    expect(await verify({ key: key.plaintext, resource: "endpoint", endpointId: endpoint, access: "read", ip: "not-an-ip" })).toBe("BAD_REQUEST");
    expect(await totalCounted()).toEqual(before);
    expect(await usageOf(key.id)).toEqual([]);
  });
});
