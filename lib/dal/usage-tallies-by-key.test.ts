import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY_MS, dayOf, type UsageTally } from "@/lib/core/usage/tally";
import { createAccount } from "./accounts";
import { createScopedApiKey, deleteApiKey } from "./api-keys";
import { getUsageTallies, getUsageTalliesByKey } from "./usage";

// The list's `Edit scopes` impact preview reads every key's last 7 days in one query: the same
// tallies getUsageTallies gives one key, for the account's keys only.

const NOW = Date.UTC(2027, 2, 15, 13, 25, 0);
const DAY = dayOf(NOW);

let account = "";
let other = "";

afterAll(removeTestDatabase);

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("tallies-a"), "password-a-123"), createAccount(uniqueEmail("tallies-b"), "password-b-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  account = a.value.id;
  other = b.value.id;
});

async function newKey(accountId = account): Promise<string> {
  const result = await createScopedApiKey(accountId, { name: "tallies", scopes: { graphql: "read", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  return result.value.key.id;
}

type Row = Omit<UsageTally, "via"> & { bucket: number; via?: UsageTally["via"] };

async function insert(keyId: string, rows: Row[], accountId = account) {
  for (const row of rows) {
    await rawRows(
      `INSERT INTO api_key_usage_daily (account_id, key_id, bucket, resource, via, access, code, count, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [accountId, keyId, row.bucket, row.resource, row.via ?? "api", row.access, row.code, row.count, row.bucket + 1_000],
    );
  }
}

const order = (t: UsageTally) => `${t.resource}|${t.via}|${t.access}|${t.code}`;
const sorted = (tallies: UsageTally[] | undefined) => [...(tallies ?? [])].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));

describe("getUsageTalliesByKey", () => {
  it("gives each key of the account what getUsageTallies gives it; keys without requests and other accounts' keys are absent", async () => {
    const [first, second, idle, foreign] = [await newKey(), await newKey(), await newKey(), await newKey(other)];
    await insert(first, [
      { bucket: DAY, resource: "graphql", access: "read", code: "VALID", count: 2 },
      { bucket: DAY - 6 * DAY_MS, resource: "graphql", access: "read", code: "VALID", count: 3 }, // the window's first day
      { bucket: DAY - 7 * DAY_MS, resource: "graphql", access: "read", code: "VALID", count: 100 }, // outside
      { bucket: DAY - DAY_MS, resource: "ep_a", via: "verify", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 4 },
    ]);
    await insert(second, [{ bucket: DAY, resource: "ep_b", access: "read", code: "RATE_LIMITED", count: 1 }]);
    await insert(idle, [{ bucket: DAY - 30 * DAY_MS, resource: "graphql", access: "read", code: "VALID", count: 9 }]);
    await insert(foreign, [{ bucket: DAY, resource: "graphql", access: "read", code: "VALID", count: 7 }], other);

    const byKey = await getUsageTalliesByKey(account, 7, NOW);
    expect([...byKey.keys()].sort()).toEqual([first, second].sort());
    expect(sorted(byKey.get(first))).toEqual([
      { resource: "ep_a", via: "verify", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 4 },
      { resource: "graphql", via: "api", access: "read", code: "VALID", count: 5 },
    ]);
    for (const key of [first, second, idle]) expect(sorted(byKey.get(key))).toEqual(sorted(await getUsageTallies(account, key, 7, NOW)));
    // The other account sees its own key only.
    expect([...(await getUsageTalliesByKey(other, 7, NOW)).keys()]).toEqual([foreign]);
  });

  it("a deleted key's usage goes with it", async () => {
    const key = await newKey();
    await insert(key, [{ bucket: DAY, resource: "graphql", access: "read", code: "VALID", count: 1 }]);
    expect((await getUsageTalliesByKey(account, 7, NOW)).has(key)).toBe(true);
    expect((await deleteApiKey(account, key, { type: "dashboard" })).ok).toBe(true);
    expect((await getUsageTalliesByKey(account, 7, NOW)).has(key)).toBe(false);
  });
});
