import { rawRows, removeTestDatabase, testDatabasePath, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import type { InValue } from "@libsql/client";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDatabaseHandle, getDb, openDatabaseHandle, type SqlRunner } from "@/db/handle";
import { clientSqlRunner } from "@/db/sql-runner";
import { DatabaseUnavailableError } from "@/db/unavailable";
import { createAccount } from "./accounts";
import { createScopedApiKey } from "./api-keys";
import { createLastUsedRecorder } from "./last-used";

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
  const result = await createScopedApiKey(account, { name: "last used", scopes: { graphql: "read", endpointsAll: "none", endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  return result.value.key.id;
}

async function lastUsedOf(keyId: string): Promise<number | null> {
  const [row] = await rawRows("SELECT last_used_at AS at FROM api_keys WHERE id = ?", [keyId]);
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}

/** The runner, with every write statement counted, and optionally failing. */
function instrumented(base: SqlRunner, failNext = 0) {
  const counts = { run: 0, runAtExit: 0 };
  let failures = failNext;
  const sql: SqlRunner = {
    ...base,
    run(statement: string, args: InValue[]) {
      counts.run += 1;
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new DatabaseUnavailableError("database locked past its timeout"));
      }
      return base.run(statement, args);
    },
    runAtExit(statement: string, args: InValue[]) {
      counts.runAtExit += 1;
      return base.runAtExit(statement, args);
    },
  };
  return { sql, counts, failNext: (n: number) => (failures = n) };
}

describe("batching", () => {
  it("1000 recorded uses between flushes cause exactly one write statement", async () => {
    const { sql, counts } = instrumented(runner);
    const recorder = createLastUsedRecorder(sql);
    const ids = [await newKeyId(), await newKeyId(), await newKeyId()];
    const base = 1_700_000_000_000;
    const latest = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const id = ids[i % ids.length]!;
      // Out of order on purpose: the latest time wins, not the last one recorded.
      const at = base + ((i * 7919) % 1000);
      recorder.record(id, at);
      latest.set(id, Math.max(latest.get(id) ?? 0, at));
    }
    expect(counts.run).toBe(0);
    expect(recorder.stats.pending).toBe(3);
    await recorder.flush();
    expect(counts.run).toBe(1);
    expect(recorder.stats).toMatchObject({ flushes: 1, failures: 0, pending: 0 });
    for (const id of ids) expect(await lastUsedOf(id)).toBe(latest.get(id));
  });

  it("a flush with nothing recorded writes nothing", async () => {
    const { sql, counts } = instrumented(runner);
    const recorder = createLastUsedRecorder(sql);
    await recorder.flush();
    recorder.flushAtExit();
    expect(counts).toEqual({ run: 0, runAtExit: 0 });
    expect(recorder.stats.flushes).toBe(0);
  });

  it("the timer flushes on its own, once per interval at most", async () => {
    const { sql, counts } = instrumented(runner);
    const recorder = createLastUsedRecorder(sql);
    const id = await newKeyId();
    recorder.start(20);
    try {
      for (let i = 0; i < 200; i++) recorder.record(id, 1_700_000_100_000 + i);
      await vi.waitFor(() => expect(counts.run).toBe(1), { timeout: 1000, interval: 5 });
      expect(await lastUsedOf(id)).toBe(1_700_000_100_199);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(counts.run).toBe(1); // nothing new recorded, nothing written
    } finally {
      recorder.stop();
    }
  });

  it("a key id of no row (deleted since) is harmless, and the rest of the batch is written", async () => {
    const recorder = createLastUsedRecorder(runner);
    const id = await newKeyId();
    recorder.record("key_does_not_exist", 1_700_000_200_000);
    recorder.record(id, 1_700_000_200_000);
    await recorder.flush();
    expect(recorder.stats.failures).toBe(0);
    expect(await lastUsedOf(id)).toBe(1_700_000_200_000);
  });

  it("writes only the keys it recorded, whatever account they belong to", async () => {
    const recorder = createLastUsedRecorder(runner);
    const [mine, untouched, theirs] = [await newKeyId(), await newKeyId(), await newKeyId(otherAccountId)];
    recorder.record(mine, 1_700_000_300_000);
    recorder.record(theirs, 1_700_000_300_001);
    await recorder.flush();
    expect(await lastUsedOf(mine)).toBe(1_700_000_300_000);
    expect(await lastUsedOf(theirs)).toBe(1_700_000_300_001);
    expect(await lastUsedOf(untouched)).toBeNull();
  });
});

describe("forward only", () => {
  it("recording an older time after a newer one was flushed leaves it unchanged", async () => {
    const recorder = createLastUsedRecorder(runner);
    const id = await newKeyId();
    recorder.record(id, 2_000_000_000_000);
    await recorder.flush();
    recorder.record(id, 1_999_999_999_000);
    await recorder.flush();
    expect(await lastUsedOf(id)).toBe(2_000_000_000_000);
    recorder.record(id, 2_000_000_000_001);
    await recorder.flush();
    expect(await lastUsedOf(id)).toBe(2_000_000_000_001);
  });

  it("another process's older pending time does not move it back", async () => {
    const first = createLastUsedRecorder(runner);
    // Another process: a handle of its own.
    const secondProcess = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 2_000 });
    const second = createLastUsedRecorder(secondProcess.sql);
    try {
      const id = await newKeyId();
      second.record(id, 1_500_000_000_000);
      first.record(id, 1_600_000_000_000);
      await first.flush();
      await second.flush();
      expect(await lastUsedOf(id)).toBe(1_600_000_000_000);
    } finally {
      secondProcess.close();
    }
  });
});

