import { rawRows, removeTestDatabase, testDatabasePath, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDatabaseHandle, getDb, openDatabaseHandle, type BatchStatement, type SqlRunner } from "@/db/handle";
import { clientSqlRunner } from "@/db/sql-runner";
import { DatabaseUnavailableError } from "@/db/unavailable";
import type { RequiredLevel } from "@/lib/core/scopes/levels";
import { DAY_MS, HOUR_MS, dayOf, hourOf, type UsageCode, type UsageVia } from "@/lib/core/usage/tally";
import { createAccount } from "./accounts";
import { createScopedApiKey, deleteApiKey } from "./api-keys";
import { createUsageRecorder, type UsageRecorder } from "./usage-recorder";

// SPEC §10 "Counting": every decision about a known key is counted in memory and written, with the
// last-used dates, in one transaction per flush interval — never a write per request.

let accountId = "";
let otherAccountId = "";
let runner: SqlRunner;

afterAll(removeTestDatabase);

beforeAll(async () => {
  runner = (await getDatabaseHandle()).sql; // creates and migrates the file
  const [a, b] = await Promise.all([createAccount(uniqueEmail("a"), "password-a-123"), createAccount(uniqueEmail("b"), "password-b-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  accountId = a.value.id;
  otherAccountId = b.value.id;
});

async function newKeyId(account = accountId): Promise<string> {
  const result = await createScopedApiKey(account, { name: "counted", scopes: { graphql: "read", endpointsAll: "none", endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  return result.value.key.id;
}

async function lastUsedOf(keyId: string): Promise<number | null> {
  const [row] = await rawRows("SELECT last_used_at AS at FROM api_keys WHERE id = ?", [keyId]);
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}

type Row = { account: string; key: string; bucket: number; resource: string; via: string; access: string; code: string; count: number; lastAt: number };

/** A usage table's rows for `keyIds`, in a stable order. */
async function usageRows(table: "hourly" | "daily", keyIds: string[]): Promise<Row[]> {
  const rows = await rawRows(
    `SELECT account_id, key_id, bucket, resource, via, access, code, count, last_at FROM api_key_usage_${table}
     WHERE key_id IN (SELECT value FROM json_each(?))`,
    [JSON.stringify(keyIds)],
  );
  return sortRows(rows.map((row) => ({
    account: String(row.account_id),
    key: String(row.key_id),
    bucket: Number(row.bucket),
    resource: String(row.resource),
    via: String(row.via),
    access: String(row.access),
    code: String(row.code),
    count: Number(row.count),
    lastAt: Number(row.last_at),
  })));
}

const rowOrder = (r: Row) => [r.key, String(r.bucket).padStart(16, "0"), r.resource, r.via, r.access, r.code].join("|");
const sortRows = (rows: Row[]) => rows.sort((a, b) => (rowOrder(a) < rowOrder(b) ? -1 : rowOrder(a) > rowOrder(b) ? 1 : 0));

type Decision = { key: string; at: number; resource: string; via: UsageVia; access: RequiredLevel; code: UsageCode };

/**
 * What the tables must hold after `decisions` were counted and flushed, worked out independently
 * of the recorder: one row per bucket × resource × via × access × code, its count and latest time.
 */
function expectedRows(decisions: Decision[], table: "hourly" | "daily", accountOf: (key: string) => string): Row[] {
  const rows = new Map<string, Row>();
  for (const d of decisions) {
    const bucket = table === "hourly" ? hourOf(d.at) : dayOf(d.at);
    const id = [d.key, bucket, d.resource, d.via, d.access, d.code].join("|");
    const row = rows.get(id);
    if (row) {
      row.count += 1;
      row.lastAt = Math.max(row.lastAt, d.at);
    } else rows.set(id, { account: accountOf(d.key), key: d.key, bucket, resource: d.resource, via: d.via, access: d.access, code: d.code, count: 1, lastAt: d.at });
  }
  return sortRows([...rows.values()]);
}

const count = (recorder: UsageRecorder, d: Decision) => recorder.count(d.key, d.at, d.resource, d.via, d.access, d.code);

/** The runner, with every batch (transaction) and its statements counted, and failures on demand. */
function instrumented(base: SqlRunner) {
  const calls = { batch: 0, batchAtExit: 0, statements: [] as number[], run: 0, runAtExit: 0 };
  // "reject": refused before anything runs (the lock not had in time). "midway": the transaction
  // runs its statements, then a bad one makes it roll back — the real all-or-nothing path.
  let failures: ("reject" | "midway")[] = [];
  const failing = (statements: readonly BatchStatement[]): readonly BatchStatement[] | "reject" => {
    const failure = failures.shift();
    if (failure === "reject") return "reject";
    return failure === "midway" ? [...statements, { sql: "INSERT INTO no_such_table (x) VALUES (1)", args: [] }] : statements;
  };
  const sql: SqlRunner = {
    ...base,
    run(statement, args) {
      calls.run += 1;
      return base.run(statement, args);
    },
    runAtExit(statement, args) {
      calls.runAtExit += 1;
      return base.runAtExit(statement, args);
    },
    batch(statements) {
      calls.batch += 1;
      calls.statements.push(statements.length);
      const run = failing(statements);
      if (run === "reject") return Promise.reject(new DatabaseUnavailableError("database locked past its timeout"));
      return base.batch(run);
    },
    batchAtExit(statements) {
      calls.batchAtExit += 1;
      calls.statements.push(statements.length);
      const run = failing(statements);
      if (run === "reject") throw new DatabaseUnavailableError("database locked past its timeout");
      return base.batchAtExit(run);
    },
  };
  return { sql, calls, fail: (...next: ("reject" | "midway")[]) => (failures = next) };
}

const RESOURCES = ["graphql", "ep_alpha", "ep_beta", "unknown"];
const CODES: UsageCode[] = ["VALID", "VALID", "VALID", "KEY_DISABLED", "KEY_EXPIRED", "IP_NOT_ALLOWED", "NOT_FOUND", "INSUFFICIENT_SCOPE", "RATE_LIMITED"];

/** `n` decisions spread over `keys`, resources, ways in, accesses, codes and hours (across a UTC midnight), out of time order. */
function manyDecisions(keys: string[], n: number, base: number): Decision[] {
  return Array.from({ length: n }, (_, i) => ({
    key: keys[i % keys.length]!,
    // Out of order on purpose: the latest time wins, not the last one counted.
    at: base + ((i * 7919) % 977) * 13_331,
    resource: RESOURCES[(i >> 1) % RESOURCES.length]!,
    via: i % 5 === 0 ? ("verify" as const) : ("api" as const),
    access: i % 3 === 0 ? ("read_write" as const) : ("read" as const),
    code: CODES[(i * 31) % CODES.length]!,
  }));
}

describe("one transaction per flush", () => {
  it("1,000 decisions over several keys, resources and codes: one batch of at most 3 statements, exact hourly and daily rows", async () => {
    const { sql, calls } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    const keys = [await newKeyId(), await newKeyId(), await newKeyId(), await newKeyId(otherAccountId)];
    const accountOf = (key: string) => (key === keys[3] ? otherAccountId : accountId);
    // Starts 2 h before a UTC midnight and runs ~3.6 h: two days, several hours.
    const base = Date.UTC(2026, 4, 10, 22, 0, 0);
    const decisions = manyDecisions(keys, 1_000, base);
    for (const d of decisions) count(recorder, d);
    expect(new Set(decisions.map((d) => dayOf(d.at))).size).toBe(2);
    expect(new Set(decisions.map((d) => hourOf(d.at))).size).toBeGreaterThanOrEqual(4);

    expect(calls).toMatchObject({ batch: 0, run: 0 }); // nothing written per decision
    await recorder.flush();
    expect(calls).toMatchObject({ batch: 1, batchAtExit: 0, run: 0, runAtExit: 0 });
    expect(calls.statements[0]).toBeLessThanOrEqual(3);
    expect(recorder.stats).toMatchObject({ flushes: 1, statements: calls.statements[0], failures: 0, pending: 0 });

    const hourly = await usageRows("hourly", keys);
    expect(hourly).toEqual(expectedRows(decisions, "hourly", accountOf));
    expect(hourly.reduce((sum, row) => sum + row.count, 0)).toBe(1_000);
    const daily = await usageRows("daily", keys);
    expect(daily).toEqual(expectedRows(decisions, "daily", accountOf));
    // The roll-up is the hourly rows summed by day.
    expect(daily.reduce((sum, row) => sum + row.count, 0)).toBe(1_000);
    for (const row of daily) expect(row.bucket % DAY_MS).toBe(0);

    // The last used date is the latest allowed decision's, never a refused one's.
    for (const key of keys) {
      const allowed = decisions.filter((d) => d.key === key && d.code === "VALID").map((d) => d.at);
      expect(await lastUsedOf(key)).toBe(Math.max(...allowed));
      expect(Math.max(...decisions.filter((d) => d.key === key).map((d) => d.at))).toBeGreaterThan(Math.max(...allowed));
    }
  });

  it("only an allowed decision sets the last used date", async () => {
    const recorder = createUsageRecorder(runner);
    const refused = await newKeyId();
    const allowed = await newKeyId();
    const at = Date.UTC(2026, 4, 11, 8, 0, 0);
    for (const code of CODES.filter((c) => c !== "VALID")) recorder.count(refused, at, "graphql", "api", "read", code);
    recorder.count(allowed, at + 5, "graphql", "verify", "read", "VALID");
    recorder.count(allowed, at + 9, "graphql", "api", "read", "RATE_LIMITED");
    await recorder.flush();
    expect(await lastUsedOf(refused)).toBeNull();
    expect(await lastUsedOf(allowed)).toBe(at + 5);
    expect((await usageRows("hourly", [refused])).map((row) => [row.code, row.count])).toEqual(
      ["INSUFFICIENT_SCOPE", "IP_NOT_ALLOWED", "KEY_DISABLED", "KEY_EXPIRED", "NOT_FOUND", "RATE_LIMITED"].map((code) => [code, 1]),
    );
  });

  it("only refusals: no last-used statement, the counts alone", async () => {
    const { sql, calls } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    const id = await newKeyId();
    recorder.count(id, Date.UTC(2026, 4, 11, 9), "graphql", "api", "read", "INSUFFICIENT_SCOPE");
    await recorder.flush();
    expect(calls.statements).toEqual([2]);
    expect(await lastUsedOf(id)).toBeNull();
    expect(await usageRows("hourly", [id])).toHaveLength(1);
  });

  it("a flush with nothing counted writes nothing", async () => {
    const { sql, calls } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    await recorder.flush();
    recorder.flushAtExit();
    expect(calls).toMatchObject({ batch: 0, batchAtExit: 0, run: 0, runAtExit: 0 });
    expect(recorder.stats.flushes).toBe(0);
  });

  it("the timer flushes on its own, once per interval at most", async () => {
    const { sql, calls } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    const id = await newKeyId();
    recorder.start(20);
    try {
      for (let i = 0; i < 200; i++) recorder.count(id, 1_700_000_100_000 + i, "graphql", "api", "read", "VALID");
      await vi.waitFor(() => expect(calls.batch).toBe(1), { timeout: 1000, interval: 5 });
      expect(await lastUsedOf(id)).toBe(1_700_000_100_199);
      expect((await usageRows("hourly", [id])).map((row) => row.count)).toEqual([200]);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(calls.batch).toBe(1); // nothing new counted, nothing written
    } finally {
      recorder.stop();
    }
  });
});

describe("adding up", () => {
  it("two flushes into the same rows add their counts; last_at keeps the latest", async () => {
    const recorder = createUsageRecorder(runner);
    const id = await newKeyId();
    const hour = Date.UTC(2026, 4, 12, 14);
    for (let i = 0; i < 7; i++) recorder.count(id, hour + 30_000 + i, "ep_alpha", "api", "read", "VALID");
    await recorder.flush();
    // Earlier times in the same hour: the count grows, last_at stays.
    for (let i = 0; i < 5; i++) recorder.count(id, hour + 1_000 + i, "ep_alpha", "api", "read", "VALID");
    await recorder.flush();
    expect(await usageRows("hourly", [id])).toEqual([
      { account: accountId, key: id, bucket: hour, resource: "ep_alpha", via: "api", access: "read", code: "VALID", count: 12, lastAt: hour + 30_006 },
    ]);
    // A later time, in another hour of the same day: a new hourly row, the same daily row.
    recorder.count(id, hour + HOUR_MS + 5, "ep_alpha", "api", "read", "VALID");
    await recorder.flush();
    expect((await usageRows("hourly", [id])).map((row) => [row.bucket, row.count, row.lastAt])).toEqual([
      [hour, 12, hour + 30_006],
      [hour + HOUR_MS, 1, hour + HOUR_MS + 5],
    ]);
    expect((await usageRows("daily", [id])).map((row) => [row.bucket, row.count, row.lastAt])).toEqual([[dayOf(hour), 13, hour + HOUR_MS + 5]]);
    expect(await lastUsedOf(id)).toBe(hour + HOUR_MS + 5);
  });

  it("two processes flushing into the same rows add up, and the last used date never moves back", async () => {
    const first = createUsageRecorder(runner);
    // Another process: a handle of its own.
    const secondProcess = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 2_000 });
    const second = createUsageRecorder(secondProcess.sql);
    try {
      const id = await newKeyId();
      const hour = Date.UTC(2026, 4, 13, 3);
      for (let i = 0; i < 300; i++) second.count(id, hour + 100 + i, "graphql", "api", "read", i % 2 ? "VALID" : "INSUFFICIENT_SCOPE");
      for (let i = 0; i < 200; i++) first.count(id, hour + 5_000 + i, "graphql", "api", "read", i % 2 ? "VALID" : "INSUFFICIENT_SCOPE");
      await Promise.all([second.flush(), first.flush()]);
      expect(first.stats.failures + second.stats.failures).toBe(0);
      expect((await usageRows("hourly", [id])).map((row) => [row.code, row.count, row.lastAt])).toEqual([
        ["INSUFFICIENT_SCOPE", 250, hour + 5_198],
        ["VALID", 250, hour + 5_199],
      ]);
      expect((await usageRows("daily", [id])).map((row) => [row.code, row.count])).toEqual([
        ["INSUFFICIENT_SCOPE", 250],
        ["VALID", 250],
      ]);
      // The older process flushing last does not move the date back.
      second.count(id, hour + 1, "graphql", "api", "read", "VALID");
      await second.flush();
      expect(await lastUsedOf(id)).toBe(hour + 5_199);
    } finally {
      secondProcess.close();
    }
  });
});

describe("deleted keys", () => {
  it("counts of a key deleted before the flush are dropped without failing the batch; the other keys' counts land", async () => {
    const { sql, calls } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    const [kept, deleted] = [await newKeyId(), await newKeyId()];
    const at = Date.UTC(2026, 4, 14, 6);
    recorder.count(kept, at, "graphql", "api", "read", "VALID");
    recorder.count(deleted, at, "graphql", "api", "read", "VALID");
    recorder.count(deleted, at, "ep_alpha", "verify", "read_write", "INSUFFICIENT_SCOPE");
    recorder.count("key_never_existed", at, "graphql", "api", "read", "VALID");
    expect((await deleteApiKey(accountId, deleted, { type: "dashboard" })).ok).toBe(true);
    await recorder.flush();
    expect(calls.batch).toBe(1);
    expect(recorder.stats).toMatchObject({ failures: 0, pending: 0 });
    expect((await usageRows("hourly", [kept])).map((row) => row.count)).toEqual([1]);
    expect((await usageRows("daily", [kept])).map((row) => row.count)).toEqual([1]);
    expect(await usageRows("hourly", [deleted, "key_never_existed"])).toEqual([]);
    expect(await usageRows("daily", [deleted, "key_never_existed"])).toEqual([]);
    expect(await lastUsedOf(kept)).toBe(at);
  });

  it("a key's usage goes with the key", async () => {
    const recorder = createUsageRecorder(runner);
    const id = await newKeyId();
    recorder.count(id, Date.UTC(2026, 4, 14, 7), "graphql", "api", "read", "VALID");
    await recorder.flush();
    expect(await usageRows("hourly", [id])).toHaveLength(1);
    expect((await deleteApiKey(accountId, id, { type: "dashboard" })).ok).toBe(true);
    expect(await usageRows("hourly", [id])).toEqual([]);
    expect(await usageRows("daily", [id])).toEqual([]);
  });
});

describe("failures", () => {
  it.each(["reject", "midway"] as const)(
    "a failing batch (%s) keeps everything for the next flush: counts neither lost nor doubled",
    async (failure) => {
      const error = vi.spyOn(console, "error").mockImplementation(() => {});
      try {
        const { sql, calls, fail } = instrumented(runner);
        const recorder = createUsageRecorder(sql);
        const [a, b] = [await newKeyId(), await newKeyId()];
        const hour = Date.UTC(2026, 4, 15, 9);
        const decisions: Decision[] = [];
        const add = (d: Decision) => {
          decisions.push(d);
          count(recorder, d);
        };
        for (let i = 0; i < 40; i++) add({ key: i % 2 ? a : b, at: hour + 1_000 * i, resource: "graphql", via: "api", access: "read", code: i % 4 ? "VALID" : "NOT_FOUND" });
        fail(failure);
        await expect(recorder.flush()).resolves.toBeUndefined();
        // Two last-used dates, three counts (a: VALID; b: VALID and NOT_FOUND).
        expect(recorder.stats).toMatchObject({ failures: 1, pending: 2 + 3 });
        expect(await usageRows("hourly", [a, b])).toEqual([]);
        expect(await lastUsedOf(a)).toBeNull();
        // Counted while the failed batch waited, into the same rows and new ones; one older for a's date.
        for (let i = 0; i < 10; i++) add({ key: i % 2 ? a : b, at: hour + HOUR_MS + i, resource: "graphql", via: "api", access: "read", code: "VALID" });
        add({ key: a, at: hour + 500, resource: "graphql", via: "api", access: "read", code: "NOT_FOUND" });
        await recorder.flush();
        expect(calls.batch).toBe(2);
        expect(recorder.stats).toMatchObject({ failures: 1, pending: 0 });
        const accountOf = () => accountId;
        expect(await usageRows("hourly", [a, b])).toEqual(expectedRows(decisions, "hourly", accountOf).filter((row) => row.key === a || row.key === b));
        expect(await usageRows("daily", [a, b])).toEqual(expectedRows(decisions, "daily", accountOf).filter((row) => row.key === a || row.key === b));
        expect(await lastUsedOf(a)).toBe(hour + HOUR_MS + 9);
        // The log line names the error, never a key.
        expect(error).toHaveBeenCalled();
        for (const call of error.mock.calls) expect(String(call.join(" "))).not.toMatch(/key_/);
      } finally {
        error.mockRestore();
      }
    },
  );

  it("a batch failing synchronously (a throw, not a rejected promise) still never throws and keeps its counts", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      let fail = true;
      const sql: SqlRunner = {
        ...runner,
        batch(statements) {
          if (fail) {
            fail = false;
            throw new Error("boom");
          }
          return runner.batch(statements);
        },
      };
      const recorder = createUsageRecorder(sql);
      const id = await newKeyId();
      recorder.count(id, 1_700_000_500_000, "graphql", "api", "read", "VALID");
      await expect(recorder.flush()).resolves.toBeUndefined();
      expect(recorder.stats.pending).toBe(2);
      await recorder.flush();
      expect(await lastUsedOf(id)).toBe(1_700_000_500_000);
      expect((await usageRows("hourly", [id])).map((row) => row.count)).toEqual([1]);
    } finally {
      error.mockRestore();
    }
  });

  it("the timer keeps going after failed flushes", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { sql, calls, fail } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    try {
      const id = await newKeyId();
      recorder.count(id, 1_700_000_600_000, "graphql", "api", "read", "VALID");
      fail("reject", "midway");
      recorder.start(10);
      await vi.waitFor(async () => expect(await lastUsedOf(id)).toBe(1_700_000_600_000), { timeout: 2000, interval: 10 });
      expect(calls.batch).toBe(3);
      expect((await usageRows("hourly", [id])).map((row) => row.count)).toEqual([1]);
    } finally {
      recorder.stop();
      error.mockRestore();
    }
  });
});

describe("flushAtExit", () => {
  it("writes the counts and dates synchronously on a file database, in one batch", async () => {
    const { sql, calls } = instrumented(runner);
    const recorder = createUsageRecorder(sql);
    const id = await newKeyId();
    const at = Date.UTC(2026, 4, 16, 11, 30);
    recorder.count(id, at, "graphql", "api", "read", "VALID");
    recorder.count(id, at + 1, "ep_alpha", "verify", "read_write", "KEY_EXPIRED");
    recorder.flushAtExit();
    // No await between the call and these reads: the write is on disk already, visible to another connection.
    const other = new Database(testDatabasePath);
    try {
      expect(other.prepare("SELECT last_used_at AS at FROM api_keys WHERE id = ?").get(id)).toMatchObject({ at });
      expect(other.prepare("SELECT code, count FROM api_key_usage_hourly WHERE key_id = ? ORDER BY code").all(id)).toEqual([
        { code: "KEY_EXPIRED", count: 1 },
        { code: "VALID", count: 1 },
      ]);
      expect(other.prepare("SELECT sum(count) AS n FROM api_key_usage_daily WHERE key_id = ?").get(id)).toMatchObject({ n: 2 });
    } finally {
      other.close();
    }
    expect(calls).toMatchObject({ batch: 0, batchAtExit: 1, run: 0, runAtExit: 0, statements: [3] });
    expect(recorder.stats.pending).toBe(0);
  });

  it("adds to what earlier flushes wrote, and is forward only for dates", async () => {
    const recorder = createUsageRecorder(runner);
    const id = await newKeyId();
    const hour = Date.UTC(2026, 4, 16, 12);
    recorder.count(id, hour + 9_000, "graphql", "api", "read", "VALID");
    await recorder.flush();
    recorder.count(id, hour + 1_000, "graphql", "api", "read", "VALID");
    recorder.flushAtExit();
    expect(await lastUsedOf(id)).toBe(hour + 9_000);
    expect((await usageRows("hourly", [id])).map((row) => [row.count, row.lastAt])).toEqual([[2, hour + 9_000]]);
  });

  it("keeps the counts when the database cannot write synchronously (libSQL server), for a later flush", async () => {
    const recorder = createUsageRecorder(clientSqlRunner((await getDb()).$client));
    const id = await newKeyId();
    recorder.count(id, 1_700_000_800_000, "graphql", "api", "read", "VALID");
    recorder.flushAtExit();
    expect(recorder.stats.pending).toBe(2);
    expect(await usageRows("hourly", [id])).toEqual([]);
    await recorder.flush(); // through @libsql/client's batch: one transaction too
    expect(await lastUsedOf(id)).toBe(1_700_000_800_000);
    expect((await usageRows("hourly", [id])).map((row) => row.count)).toEqual([1]);
    expect((await usageRows("daily", [id])).map((row) => row.count)).toEqual([1]);
  });

  it("never throws, even when the write fails", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const { sql, fail } = instrumented(runner);
      const recorder = createUsageRecorder(sql);
      recorder.count(await newKeyId(), 1_700_000_900_000, "graphql", "api", "read", "VALID");
      fail("midway");
      expect(() => recorder.flushAtExit()).not.toThrow();
      expect(recorder.stats.failures).toBe(1);
    } finally {
      error.mockRestore();
    }
  });
});
