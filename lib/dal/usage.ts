import "server-only";
import { and, asc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { apiKeys, apiKeyUsageDaily, apiKeyUsageHourly } from "@/db/schema";
import { DAY_MS, HOUR_MS, dayOf, hourOf, type UsageCode, type UsageTally, type UsageVia } from "@/lib/core/usage/tally";
import type { RequiredLevel } from "@/lib/core/scopes/levels";

// SPEC §10: the reading side of usage. The counts are written by the data plane's usage recorder
// (lib/dal/usage-recorder.ts), one batch per interval. Every query here carries the account id,
// so another account's key reads as having no usage — and its page does not exist (callers check
// the key with getApiKey first).

/** Kept at least 30 days by hour and 400 days by day (SPEC §10): pruned past these, with a day's margin. */
export const HOURLY_RETENTION_MS = 31 * DAY_MS;
export const DAILY_RETENTION_MS = 401 * DAY_MS;

export const USAGE_RANGES = ["24h", "30d"] as const;
export type UsageRange = (typeof USAGE_RANGES)[number];

/** One bar of the `Requests` chart: the bucket's start (epoch ms, UTC) and its counts by outcome code. */
export type UsageBucket = { start: number; counts: Partial<Record<UsageCode, number>> };
export type UsageSeries = { range: UsageRange; bucketMs: number; buckets: UsageBucket[] };

/** `24 hours` by hour (the current hour last), `30 days` by day (today last). Empty buckets are there, with no counts. */
export async function getUsageSeries(accountId: string, keyId: string, range: UsageRange, now = Date.now()): Promise<UsageSeries> {
  const hourly = range === "24h";
  const table = hourly ? apiKeyUsageHourly : apiKeyUsageDaily;
  const bucketMs = hourly ? HOUR_MS : DAY_MS;
  const last = hourly ? hourOf(now) : dayOf(now);
  const first = last - (hourly ? 23 : 29) * bucketMs;
  const db = await getDb();
  const rows = await db
    .select({ bucket: table.bucket, code: table.code, count: sql<number>`sum(${table.count})`.mapWith(Number) })
    .from(table)
    .where(and(eq(table.accountId, accountId), eq(table.keyId, keyId), gte(table.bucket, first), lt(table.bucket, last + bucketMs)))
    .groupBy(table.bucket, table.code);
  const buckets: UsageBucket[] = [];
  const byStart = new Map<number, UsageBucket>();
  for (let start = first; start <= last; start += bucketMs) {
    const bucket: UsageBucket = { start, counts: {} };
    buckets.push(bucket);
    byStart.set(start, bucket);
  }
  for (const row of rows) {
    const bucket = byStart.get(row.bucket);
    if (bucket) bucket.counts[row.code] = (bucket.counts[row.code] ?? 0) + row.count;
  }
  return { range, bucketMs, buckets };
}

/** One row of `Usage by resource`. */
export type ResourceUsage = { resource: string; via: UsageVia; access: RequiredLevel; allowed: number; denied: number; lastAt: number };

/** The key's usage since `since` (epoch ms) by resource, way in and access; from the hourly rows when they cover it. */
export async function getUsageByResource(accountId: string, keyId: string, since: number, now = Date.now()): Promise<ResourceUsage[]> {
  const table = since >= now - 30 * DAY_MS ? apiKeyUsageHourly : apiKeyUsageDaily;
  const from = table === apiKeyUsageHourly ? hourOf(since) : dayOf(since);
  const db = await getDb();
  return db
    .select({
      resource: table.resource,
      via: table.via,
      access: table.access,
      allowed: sql<number>`sum(CASE WHEN ${table.code} = 'VALID' THEN ${table.count} ELSE 0 END)`.mapWith(Number),
      denied: sql<number>`sum(CASE WHEN ${table.code} = 'VALID' THEN 0 ELSE ${table.count} END)`.mapWith(Number),
      lastAt: sql<number>`max(${table.lastAt})`.mapWith(Number),
    })
    .from(table)
    .where(and(eq(table.accountId, accountId), eq(table.keyId, keyId), gte(table.bucket, from)))
    .groupBy(table.resource, table.via, table.access)
    .orderBy(sql`max(${table.lastAt}) DESC`, asc(table.resource), asc(table.via), asc(table.access));
}

/**
 * The key's requests over the last `days` days (today included, by UTC day), summed by resource,
 * way in, access and outcome: what suggestions and the impact preview read (lib/core/usage).
 */
export async function getUsageTallies(accountId: string, keyId: string, days: number, now = Date.now()): Promise<UsageTally[]> {
  const from = dayOf(now) - (days - 1) * DAY_MS;
  const db = await getDb();
  return db
    .select({
      resource: apiKeyUsageDaily.resource,
      via: apiKeyUsageDaily.via,
      access: apiKeyUsageDaily.access,
      code: apiKeyUsageDaily.code,
      count: sql<number>`sum(${apiKeyUsageDaily.count})`.mapWith(Number),
    })
    .from(apiKeyUsageDaily)
    .where(and(eq(apiKeyUsageDaily.accountId, accountId), eq(apiKeyUsageDaily.keyId, keyId), gte(apiKeyUsageDaily.bucket, from)))
    .groupBy(apiKeyUsageDaily.resource, apiKeyUsageDaily.via, apiKeyUsageDaily.access, apiKeyUsageDaily.code);
}

/** `Requests (7 d)` for every key of the account: all decisions of the last 7 × 24 hours, by key id (keys with none are absent). */
export async function countRecentRequests(accountId: string, now = Date.now()): Promise<Map<string, number>> {
  const db = await getDb();
  const rows = await db
    .select({ keyId: apiKeyUsageHourly.keyId, count: sql<number>`sum(${apiKeyUsageHourly.count})`.mapWith(Number) })
    .from(apiKeyUsageHourly)
    .where(and(eq(apiKeyUsageHourly.accountId, accountId), gte(apiKeyUsageHourly.bucket, hourOf(now) - 167 * HOUR_MS)))
    .groupBy(apiKeyUsageHourly.keyId);
  return new Map(rows.map((row) => [row.keyId, row.count]));
}

/** One CSV line's worth: a day's count for one resource, way in, access and outcome. */
export type UsageCsvRow = { day: number; resource: string; via: UsageVia; access: RequiredLevel; code: UsageCode; count: number; lastAt: number };

/** Everything kept of the key by day (up to 400 days), oldest first, for `Download usage`. */
export async function getUsageForExport(accountId: string, keyId: string): Promise<UsageCsvRow[]> {
  const db = await getDb();
  return db
    .select({
      day: apiKeyUsageDaily.bucket,
      resource: apiKeyUsageDaily.resource,
      via: apiKeyUsageDaily.via,
      access: apiKeyUsageDaily.access,
      code: apiKeyUsageDaily.code,
      count: apiKeyUsageDaily.count,
      lastAt: apiKeyUsageDaily.lastAt,
    })
    .from(apiKeyUsageDaily)
    .where(and(eq(apiKeyUsageDaily.accountId, accountId), eq(apiKeyUsageDaily.keyId, keyId)))
    .orderBy(asc(apiKeyUsageDaily.bucket), asc(apiKeyUsageDaily.resource), asc(apiKeyUsageDaily.via), asc(apiKeyUsageDaily.access), asc(apiKeyUsageDaily.code));
}

// At most this many rows per delete statement: a prune never holds the write lock long, and
// requests' bookkeeping writes queue between its statements.
const PRUNE_CHUNK = 2_000;

/**
 * Deletes hourly rows older than 31 days and daily rows older than 401 days, in small statements.
 * Returns how many rows went. Any process may run it; running it twice deletes nothing twice.
 */
export async function pruneUsage(now = Date.now()): Promise<{ hourly: number; daily: number }> {
  const db = await getDb();
  const removed = { hourly: 0, daily: 0 };
  for (const [name, table, cutoff] of [
    ["hourly", apiKeyUsageHourly, hourOf(now) - HOURLY_RETENTION_MS],
    ["daily", apiKeyUsageDaily, dayOf(now) - DAILY_RETENTION_MS],
  ] as const) {
    for (;;) {
      const old = db.select({ rowid: sql`rowid` }).from(table).where(lt(table.bucket, cutoff)).limit(PRUNE_CHUNK);
      const result = await db.delete(table).where(inArray(sql`rowid`, old));
      removed[name] += result.rowsAffected;
      if (result.rowsAffected < PRUNE_CHUNK) break;
    }
  }
  return removed;
}

/** Whether the key is the account's: callers answer "not found" alike for unknown and foreign ids. */
export async function isAccountKey(accountId: string, keyId: string): Promise<boolean> {
  const db = await getDb();
  const [row] = await db.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId))).limit(1);
  return row !== undefined;
}

