import { rawRows, removeTestDatabase, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { startGatewayProcess, type GatewayProcess } from "@/testing/gateway-process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/handle";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";

// SPEC §9 across processes: two gateways on one database, under load from both sides at once,
// admit no more than a key's limit per window (README: the bound, and why it holds). An hour's
// window, so that the whole run falls in one window and no request can be counted in the wrong one.

const LIMIT = 400;
const LOAD_MS = 3_000;
const CONNECTIONS_PER_GATEWAY = 8;

let gateways: GatewayProcess[] = [];
let endpoint = "";
let plaintext = "";
let keyId = "";

/** Requests from both sides at once for `ms`: what each gateway answered. */
async function load(ms: number) {
  const counts = gateways.map(() => ({ allowed: 0, limited: 0, other: 0 }));
  const until = Date.now() + ms;
  await Promise.all(
    gateways.flatMap((gateway, index) =>
      Array.from({ length: CONNECTIONS_PER_GATEWAY }, async () => {
        while (Date.now() < until) {
          const response = await fetch(`${gateway.url}/v2/${endpoint}/health`, { headers: { authorization: `Bearer ${plaintext}` } });
          await response.arrayBuffer();
          const count = counts[index]!;
          if (response.status === 200) count.allowed += 1;
          else if (response.status === 429) count.limited += 1;
          else count.other += 1;
        }
      }),
    ),
  );
  return counts;
}

beforeAll(async () => {
  const account = await createAccount(uniqueEmail("rate-processes"), "password-rate-1");
  if (!account.ok) throw new Error("setup");
  const ep = await createEndpoint(account.value.id, "alpha", { type: "dashboard" });
  if (!ep.ok) throw new Error("setup");
  endpoint = ep.value.id;
  const key = await createScopedApiKey(account.value.id, { name: "limited", scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!key.ok) throw new Error("setup");
  plaintext = key.value.plaintext;
  keyId = key.value.key.id;
  await (await getDb()).$client.execute({ sql: "UPDATE api_keys SET rate_limit = ?, rate_limit_per = 'hour' WHERE id = ?", args: [LIMIT, key.value.key.id] });
  gateways = await Promise.all([0, 1].map(() => startGatewayProcess({ DATABASE_URL: testDatabaseUrl, LAST_USED_FLUSH_MS: "60000", RATE_LIMIT_SYNC_MS: "100" })));
  // Both have synced more than once: each knows the other is live.
  await new Promise((resolve) => setTimeout(resolve, 600));
}, 60_000);

afterAll(async () => {
  for (const gateway of gateways) gateway.kill();
  await removeTestDatabase();
});

describe("two processes share a key's rate limit", () => {
  it(`admit at most ${LIMIT} per window between them under load, and use most of it`, async () => {
    // Not across an hour boundary: the run would span two windows.
    const intoHour = Date.now() % 3_600_000;
    if (intoHour > 3_600_000 - LOAD_MS - 5_000) await new Promise((resolve) => setTimeout(resolve, 3_600_000 - intoHour + 1_000));
    const counts = await load(LOAD_MS);
    const allowed = counts.reduce((sum, count) => sum + count.allowed, 0);
    const limited = counts.reduce((sum, count) => sum + count.limited, 0);
    console.log(`rate limit across two processes: limit ${LIMIT}/hour; allowed ${counts.map((c) => c.allowed).join(" + ")} = ${allowed}; refused 429 ${limited}; overshoot ${((allowed / LIMIT - 1) * 100).toFixed(1)} %`);
    expect(counts.every((count) => count.other === 0)).toBe(true);
    // The budget was shared by syncs that worked, not by base shares alone.
    for (const gateway of gateways) expect(gateway.output()).not.toContain("sync failed");
    expect(Number((await rawRows("SELECT count(*) AS n FROM rate_limit_shares"))[0]?.n)).toBeGreaterThan(0);
    expect(limited).toBeGreaterThan(0); // the load went well past the limit
    expect(allowed).toBeLessThanOrEqual(LIMIT);
    expect(allowed).toBeGreaterThanOrEqual(LIMIT * 0.9);
    // Both processes admitted part of it: the budget is shared, not held by the first to ask.
    expect(Math.min(...counts.map((count) => count.allowed))).toBeGreaterThan(LIMIT * 0.1);
  }, 60_000);

  it("a limit far above the load never refuses, however the requests fall between the processes", async () => {
    await (await getDb()).$client.execute({ sql: "UPDATE api_keys SET rate_limit = 1000000, rate_limit_per = 'second' WHERE id = ?", args: [keyId] });
    await new Promise((resolve) => setTimeout(resolve, 300)); // both have seen the change
    const counts = await load(2_000);
    console.log(`generous limit across two processes: allowed ${counts.map((c) => c.allowed).join(" + ")}, refused ${counts.map((c) => c.limited).join(" + ")}`);
    expect(counts.every((count) => count.limited === 0 && count.other === 0 && count.allowed > 0)).toBe(true);
  }, 60_000);
});
