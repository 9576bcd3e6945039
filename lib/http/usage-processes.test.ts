import { rawRows, removeTestDatabase, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { startGatewayProcess, type GatewayProcess } from "@/testing/gateway-process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/handle";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import { generateScopedKey } from "@/lib/core/keys/generate";
import type { AccessLevel } from "@/lib/core/scopes/levels";

// SPEC §10 "Counting" under concurrency: two gateway processes on one database, 10,000 requests
// split between them — allowed and refused for every reason, on the endpoint API, GraphQL and the
// verify API — then both stopped gracefully (SIGTERM). The usage tables then hold exactly what
// the clients were answered, by key, resource, way in, access and code: nothing lost, nothing
// counted twice, nothing for keys that are not known. One gateway flushes every 100 ms during the
// load (its flushes meet the other's writes), the other only on its way out.

const REQUESTS = 10_000;
const CONNECTIONS_PER_GATEWAY = 8;

let gateways: GatewayProcess[] = [];
let endpoint = "";
let othersEndpoint = "";
const keys: Record<"open" | "disabled" | "limited" | "graphql", { id: string; plaintext: string }> = {} as never;

async function newKey(accountId: string, scopes: { graphql?: AccessLevel; endpointsAll?: AccessLevel }) {
  const result = await createScopedApiKey(accountId, { name: "load", scopes: { graphql: "none", endpointsAll: "none", endpoints: {}, ...scopes } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup");
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("usage-load"), "password-load-1"), createAccount(uniqueEmail("usage-other"), "password-load-2")]);
  if (!a.ok || !b.ok) throw new Error("setup");
  const [ep, otherEp] = await Promise.all([createEndpoint(a.value.id, "alpha", { type: "dashboard" }), createEndpoint(b.value.id, "beta", { type: "dashboard" })]);
  if (!ep.ok || !otherEp.ok) throw new Error("setup");
  endpoint = ep.value.id;
  othersEndpoint = otherEp.value.id;
  keys.open = await newKey(a.value.id, { endpointsAll: "read" });
  keys.disabled = await newKey(a.value.id, { endpointsAll: "read" });
  keys.limited = await newKey(a.value.id, { endpointsAll: "read" });
  keys.graphql = await newKey(a.value.id, { graphql: "read" });
  if (!(await setApiKeyEnabled(a.value.id, keys.disabled.id, false, { type: "dashboard" })).ok) throw new Error("setup");
  await (await getDb()).$client.execute({ sql: "UPDATE api_keys SET rate_limit = 300, rate_limit_per = 'hour' WHERE id = ?", args: [keys.limited.id] });
  const env = { DATABASE_URL: testDatabaseUrl, RATE_LIMIT_SYNC_MS: "100" };
  gateways = await Promise.all([
    startGatewayProcess({ ...env, LAST_USED_FLUSH_MS: "100" }),
    startGatewayProcess({ ...env, LAST_USED_FLUSH_MS: "60000" }),
  ]);
}, 60_000);

afterAll(async () => {
  for (const gateway of gateways) gateway.kill();
  await removeTestDatabase();
});

type Sent = { keyId: string | null; resource: string; via: "api" | "verify"; access: "read" | "read_write"; response: (url: string) => Promise<Response> };

/** The kinds of request sent, in turn; `keyId` null: a key that is not known, counted nowhere. */
function kinds(): Sent[] {
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const json = { "content-type": "application/json" };
  const verify = (key: string, target: Record<string, string>) => (url: string) =>
    fetch(`${url}/api/v1/keys/verify`, { method: "POST", headers: json, body: JSON.stringify({ key, ...target, access: "read" }) });
  return [
    { keyId: keys.open.id, resource: endpoint, via: "api", access: "read", response: (url) => fetch(`${url}/v2/${endpoint}/health`, { headers: bearer(keys.open.plaintext) }) },
    {
      keyId: keys.open.id,
      resource: endpoint,
      via: "api",
      access: "read_write",
      response: (url) => fetch(`${url}/v2/${endpoint}/run`, { method: "POST", headers: { ...bearer(keys.open.plaintext), ...json }, body: '{"input":1}' }),
    },
    { keyId: keys.disabled.id, resource: endpoint, via: "api", access: "read", response: (url) => fetch(`${url}/v2/${endpoint}/health`, { headers: bearer(keys.disabled.plaintext) }) },
    { keyId: keys.limited.id, resource: endpoint, via: "api", access: "read", response: (url) => fetch(`${url}/v2/${endpoint}/health`, { headers: bearer(keys.limited.plaintext) }) },
    { keyId: keys.open.id, resource: "unknown", via: "api", access: "read", response: (url) => fetch(`${url}/v2/${othersEndpoint}/health`, { headers: bearer(keys.open.plaintext) }) },
    { keyId: keys.open.id, resource: endpoint, via: "verify", access: "read", response: verify(keys.open.plaintext, { resource: "endpoint", endpointId: endpoint }) },
    { keyId: keys.limited.id, resource: endpoint, via: "verify", access: "read", response: verify(keys.limited.plaintext, { resource: "endpoint", endpointId: endpoint }) },
    {
      keyId: keys.graphql.id,
      resource: "graphql",
      via: "api",
      access: "read",
      response: (url) => fetch(`${url}/graphql`, { method: "POST", headers: { ...bearer(keys.graphql.plaintext), ...json }, body: '{"query":"{ myself { id } }"}' }),
    },
    { keyId: null, resource: endpoint, via: "api", access: "read", response: (url) => fetch(`${url}/v2/${endpoint}/health`, { headers: bearer(generateScopedKey()) }) },
    { keyId: null, resource: endpoint, via: "verify", access: "read", response: verify("rpa_malformed", { resource: "endpoint", endpointId: endpoint }) },
  ];
}