describe("failures", () => {
  it("a failing flush never throws and keeps the pending uses for the next one", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const { sql, counts } = instrumented(runner, 1);
      const recorder = createLastUsedRecorder(sql);
      const [a, b] = [await newKeyId(), await newKeyId()];
      recorder.record(a, 1_700_000_400_000);
      recorder.record(b, 1_700_000_400_000);
      await expect(recorder.flush()).resolves.toBeUndefined();
      expect(recorder.stats).toMatchObject({ failures: 1, pending: 2 });
      expect(await lastUsedOf(a)).toBeNull();
      // Recorded while the failed batch waited: older for a (kept at the later time), newer for b.
      recorder.record(a, 1_700_000_399_000);
      recorder.record(b, 1_700_000_401_000);
      await recorder.flush();
      expect(counts.run).toBe(2);
      expect(recorder.stats).toMatchObject({ failures: 1, pending: 0 });
      expect(await lastUsedOf(a)).toBe(1_700_000_400_000);
      expect(await lastUsedOf(b)).toBe(1_700_000_401_000);
      // The log line names the error, never a key.
      for (const call of error.mock.calls) expect(String(call.join(" "))).not.toMatch(/key_/);
    } finally {
      error.mockRestore();
    }
  });

  it("a flush failing synchronously (not a rejected promise) still never throws", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      let fail = true;
      const sql: SqlRunner = {
        ...runner,
        run(statement, args) {
          if (fail) {
            fail = false;
            throw new Error("boom");
          }
          return runner.run(statement, args);
        },
      };
      const recorder = createLastUsedRecorder(sql);
      const id = await newKeyId();
      recorder.record(id, 1_700_000_500_000);
      await expect(recorder.flush()).resolves.toBeUndefined();
      expect(recorder.stats.pending).toBe(1);
      await recorder.flush();
      expect(await lastUsedOf(id)).toBe(1_700_000_500_000);
    } finally {
      error.mockRestore();
    }
  });

  it("the timer keeps going after a failed flush", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const { sql, counts } = instrumented(runner, 2);
    const recorder = createLastUsedRecorder(sql);
    try {
      const id = await newKeyId();
      recorder.record(id, 1_700_000_600_000);
      recorder.start(10);
      await vi.waitFor(async () => expect(await lastUsedOf(id)).toBe(1_700_000_600_000), { timeout: 2000, interval: 10 });
      expect(counts.run).toBe(3);
    } finally {
      recorder.stop();
      error.mockRestore();
    }
  });
});

describe("flushAtExit", () => {
  it("writes synchronously on a file database", async () => {
    const { sql, counts } = instrumented(runner);
    const recorder = createLastUsedRecorder(sql);
    const id = await newKeyId();
    recorder.record(id, 1_700_000_700_000);
    recorder.flushAtExit();
    // No await between the call and this read: the write is on disk already, visible to another connection.
    const other = new Database(testDatabasePath);
    try {
      const row = other.prepare("SELECT last_used_at AS at FROM api_keys WHERE id = ?").get(id) as { at: number };
      expect(row.at).toBe(1_700_000_700_000);
    } finally {
      other.close();
    }
    expect(counts).toEqual({ run: 0, runAtExit: 1 });
    expect(recorder.stats.pending).toBe(0);
  });

  it("is forward only too", async () => {
    const recorder = createLastUsedRecorder(runner);
    const id = await newKeyId();
    recorder.record(id, 1_800_000_000_000);
    await recorder.flush();
    recorder.record(id, 1_700_000_000_000);
    recorder.flushAtExit();
    expect(await lastUsedOf(id)).toBe(1_800_000_000_000);
  });

  it("keeps the uses when the database cannot write synchronously (libSQL server), for a later flush", async () => {
    const recorder = createLastUsedRecorder(clientSqlRunner((await getDb()).$client));
    const id = await newKeyId();
    recorder.record(id, 1_700_000_800_000);
    recorder.flushAtExit();
    expect(recorder.stats.pending).toBe(1);
    await recorder.flush();
    expect(await lastUsedOf(id)).toBe(1_700_000_800_000);
  });

  it("never throws, even when the write fails", async () => {
    const sql: SqlRunner = {
      ...runner,
      runAtExit: () => {
        throw new Error("SQLITE_BUSY");
      },
    };
    const recorder = createLastUsedRecorder(sql);
    recorder.record(await newKeyId(), 1_700_000_900_000);
    expect(() => recorder.flushAtExit()).not.toThrow();
    expect(recorder.stats.failures).toBe(1);
  });
});
