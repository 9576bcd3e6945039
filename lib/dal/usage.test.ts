import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, dayOf, hourOf, type UsageCode, type UsageTally, type UsageVia } from "@/lib/core/usage/tally";
import type { RequiredLevel } from "@/lib/core/scopes/levels";
import { createAccount } from "./accounts";
import { createScopedApiKey } from "./api-keys";
import {
  countRecentRequests,
  getUsageByResource,
  getUsageForExport,
  getUsageSeries,
  getUsageTallies,
  getUsageTalliesByKey,
  isAccountKey,
  pruneUsage,
} from "./usage";

// SPEC §10, the reading side: the chart's series, `Usage by resource`, the suggestion windows,
// `Requests (7 d)`, the CSV, retention. Rows are written straight to the tables here (the
// recorder that writes them has its own tests), at buckets placed on each window's edges.

// Mid-hour, mid-day: a bucket boundary is never "now".
const NOW = Date.UTC(2027, 2, 15, 13, 25, 0);
const HOUR = hourOf(NOW);
const DAY = dayOf(NOW);

let account = "";
let other = "";

afterAll(removeTestDatabase);

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("usage-a"), "password-a-123"), createAccount(uniqueEmail("usage-b"), "password-b-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  account = a.value.id;
  other = b.value.id;
});

