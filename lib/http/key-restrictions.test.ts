import { removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/handle";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { handleEndpointApi } from "./endpoint-api";
import { CLIENT_ADDRESS_HEADER } from "./front-door";
import { handleGraphqlRequest } from "./graphql/handler";
import { handleVerifyApi } from "./verify-api";

// SPEC §9 on the request path, through the real routes, DAL and decision cache: the allowlist
// (IP_NOT_ALLOWED) and the rate limit (RATE_LIMITED, RateLimit-* headers), in SPEC §4's order.
// Restrictions are written straight to the row here (the dashboard's form has its own tests);
// the decision cache must see them from the next request on. Only `Date` is faked.
vi.hoisted(() => {
  process.env.ECHO_WORKER_DELAY_MS = "0";
  process.env.LAST_USED_FLUSH_MS = "60000";
});

const T0 = Date.UTC(2027, 0, 4, 9, 0, 0); // a minute boundary
const DASHBOARD = { type: "dashboard" } as const;

let account = "";
let other = "";
let endpoint = "";
let othersEndpoint = "";

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  for (const label of ["a", "b"]) {
    const created = await createAccount(uniqueEmail(`restrict-${label}`), "password-restrict-1");
    if (!created.ok) throw new Error("setup");
    if (label === "a") account = created.value.id;
    else other = created.value.id;
  }
  const ep = await createEndpoint(account, "alpha", DASHBOARD);
  const otherEp = await createEndpoint(other, "beta", DASHBOARD);
  if (!ep.ok || !otherEp.ok) throw new Error("setup");
  endpoint = ep.value.id;
  othersEndpoint = otherEp.value.id;
});

afterAll(async () => {
  vi.useRealTimers();
  await removeTestDatabase();
});

async function newKey(scopes: { graphql?: AccessLevel; endpointsAll?: AccessLevel }, restrictions: { allowedIps?: string[]; rateLimit?: [number, string] }) {
  const result = await createScopedApiKey(account, { name: "restricted", scopes: { graphql: "none", endpointsAll: "none", endpoints: {}, ...scopes } }, DASHBOARD);
  if (!result.ok) throw new Error(result.message);
  await restrict(result.value.key.id, restrictions);
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

/** Sets a key's restrictions in one committed write, as the dashboard's form does. */
async function restrict(keyId: string, restrictions: { allowedIps?: string[]; rateLimit?: [number, string] }) {
  const db = await getDb();
  await db.$client.batch(
    [
      {
        sql: "UPDATE api_keys SET allowed_ips = ?, rate_limit = ?, rate_limit_per = ? WHERE id = ?",
        args: [restrictions.allowedIps ? JSON.stringify(restrictions.allowedIps) : null, restrictions.rateLimit?.[0] ?? null, restrictions.rateLimit?.[1] ?? null, keyId],
      },
    ],
    "write",
  );
}

type Reply = { status: number; code: string; headers: Headers; json: Record<string, unknown> };

async function reply(response: Response): Promise<Reply> {
  const json = JSON.parse(await response.text()) as Record<string, unknown> & { error?: { code: string } };
  return { status: response.status, code: json.error?.code ?? (response.status === 200 ? "OK" : String(response.status)), headers: response.headers, json };
}

const headersFor = (key: string, address: string | null) => {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  if (address !== null) headers[CLIENT_ADDRESS_HEADER] = address;
  return headers;
};
const health = async (key: string, address: string | null = "10.1.2.3", ep = endpoint) =>
  reply(await handleEndpointApi(new Request(`http://test/v2/${ep}/health`, { headers: headersFor(key, address) })));
const run = async (key: string, address: string | null = "10.1.2.3") =>
  reply(await handleEndpointApi(new Request(`http://test/v2/${endpoint}/run`, { method: "POST", headers: headersFor(key, address), body: '{"input":1}' })));
const graphql = async (key: string, address: string | null) =>
  reply(await handleGraphqlRequest(new Request("http://test/graphql", { method: "POST", headers: headersFor(key, address), body: JSON.stringify({ query: "{ myself { id } }" }) })));
const verify = async (key: string, ip?: string) =>
  reply(
    await handleVerifyApi(
      new Request("http://test/api/v1/keys/verify", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key, resource: "endpoint", endpointId: endpoint, access: "read", ...(ip === undefined ? {} : { ip }) }),
      }),
    ),
  );

