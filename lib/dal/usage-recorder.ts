import "server-only";
import type { BatchStatement, SqlRunner } from "@/db/handle";
import { REQUIRED_LEVELS, type RequiredLevel } from "@/lib/core/scopes/levels";
import { DAY_MS, USAGE_CODES, hourOf, type UsageCode, type UsageVia } from "@/lib/core/usage/tally";

// Forward-only: a flush never moves a key's last used date back, whichever process wrote last.
const LAST_USED = `
  UPDATE api_keys SET last_used_at = u.at
  FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS at FROM json_each(?1)) AS u
  WHERE api_keys.id = u.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.at)`;

// SPEC §10: the interval's counts added to the key's hourly and daily rows. Keys deleted since are
// skipped by the join (their rows went with them); the account comes from the key itself.
// `WHERE true`: without it SQLite reads ON CONFLICT as the join's ON.
function addCounts(table: "api_key_usage_hourly" | "api_key_usage_daily", bucket: string): string {
  return `
  INSERT INTO ${table} (account_id, key_id, bucket, resource, via, access, code, count, last_at)
  SELECT k.account_id, u.key_id, ${bucket}, u.resource, u.via, u.access, u.code, u.count, u.last_at
  FROM (SELECT json_extract(value, '$[0]') AS key_id, json_extract(value, '$[1]') AS hour,
               json_extract(value, '$[2]') AS resource, json_extract(value, '$[3]') AS via,
               json_extract(value, '$[4]') AS access, json_extract(value, '$[5]') AS code,
               json_extract(value, '$[6]') AS count, json_extract(value, '$[7]') AS last_at
        FROM json_each(?1)) AS u
  JOIN api_keys k ON k.id = u.key_id
  WHERE true
  ON CONFLICT (key_id, bucket, resource, via, access, code)
  DO UPDATE SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)`;
}
const ADD_HOURLY = addCounts("api_key_usage_hourly", "u.hour");
const ADD_DAILY = addCounts("api_key_usage_daily", `u.hour - (u.hour % ${DAY_MS})`);

/** One count: [keyId, hour, resource, via, access, code, count, lastAt], as the flush's JSON carries it. */
type Count = [string, number, string, UsageVia, RequiredLevel, UsageCode, number, number];

export type UsageRecorder = {
  /** One decision about a known key (SPEC §10); an allowed one (`VALID`) is also the key's last use. */
  count(keyId: string, at: number, resource: string, via: UsageVia, access: RequiredLevel, code: UsageCode): void;
  /** Writes what was recorded in one transaction; a failure keeps it for the next flush. */
  flush(): Promise<void>;
  /** For process exit: writes synchronously where the database allows it. */
  flushAtExit(): void;
  start(intervalMs: number): void;
  stop(): void;
  /** `decisions`: counted; `flushes`: transactions written; `statements`: statements in them; `pending`: keys and counts waiting. */
  readonly stats: { decisions: number; flushes: number; statements: number; failures: number; pending: number };
};

/**
 * The counts of one interval, nested so that counting a decision builds no string and allocates
 * nothing once a (key, resource) pair has been seen: hour → key id → resource → one array of
 * [count, lastAt] per (via, access, code) slot.
 */
type Counts = Map<number, Map<string, Map<string, number[]>>>;
type Batch = { lastUsed: Map<string, number>; counts: Counts; size: number };

const VIAS: readonly UsageVia[] = ["api", "verify"];
const ACCESSES: readonly RequiredLevel[] = REQUIRED_LEVELS;
const CODE_INDEX = Object.fromEntries(USAGE_CODES.map((code, index) => [code, index])) as Record<UsageCode, number>;

function slotOf(via: UsageVia, access: RequiredLevel, code: UsageCode): number {
  return ((via === "api" ? 0 : 1) * ACCESSES.length + (access === "read" ? 0 : 1)) * USAGE_CODES.length + CODE_INDEX[code];
}

function emptyBatch(): Batch {
  return { lastUsed: new Map(), counts: new Map(), size: 0 };
}

/**
 * Each decision notes its key here, in memory; a timer writes the interval's last-used dates and
 * usage counts at most once per interval, in one transaction (the dates, the hourly counts, their
 * daily roll-up). Requests never wait for it and never fail by it; `kill -9` loses at most one
 * interval.
 */