async function newKey(accountId = account): Promise<string> {
  const result = await createScopedApiKey(accountId, { name: "usage", scopes: { graphql: "read", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  return result.value.key.id;
}

type Usage = { bucket: number; resource?: string; via?: UsageVia; access?: RequiredLevel; code?: UsageCode; count: number; lastAt?: number };

/** Writes usage rows of the key (of `accountId`) as the recorder's flush would have. */
async function insert(table: "hourly" | "daily", keyId: string, rows: Usage[], accountId = account) {
  for (const row of rows) {
    await rawRows(
      `INSERT INTO api_key_usage_${table} (account_id, key_id, bucket, resource, via, access, code, count, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [accountId, keyId, row.bucket, row.resource ?? "graphql", row.via ?? "api", row.access ?? "read", row.code ?? "VALID", row.count, row.lastAt ?? row.bucket + 1_000],
    );
  }
}

const tallyOrder = (t: UsageTally) => `${t.resource}|${t.via}|${t.access}|${t.code}`;
const sortTallies = (tallies: UsageTally[]) => [...tallies].sort((a, b) => (tallyOrder(a) < tallyOrder(b) ? -1 : tallyOrder(a) > tallyOrder(b) ? 1 : 0));

describe("getUsageSeries", () => {
  it("24 hours: 24 hourly buckets ending with the current hour, empty ones present, counts by code summed over resources", async () => {
    const key = await newKey();
    await insert("hourly", key, [
      { bucket: HOUR, resource: "graphql", code: "VALID", count: 3 },
      { bucket: HOUR, resource: "ep_a", via: "verify", access: "read_write", code: "VALID", count: 4 },
      { bucket: HOUR, resource: "ep_a", code: "RATE_LIMITED", count: 2 },
      { bucket: HOUR - 23 * HOUR_MS, code: "KEY_DISABLED", count: 5 }, // the first bucket
      { bucket: HOUR - 24 * HOUR_MS, count: 100 }, // a day ago: outside
      { bucket: HOUR + HOUR_MS, count: 200 }, // the next hour (another process's clock): outside
    ]);
    const series = await getUsageSeries(account, key, "24h", NOW);
    expect(series.range).toBe("24h");
    expect(series.bucketMs).toBe(HOUR_MS);
    expect(series.buckets).toHaveLength(24);
    expect(series.buckets.map((bucket) => bucket.start)).toEqual(Array.from({ length: 24 }, (_, i) => HOUR - (23 - i) * HOUR_MS));
    expect(series.buckets[23]!.counts).toEqual({ VALID: 7, RATE_LIMITED: 2 });
    expect(series.buckets[0]!.counts).toEqual({ KEY_DISABLED: 5 });
    for (const bucket of series.buckets.slice(1, 23)) expect(bucket.counts).toEqual({});
  });

  it("30 days: 30 daily buckets ending with today, from the daily rows", async () => {
    const key = await newKey();
    await insert("daily", key, [
      { bucket: DAY, code: "VALID", count: 10 },
      { bucket: DAY, resource: "ep_b", code: "NOT_FOUND", count: 1 },
      { bucket: DAY - 29 * DAY_MS, code: "INSUFFICIENT_SCOPE", count: 6 },
      { bucket: DAY - 30 * DAY_MS, count: 100 },
      { bucket: DAY + DAY_MS, count: 200 },
    ]);
    const series = await getUsageSeries(account, key, "30d", NOW);
    expect(series.bucketMs).toBe(DAY_MS);
    expect(series.buckets.map((bucket) => bucket.start)).toEqual(Array.from({ length: 30 }, (_, i) => DAY - (29 - i) * DAY_MS));
    expect(series.buckets[29]!.counts).toEqual({ VALID: 10, NOT_FOUND: 1 });
    expect(series.buckets[0]!.counts).toEqual({ INSUFFICIENT_SCOPE: 6 });
    expect(series.buckets.slice(1, 29).every((bucket) => Object.keys(bucket.counts).length === 0)).toBe(true);
  });

  it("a key with no usage has every bucket, all empty", async () => {
    const key = await newKey();
    for (const [range, length] of [["24h", 24], ["30d", 30]] as const) {
      const series = await getUsageSeries(account, key, range, NOW);
      expect(series.buckets).toHaveLength(length);
      expect(series.buckets.every((bucket) => Object.keys(bucket.counts).length === 0)).toBe(true);
    }
  });
});

describe("getUsageByResource", () => {
  it("by resource, way in and access since the given time: allowed is VALID, denied everything else, last seen the latest; latest first", async () => {
    const key = await newKey();
    const since = NOW - DAY_MS;
    await insert("hourly", key, [
      { bucket: HOUR, resource: "ep_a", code: "VALID", count: 5, lastAt: NOW - 60_000 },
      { bucket: HOUR - 2 * HOUR_MS, resource: "ep_a", code: "VALID", count: 1, lastAt: HOUR - 2 * HOUR_MS + 10 },
      { bucket: HOUR, resource: "ep_a", code: "RATE_LIMITED", count: 2, lastAt: NOW - 30_000 },
      { bucket: HOUR, resource: "ep_a", code: "IP_NOT_ALLOWED", count: 1, lastAt: NOW - 90_000 },
      { bucket: HOUR - HOUR_MS, resource: "ep_a", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 7, lastAt: HOUR - HOUR_MS + 5 },
      { bucket: HOUR - 3 * HOUR_MS, resource: "graphql", via: "verify", code: "VALID", count: 9, lastAt: HOUR - 3 * HOUR_MS + 5 },
      // The hour `since` falls in counts; the one before does not.
      { bucket: hourOf(since), resource: "unknown", code: "NOT_FOUND", count: 4, lastAt: hourOf(since) + 1 },
      { bucket: hourOf(since) - HOUR_MS, resource: "ep_old", count: 50 },
    ]);
    expect(await getUsageByResource(account, key, since, NOW)).toEqual([
      { resource: "ep_a", via: "api", access: "read", allowed: 6, denied: 3, lastAt: NOW - 30_000 },
      { resource: "ep_a", via: "api", access: "read_write", allowed: 0, denied: 7, lastAt: HOUR - HOUR_MS + 5 },
      { resource: "graphql", via: "verify", access: "read", allowed: 9, denied: 0, lastAt: HOUR - 3 * HOUR_MS + 5 },
      { resource: "unknown", via: "api", access: "read", allowed: 0, denied: 4, lastAt: hourOf(since) + 1 },
    ]);
  });

  it("past 30 days it reads the daily rows", async () => {
    const key = await newKey();
    await insert("daily", key, [
      { bucket: DAY - 40 * DAY_MS, resource: "ep_a", count: 3, lastAt: DAY - 40 * DAY_MS + 7 },
      { bucket: DAY - 60 * DAY_MS, resource: "ep_a", count: 100 },
    ]);
    expect(await getUsageByResource(account, key, NOW - 45 * DAY_MS, NOW)).toEqual([
      { resource: "ep_a", via: "api", access: "read", allowed: 3, denied: 0, lastAt: DAY - 40 * DAY_MS + 7 },
    ]);
    expect(await getUsageByResource(account, key, NOW - DAY_MS, NOW)).toEqual([]);
  });
});

describe("getUsageTallies", () => {
  it.each([
    [7, 1 + 2],
    [30, 1 + 2 + 4 + 8],
    [90, 1 + 2 + 4 + 8 + 16 + 32],
  ])("the last %i days, today included, by UTC day", async (days, total) => {
    const key = await newKey();
    await insert("daily", key, [
      { bucket: DAY, count: 1 },
      { bucket: DAY - 6 * DAY_MS, count: 2 }, // 7th day back: in 7 d
      { bucket: DAY - 7 * DAY_MS, count: 4 },
      { bucket: DAY - 29 * DAY_MS, count: 8 }, // in 30 d
      { bucket: DAY - 30 * DAY_MS, count: 16 },
      { bucket: DAY - 89 * DAY_MS, count: 32 }, // in 90 d
      { bucket: DAY - 90 * DAY_MS, count: 64 },
    ]);
    expect(await getUsageTallies(account, key, days, NOW)).toEqual([{ resource: "graphql", via: "api", access: "read", code: "VALID", count: total }]);
  });

  it("summed by resource, way in, access and code", async () => {
    const key = await newKey();
    await insert("daily", key, [
      { bucket: DAY, resource: "ep_a", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 3 },
      { bucket: DAY - DAY_MS, resource: "ep_a", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 4 },
      { bucket: DAY - DAY_MS, resource: "ep_a", via: "verify", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 1 },
      { bucket: DAY - 2 * DAY_MS, resource: "ep_a", code: "VALID", count: 6 },
      { bucket: DAY - 2 * DAY_MS, resource: "graphql", code: "RATE_LIMITED", count: 2 },
    ]);
    expect(sortTallies(await getUsageTallies(account, key, 30, NOW))).toEqual([
      { resource: "ep_a", via: "api", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 7 },
      { resource: "ep_a", via: "api", access: "read", code: "VALID", count: 6 },
      { resource: "ep_a", via: "verify", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 1 },
      { resource: "graphql", via: "api", access: "read", code: "RATE_LIMITED", count: 2 },
    ]);
  });
});

describe("getUsageTalliesByKey", () => {
  it("getUsageTallies for every key of the account at once: same window, same sums; keys without requests and other accounts' keys absent", async () => {
    const [a, b, quiet] = [await newKey(), await newKey(), await newKey()];
    const foreign = await newKey(other);
    await insert("daily", a, [
      { bucket: DAY, resource: "ep_a", code: "VALID", count: 2 },
      { bucket: DAY - 6 * DAY_MS, resource: "ep_a", code: "VALID", count: 3 },
      { bucket: DAY - 7 * DAY_MS, resource: "ep_a", code: "VALID", count: 100 }, // outside 7 d
      { bucket: DAY, resource: "graphql", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 1 },
    ]);
    await insert("daily", b, [{ bucket: DAY - 2 * DAY_MS, via: "verify", code: "RATE_LIMITED", count: 4 }]);
    await insert("daily", quiet, [{ bucket: DAY - 8 * DAY_MS, count: 9 }]);
    await insert("daily", foreign, [{ bucket: DAY, count: 5 }], other);
    const byKey = await getUsageTalliesByKey(account, 7, NOW);
    expect(sortTallies(byKey.get(a)!)).toEqual([
      { resource: "ep_a", via: "api", access: "read", code: "VALID", count: 5 },
      { resource: "graphql", via: "api", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 1 },
    ]);
    expect(byKey.get(b)).toEqual([{ resource: "graphql", via: "verify", access: "read", code: "RATE_LIMITED", count: 4 }]);
    expect(byKey.has(quiet)).toBe(false);
    expect(byKey.has(foreign)).toBe(false);
    for (const key of [a, b]) expect(sortTallies(byKey.get(key)!)).toEqual(sortTallies(await getUsageTallies(account, key, 7, NOW)));
    expect((await getUsageTalliesByKey(account, 30, NOW)).get(quiet)).toEqual([{ resource: "graphql", via: "api", access: "read", code: "VALID", count: 9 }]);
  });
});

describe("countRecentRequests", () => {
  it("every decision of the last 7 × 24 hours, per key of the account; keys without any are absent", async () => {
    const [busy, quiet, idle] = [await newKey(), await newKey(), await newKey()];
    const foreign = await newKey(other);
    await insert("hourly", busy, [
      { bucket: HOUR, code: "VALID", count: 3 },
      { bucket: HOUR, resource: "ep_a", code: "KEY_DISABLED", count: 2 },
      { bucket: HOUR - 167 * HOUR_MS, code: "NOT_FOUND", count: 5 }, // the 168th hour: in
      { bucket: HOUR - 168 * HOUR_MS, count: 1_000 }, // out
    ]);
    await insert("hourly", quiet, [{ bucket: HOUR - 100 * HOUR_MS, via: "verify", count: 1 }]);
    await insert("hourly", idle, [{ bucket: HOUR - 200 * HOUR_MS, count: 9 }]);
    await insert("hourly", foreign, [{ bucket: HOUR, count: 77 }], other);
    const counts = await countRecentRequests(account, NOW);
    expect(counts.get(busy)).toBe(10);
    expect(counts.get(quiet)).toBe(1);
    expect(counts.has(idle)).toBe(false);
    expect(counts.has(foreign)).toBe(false);
    expect((await countRecentRequests(other, NOW)).get(foreign)).toBe(77);
  });
});

describe("getUsageForExport", () => {
  it("every daily row of the key, oldest day first, then by resource, way in, access and code", async () => {
    const key = await newKey();
    const rows: Usage[] = [
      { bucket: DAY, resource: "graphql", code: "VALID", count: 1, lastAt: DAY + 1 },
      { bucket: DAY - 300 * DAY_MS, resource: "graphql", code: "VALID", count: 2, lastAt: DAY - 300 * DAY_MS + 2 },
      { bucket: DAY, resource: "ep_a", via: "verify", code: "VALID", count: 3, lastAt: DAY + 3 },
      { bucket: DAY, resource: "ep_a", via: "api", access: "read_write", code: "VALID", count: 4, lastAt: DAY + 4 },
      { bucket: DAY, resource: "ep_a", via: "api", access: "read", code: "RATE_LIMITED", count: 5, lastAt: DAY + 5 },
      { bucket: DAY, resource: "ep_a", via: "api", access: "read", code: "INSUFFICIENT_SCOPE", count: 6, lastAt: DAY + 6 },
    ];
    await insert("daily", key, rows);
    await insert("hourly", key, [{ bucket: HOUR, count: 99 }]); // not exported: the days already hold it
    expect(await getUsageForExport(account, key)).toEqual([
      { day: DAY - 300 * DAY_MS, resource: "graphql", via: "api", access: "read", code: "VALID", count: 2, lastAt: DAY - 300 * DAY_MS + 2 },
      { day: DAY, resource: "ep_a", via: "api", access: "read", code: "INSUFFICIENT_SCOPE", count: 6, lastAt: DAY + 6 },
      { day: DAY, resource: "ep_a", via: "api", access: "read", code: "RATE_LIMITED", count: 5, lastAt: DAY + 5 },
      { day: DAY, resource: "ep_a", via: "api", access: "read_write", code: "VALID", count: 4, lastAt: DAY + 4 },
      { day: DAY, resource: "ep_a", via: "verify", access: "read", code: "VALID", count: 3, lastAt: DAY + 3 },
      { day: DAY, resource: "graphql", via: "api", access: "read", code: "VALID", count: 1, lastAt: DAY + 1 },
    ]);
  });

  it("an empty key exports nothing", async () => {
    expect(await getUsageForExport(account, await newKey())).toEqual([]);
  });
});

describe("another account's key", () => {
  it("reads as having no usage through every function, and is not the account's", async () => {
    const key = await newKey();
    await insert("hourly", key, [{ bucket: HOUR, count: 5 }, { bucket: HOUR - 2 * HOUR_MS, resource: "ep_a", code: "KEY_DISABLED", count: 1 }]);
    await insert("daily", key, [{ bucket: DAY, count: 6 }, { bucket: DAY - 3 * DAY_MS, resource: "ep_a", code: "KEY_DISABLED", count: 1 }]);
    // Sanity: the owner sees it all.
    expect((await getUsageSeries(account, key, "24h", NOW)).buckets[23]!.counts).toEqual({ VALID: 5 });
    expect(await isAccountKey(account, key)).toBe(true);

    for (const range of ["24h", "30d"] as const) {
      expect((await getUsageSeries(other, key, range, NOW)).buckets.every((bucket) => Object.keys(bucket.counts).length === 0)).toBe(true);
    }
    expect(await getUsageByResource(other, key, NOW - DAY_MS, NOW)).toEqual([]);
    expect(await getUsageByResource(other, key, NOW - 90 * DAY_MS, NOW)).toEqual([]);
    for (const days of [7, 30, 90]) expect(await getUsageTallies(other, key, days, NOW)).toEqual([]);
    expect((await countRecentRequests(other, NOW)).has(key)).toBe(false);
    for (const days of [7, 30, 90]) expect((await getUsageTalliesByKey(other, days, NOW)).has(key)).toBe(false);
    expect(await getUsageForExport(other, key)).toEqual([]);
    expect(await isAccountKey(other, key)).toBe(false);
    expect(await isAccountKey(account, "key_does_not_exist")).toBe(false);
  });
});

// Last in the file: pruneUsage deletes across every account, and the tests above keep nothing
// older than 31 days by hour or 401 by day.
describe("pruneUsage", () => {
  it("keeps ≥ 30 days by hour and ≥ 400 by day; deletes what is older, in more than one chunk; twice deletes nothing twice", async () => {
    const key = await newKey();
    const foreign = await newKey(other);
    const hourlyKept = [HOUR - 30 * DAY_MS, HOUR - 31 * DAY_MS]; // SPEC's minimum, and the cutoff itself
    const dailyKept = [DAY - 400 * DAY_MS, DAY - 401 * DAY_MS];
    await insert("hourly", key, [...hourlyKept.map((bucket) => ({ bucket, count: 1 })), { bucket: HOUR - 31 * DAY_MS - HOUR_MS, count: 1 }]);
    await insert("daily", key, [...dailyKept.map((bucket) => ({ bucket, count: 1 })), { bucket: DAY - 402 * DAY_MS, count: 1 }]);
    // Old rows enough for several delete statements (chunks of 2,000), of two accounts.
    const OLD_HOURLY = 4_500;
    const OLD_DAILY = 2_100;
    const bulk = (table: string, keyId: string, accountId: string, n: number, newest: number, step: number) =>
      rawRows(
        `WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?)
         INSERT INTO ${table} (account_id, key_id, bucket, resource, via, access, code, count, last_at)
         SELECT ?, ?, ? - (n / 2) * ?, CASE n % 2 WHEN 0 THEN 'graphql' ELSE 'unknown' END, 'api', 'read', 'VALID', 1, 0 FROM i`,
        [n, accountId, keyId, newest, step],
      );
    await bulk("api_key_usage_hourly", key, account, OLD_HOURLY - 1_000, HOUR - 40 * DAY_MS, HOUR_MS);
    await bulk("api_key_usage_hourly", foreign, other, 1_000, HOUR - 32 * DAY_MS, HOUR_MS);
    await bulk("api_key_usage_daily", key, account, OLD_DAILY, DAY - 410 * DAY_MS, DAY_MS);

    expect(await pruneUsage(NOW)).toEqual({ hourly: OLD_HOURLY + 1, daily: OLD_DAILY + 1 });
    const buckets = async (table: string) =>
      (await rawRows(`SELECT bucket FROM ${table} WHERE key_id IN (?, ?) ORDER BY bucket DESC`, [key, foreign])).map((row) => Number(row.bucket));
    expect(await buckets("api_key_usage_hourly")).toEqual(hourlyKept);
    expect(await buckets("api_key_usage_daily")).toEqual(dailyKept);
    // Everything younger in the file is still there (the other tests' rows).
    expect(Number((await rawRows("SELECT count(*) AS n FROM api_key_usage_hourly WHERE bucket >= ?", [HOUR - 30 * DAY_MS]))[0]!.n)).toBeGreaterThan(10);

    expect(await pruneUsage(NOW)).toEqual({ hourly: 0, daily: 0 });
    expect(await buckets("api_key_usage_hourly")).toEqual(hourlyKept);
    expect(await buckets("api_key_usage_daily")).toEqual(dailyKept);
  });
});