/** The code a client was answered: the error's, the verify API's, or VALID for a 200. */
async function codeOf(response: Response): Promise<string> {
  const json = (await response.json()) as { error?: { code: string }; valid?: boolean; code?: string };
  if (json.error) return json.error.code;
  if (json.valid !== undefined) return json.code!;
  if (response.status !== 200) throw new Error(`unexpected ${response.status}`);
  return "VALID";
}

describe("two processes, 10,000 requests, then SIGTERM", () => {
  it("the usage tables hold exactly what the clients were answered, by key, resource, way in, access and code", async () => {
    const plan = kinds();
    const expected = new Map<string, number>();
    const byGateway = gateways.map(() => 0);
    const answered = new Map<string, number>();
    let next = 0;
    await Promise.all(
      gateways.flatMap((gateway, index) =>
        Array.from({ length: CONNECTIONS_PER_GATEWAY }, async () => {
          for (let n = next++; n < REQUESTS; n = next++) {
            const kind = plan[n % plan.length]!;
            const code = await codeOf(await kind.response(gateway.url));
            byGateway[index]! += 1;
            answered.set(code, (answered.get(code) ?? 0) + 1);
            if (kind.keyId === null) {
              expect(code).toBe("UNAUTHENTICATED");
              continue;
            }
            const id = [kind.keyId, kind.resource, kind.via, kind.access, code].join("|");
            expected.set(id, (expected.get(id) ?? 0) + 1);
          }
        }),
      ),
    );
    expect(byGateway.reduce((sum, n) => sum + n, 0)).toBe(REQUESTS);
    // Every outcome the plan was made for did occur.
    for (const code of ["VALID", "INSUFFICIENT_SCOPE", "KEY_DISABLED", "NOT_FOUND", "RATE_LIMITED", "UNAUTHENTICATED"]) expect(answered.get(code)).toBeGreaterThan(0);

    // Both stopped gracefully, at once; what the second had counted exists only in its memory until now.
    for (const gateway of gateways) process.kill(-gateway.child.pid!, "SIGTERM");
    const codes = await Promise.all(gateways.map((gateway) => gateway.exited));
    expect(codes).toEqual([0, 0]);

    const counted = new Map<string, number>();
    for (const row of await rawRows("SELECT key_id, resource, via, access, code, sum(count) AS n FROM api_key_usage_hourly GROUP BY 1, 2, 3, 4, 5")) {
      counted.set([row.key_id, row.resource, row.via, row.access, row.code].join("|"), Number(row.n));
    }
    const sortedEntries = (map: Map<string, number>) => [...map].sort(([a], [b]) => (a < b ? -1 : 1));
    expect(sortedEntries(counted)).toEqual(sortedEntries(expected));
    // The daily roll-up agrees, code by code.
    const daily = await rawRows("SELECT code, sum(count) AS n FROM api_key_usage_daily GROUP BY code ORDER BY code");
    const hourly = await rawRows("SELECT code, sum(count) AS n FROM api_key_usage_hourly GROUP BY code ORDER BY code");
    expect(daily).toEqual(hourly);
    const total = [...expected.values()].reduce((sum, n) => sum + n, 0);
    expect(total).toBe(REQUESTS - (REQUESTS / plan.length) * 2);
    console.log(
      `usage across two processes: ${REQUESTS} requests (${byGateway.join(" + ")}), ${total} counted; by code ${JSON.stringify(Object.fromEntries(answered))}`,
    );
    for (const gateway of gateways) expect(gateway.output()).not.toContain("usage flush failed");
  }, 180_000);
});