export function createUsageRecorder(sql: SqlRunner): UsageRecorder {
  let pending = emptyBatch();
  let timer: NodeJS.Timeout | undefined;
  // The hour last counted into, and its map: almost every decision falls in the same hour.
  let currentHour = NaN;
  let currentKeys: Map<string, Map<string, number[]>> | undefined;
  const stats = {
    decisions: 0,
    flushes: 0,
    statements: 0,
    failures: 0,
    get pending() {
      return pending.lastUsed.size + pending.size;
    },
  };

  function noteUse(lastUsed: Map<string, number>, keyId: string, at: number) {
    if ((lastUsed.get(keyId) ?? 0) < at) lastUsed.set(keyId, at);
  }

  function keysOf(batch: Batch, hour: number): Map<string, Map<string, number[]>> {
    if (batch === pending && hour === currentHour) return currentKeys!;
    let keys = batch.counts.get(hour);
    if (!keys) batch.counts.set(hour, (keys = new Map()));
    if (batch === pending) {
      currentHour = hour;
      currentKeys = keys;
    }
    return keys;
  }

  function addCount(batch: Batch, hour: number, keyId: string, resource: string, slot: number, count: number, lastAt: number) {
    const keys = keysOf(batch, hour);
    let resources = keys.get(keyId);
    if (!resources) keys.set(keyId, (resources = new Map()));
    let cells = resources.get(resource);
    // Grown to the highest slot used only: the common first slot (api, read, VALID) costs two numbers.
    if (!cells) resources.set(resource, (cells = []));
    const counted = cells[slot * 2] ?? 0;
    if (counted === 0) batch.size += 1;
    cells[slot * 2] = counted + count;
    if ((cells[slot * 2 + 1] ?? 0) < lastAt) cells[slot * 2 + 1] = lastAt;
  }

  /** Every non-zero cell of a batch, as the flush's JSON carries it. */
  function entries(batch: Batch): Count[] {
    const out: Count[] = [];
    for (const [hour, keys] of batch.counts) {
      for (const [keyId, resources] of keys) {
        for (const [resource, cells] of resources) {
          for (let slot = 0; slot * 2 < cells.length; slot++) {
            const count = cells[slot * 2] ?? 0;
            if (count === 0) continue;
            const code = USAGE_CODES[slot % USAGE_CODES.length]!;
            const access = ACCESSES[Math.floor(slot / USAGE_CODES.length) % ACCESSES.length]!;
            const via = VIAS[Math.floor(slot / (USAGE_CODES.length * ACCESSES.length))]!;
            out.push([keyId, hour, resource, via, access, code, count, cells[slot * 2 + 1]!]);
          }
        }
      }
    }
    return out;
  }

  function take(): { batch: Batch; statements: BatchStatement[] } | null {
    if (pending.lastUsed.size === 0 && pending.size === 0) return null;
    const batch = pending;
    pending = emptyBatch();
    currentHour = NaN;
    currentKeys = undefined;
    const statements: BatchStatement[] = [];
    if (batch.lastUsed.size > 0) statements.push({ sql: LAST_USED, args: [JSON.stringify([...batch.lastUsed])] });
    if (batch.size > 0) {
      const counts = JSON.stringify(entries(batch));
      statements.push({ sql: ADD_HOURLY, args: [counts] }, { sql: ADD_DAILY, args: [counts] });
    }
    return { batch, statements };
  }

  /** A failed flush's batch goes back into what the next one writes. */
  function restore(batch: Batch) {
    for (const [keyId, at] of batch.lastUsed) noteUse(pending.lastUsed, keyId, at);
    for (const [keyId, hour, resource, via, access, code, count, lastAt] of entries(batch)) {
      addCount(pending, hour, keyId, resource, slotOf(via, access, code), count, lastAt);
    }
  }

  function failed(error: unknown) {
    stats.failures += 1;
    console.error(`usage flush failed: ${error instanceof Error ? error.name : "unknown"}`);
  }

  return {
    count(keyId, at, resource, via, access, code) {
      stats.decisions += 1;
      if (code === "VALID") noteUse(pending.lastUsed, keyId, at);
      addCount(pending, hourOf(at), keyId, resource, slotOf(via, access, code), 1, at);
    },
    async flush() {
      const taken = take();
      if (!taken) return;
      stats.flushes += 1;
      stats.statements += taken.statements.length;
      try {
        await sql.batch(taken.statements);
      } catch (error) {
        restore(taken.batch);
        failed(error);
      }
    },
    flushAtExit() {
      const taken = take();
      if (!taken) return;
      try {
        // Null: not possible here (a libSQL server); kept, though no later flush may come.
        if (sql.batchAtExit(taken.statements) === null) return restore(taken.batch);
        stats.flushes += 1;
        stats.statements += taken.statements.length;
      } catch (error) {
        failed(error);
      }
    },
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => void this.flush(), intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    stats,
  };
}