describe("allowed addresses (IP_NOT_ALLOWED)", () => {
  it("admits addresses in the list on every route, refuses others and requests with no known address", async () => {
    const key = await newKey({ graphql: "read", endpointsAll: "read" }, { allowedIps: ["10.0.0.0/8", "2001:db8::/32"] });
    for (const address of ["10.1.2.3", "10.255.255.255", "::ffff:10.0.0.1", "2001:db8::5"]) expect([address, (await health(key.plaintext, address)).code]).toEqual([address, "OK"]);
    for (const address of ["11.0.0.0", "9.255.255.255", "192.168.0.1", "2001:db9::1", "::1", "garbage"]) {
      expect([address, (await health(key.plaintext, address)).code]).toEqual([address, "IP_NOT_ALLOWED"]);
    }
    const refused = await health(key.plaintext, "192.168.0.1");
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({ error: { code: "IP_NOT_ALLOWED", message: "This API key may not be used from this address." } });
    expect((await health(key.plaintext, null)).code).toBe("IP_NOT_ALLOWED");
    expect((await graphql(key.plaintext, "10.0.0.9")).code).toBe("OK");
    expect((await graphql(key.plaintext, "172.16.0.1")).code).toBe("IP_NOT_ALLOWED");
  });

  it("the verify API takes the address as `ip`: missing or outside the list is IP_NOT_ALLOWED, a malformed one is 400", async () => {
    const key = await newKey({ endpointsAll: "read" }, { allowedIps: ["203.0.113.0/24"] });
    expect((await verify(key.plaintext, "203.0.113.77")).json).toMatchObject({ valid: true, code: "VALID" });
    expect((await verify(key.plaintext, "203.0.114.1")).json).toEqual({ valid: false, code: "IP_NOT_ALLOWED" });
    expect((await verify(key.plaintext)).json).toEqual({ valid: false, code: "IP_NOT_ALLOWED" });
    // What the allowlist could not read is a bad request, not a mismatch (no octal, hex or short forms).
    for (const junk of ["not-an-ip", "010.0.0.1", "0x7f.0.0.1", "10.1", "203.0.113.256"]) expect([junk, (await verify(key.plaintext, junk)).status]).toEqual([junk, 400]);
    expect((await verify(key.plaintext, "[::ffff:203.0.113.9]")).json).toMatchObject({ valid: true });
    const open = await newKey({ endpointsAll: "read" }, {});
    expect((await verify(open.plaintext)).json).toMatchObject({ valid: true });
  });

  it("runs after disabled and expired, before the endpoint and the level (SPEC §4's order)", async () => {
    const key = await newKey({ endpointsAll: "none" }, { allowedIps: ["10.0.0.0/8"] });
    // Outside the list: the address answers before the level and before another account's endpoint.
    expect((await health(key.plaintext, "192.168.1.1")).code).toBe("IP_NOT_ALLOWED");
    expect((await health(key.plaintext, "192.168.1.1", othersEndpoint)).code).toBe("IP_NOT_ALLOWED");
    // Inside it: the next checks answer.
    expect((await health(key.plaintext, "10.0.0.1")).code).toBe("INSUFFICIENT_SCOPE");
    expect((await health(key.plaintext, "10.0.0.1", othersEndpoint)).code).toBe("NOT_FOUND");
    await setApiKeyEnabled(account, key.id, false, DASHBOARD);
    expect((await health(key.plaintext, "192.168.1.1")).code).toBe("KEY_DISABLED");
  });

  it("a changed list applies from the next request on (the decision cache re-reads the key)", async () => {
    const key = await newKey({ endpointsAll: "read" }, {});
    expect((await health(key.plaintext, "192.168.1.1")).code).toBe("OK");
    await restrict(key.id, { allowedIps: ["10.0.0.0/8"] });
    expect((await health(key.plaintext, "192.168.1.1")).code).toBe("IP_NOT_ALLOWED");
    await restrict(key.id, {});
    expect((await health(key.plaintext, "192.168.1.1")).code).toBe("OK");
  });
});

describe("rate limits (RATE_LIMITED and RateLimit-*)", () => {
  const limitHeaders = (r: Reply) => [r.headers.get("ratelimit-limit"), r.headers.get("ratelimit-remaining"), r.headers.get("ratelimit-reset")];

  it("admits the limit per window across routes and the verify API, then 429 with Retry-After; every answer carries the headers", async () => {
    vi.setSystemTime(T0 + 60_000 * 10 + 15_000); // 45 s before the window ends
    const key = await newKey({ graphql: "read", endpointsAll: "read" }, { rateLimit: [3, "minute"] });
    const first = await health(key.plaintext);
    expect([first.code, ...limitHeaders(first)]).toEqual(["OK", "3", "2", "45"]);
    expect((await verify(key.plaintext)).headers.get("ratelimit-remaining")).toBe("1");
    const third = await graphql(key.plaintext, "10.0.0.1");
    expect([third.code, ...limitHeaders(third)]).toEqual(["OK", "3", "0", "45"]);
    const refused = await health(key.plaintext);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ error: { code: "RATE_LIMITED", message: expect.any(String) } });
    expect(refused.headers.get("retry-after")).toBe("45");
    expect(limitHeaders(refused)).toEqual(["3", "0", "45"]);
    expect((await verify(key.plaintext)).json).toEqual({ valid: false, code: "RATE_LIMITED" });
    vi.setSystemTime(T0 + 60_000 * 11);
    expect(limitHeaders(await health(key.plaintext))).toEqual(["3", "2", "60"]);
  });

  it("only requests that would otherwise be allowed use it up; refusals before it still carry the headers", async () => {
    vi.setSystemTime(T0 + 60_000 * 20);
    const key = await newKey({ endpointsAll: "read" }, { rateLimit: [1, "minute"], allowedIps: ["10.0.0.0/8"] });
    const scope = await run(key.plaintext);
    expect([scope.code, ...limitHeaders(scope)]).toEqual(["INSUFFICIENT_SCOPE", "1", "1", "60"]);
    const address = await health(key.plaintext, "192.168.0.1");
    expect([address.code, ...limitHeaders(address)]).toEqual(["IP_NOT_ALLOWED", "1", "1", "60"]);
    expect((await health(key.plaintext)).code).toBe("OK");
    expect((await health(key.plaintext)).code).toBe("RATE_LIMITED");
  });

  it("a key without a limit has no RateLimit headers; a new limit applies from the next request on", async () => {
    vi.setSystemTime(T0 + 60_000 * 30);
    const key = await newKey({ endpointsAll: "read" }, {});
    const free = await health(key.plaintext);
    expect(limitHeaders(free)).toEqual([null, null, null]);
    await restrict(key.id, { rateLimit: [1, "second"] });
    expect((await health(key.plaintext)).code).toBe("OK");
    expect((await health(key.plaintext)).code).toBe("RATE_LIMITED");
    vi.setSystemTime(T0 + 60_000 * 30 + 1000);
    expect((await health(key.plaintext)).code).toBe("OK");
  });
});