/**
 * getUsageTallies for every key of the account at once (one query on the account's index), for
 * the list's `Edit scopes` impact preview: key id → its tallies; keys with no requests are absent.
 */
export async function getUsageTalliesByKey(accountId: string, days: number, now = Date.now()): Promise<Map<string, UsageTally[]>> {
  const from = dayOf(now) - (days - 1) * DAY_MS;
  const db = await getDb();
  const rows = await db
    .select({
      keyId: apiKeyUsageDaily.keyId,
      resource: apiKeyUsageDaily.resource,
      via: apiKeyUsageDaily.via,
      access: apiKeyUsageDaily.access,
      code: apiKeyUsageDaily.code,
      count: sql<number>`sum(${apiKeyUsageDaily.count})`.mapWith(Number),
    })
    .from(apiKeyUsageDaily)
    .where(and(eq(apiKeyUsageDaily.accountId, accountId), gte(apiKeyUsageDaily.bucket, from)))
    .groupBy(apiKeyUsageDaily.keyId, apiKeyUsageDaily.resource, apiKeyUsageDaily.via, apiKeyUsageDaily.access, apiKeyUsageDaily.code);
  const byKey = new Map<string, UsageTally[]>();
  for (const { keyId, ...tally } of rows) {
    const tallies = byKey.get(keyId);
    if (tallies) tallies.push(tally);
    else byKey.set(keyId, [tally]);
  }
  return byKey;
}
