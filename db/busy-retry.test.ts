import { removeTestDatabase, testDatabaseDir, testDatabasePath, uniqueEmail } from "@/testing/test-database";
import path from "node:path";
import { createClient } from "@libsql/client";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, deleteApiKey, getApiKey, listApiKeys, setApiKeyEnabled, updateApiKeyScopes } from "@/lib/dal/api-keys";
import { createEndpoint, listEndpoints } from "@/lib/dal/endpoints";
import { createKeyStore } from "@/lib/dal/key-store";
import { createUsageRecorder } from "@/lib/dal/usage-recorder";
import { holdWriteLock, watchEventLoop, type LockHolder } from "@/testing/lock-holder";
import { hashKey } from "@/lib/core/keys/hash";
import { decide } from "@/lib/core/verify/verifier";
import { BusyRetryClient, NATIVE_BUSY_TIMEOUT_MS, statementKind } from "./busy-retry";
import { getDatabaseHandle, openDatabaseHandle, type Database as Db, type SqlRunner } from "./handle";
import { migrateDatabase } from "./migrate";
import { DatabaseUnavailableError, isDatabaseUnavailable } from "./unavailable";
import { WriteQueue } from "./write-queue";

// Issue item A at the data-access level: another process holds `BEGIN IMMEDIATE`. Reads and
// verifications answer from committed data at once; every write waits asynchronously and gives
// up with DatabaseUnavailableError after DATABASE_BUSY_TIMEOUT_MS; nothing is left stuck after.
const BUSY_TIMEOUT_MS = 600;
process.env.DATABASE_BUSY_TIMEOUT_MS = String(BUSY_TIMEOUT_MS);
// What "at once" and "never stalls" mean here. A wait that blocked the event loop would show up
// as a stall of the whole busy timeout; the bounds leave room for a shared, oversubscribed 2-core
// machine (the figures printed on a quiet one: reads under 10 ms, the longest gap ~20-40 ms).
const FAST_MS = 50;
const LATE_MARGIN_MS = 1_000;
const MAX_GAP_MS = BUSY_TIMEOUT_MS / 3;

let db: Db;
let runner: SqlRunner;
let accountId = "";
let endpointId = "";
let keyId = "";
let plaintext = "";

beforeAll(async () => {
  const handle = await getDatabaseHandle();
  db = handle.db;
  runner = handle.sql;
  const account = await createAccount(uniqueEmail("locked"), "password-locked-123");
  if (!account.ok) throw new Error("setup: account");
  accountId = account.value.id;
  const endpoint = await createEndpoint(accountId, "locked-endpoint", { type: "dashboard" });
  if (!endpoint.ok) throw new Error("setup: endpoint");
  endpointId = endpoint.value.id;
  const key = await createScopedApiKey(accountId, { name: "locked", scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointId]: "read_write" } } }, { type: "dashboard" });
  if (!key.ok) throw new Error("setup: key");
  keyId = key.value.key.id;
  plaintext = key.value.plaintext;
});

afterAll(removeTestDatabase);

/** Takes the lock in another process; the holder also disables the key, uncommitted. */
function lockDatabase(holdMs = 30_000): Promise<LockHolder> {
  return holdWriteLock(testDatabasePath, { holdMs, statements: [`UPDATE api_keys SET enabled = 0 WHERE id = '${keyId}'`] });
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** A connection of its own that must get the write lock at once: nothing is left holding it. */
function thirdConnectionWrites(): void {
  const third = new Database(testDatabasePath, { timeout: 0 });
  try {
    third.exec("BEGIN IMMEDIATE; DELETE FROM pods WHERE 0; COMMIT");
  } finally {
    third.close();
  }
}

const scopes = { graphql: "none", endpointsAll: "read", endpoints: {} } as const;

describe("statementKind", () => {
  it.each([
    ["SELECT 1", false, "read"],
    ["  select * from t", true, "read"],
    ["-- comment\nSELECT 1", false, "read"],
    ["/* c */ explain select 1", false, "read"],
    ["PRAGMA journal_mode=WAL", false, "direct"],
    ["BEGIN IMMEDIATE", false, "direct"],
    ["INSERT INTO t VALUES (?)", true, "write"],
    ["update t set a = 1 returning a", false, "write"],
    ["WITH x AS (SELECT 1) DELETE FROM t", false, "write"],
    ["CREATE TABLE t (a)", false, "write"],
    ['CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY)', false, "ensure"],
    ["CREATE TABLE IF NOT EXISTS t (a); DROP TABLE u", false, "write"],
  ] as const)("%s → %s", (sql, hasArgs, kind) => {
    expect(statementKind(sql, hasArgs)).toBe(kind);
  });
});

// Timing thresholds are far below the busy timeout but a shared machine has hiccups: retry once.
describe("while another process holds the write lock", { retry: 1 }, () => {
  it("dashboard reads answer at once, from committed data", async () => {
    const holder = await lockDatabase();
    try {
      const list = await timed(() => listApiKeys(accountId));
      const one = await timed(() => getApiKey(accountId, keyId));
      const endpoints = await timed(() => listEndpoints(accountId));
      expect(list.value.find((key) => key.id === keyId)).toMatchObject({ enabled: true });
      expect(one.value).toMatchObject({ id: keyId, enabled: true, scopes: { endpoints: { [endpointId]: "read_write" } } });
      expect(endpoints.value.map((endpoint) => endpoint.id)).toContain(endpointId);
      console.log(`locked: listApiKeys ${list.ms.toFixed(1)} ms, getApiKey ${one.ms.toFixed(1)} ms, listEndpoints ${endpoints.ms.toFixed(1)} ms`);
      for (const ms of [list.ms, one.ms, endpoints.ms]) expect(ms).toBeLessThan(FAST_MS);
    } finally {
      await holder.release();
    }
  });

  it("verification answers at once, from committed data", async () => {
    const holder = await lockDatabase();
    try {
      const store = createKeyStore(runner, createUsageRecorder(runner));
      const requirement = { resource: "endpoint", endpointId, access: "read_write" } as const;
      const { value, ms } = await timed(() => decide(plaintext, requirement, store));
      expect(value).toMatchObject({ ok: true, code: "VALID", keyId });
      expect(ms).toBeLessThan(FAST_MS);
    } finally {
      await holder.release();
    }
  });

  it.each([
    ["createScopedApiKey", () => createScopedApiKey(accountId, { name: "waits", scopes }, { type: "dashboard" })],
    ["updateApiKeyScopes", () => updateApiKeyScopes(accountId, keyId, scopes, { type: "dashboard" })],
    ["setApiKeyEnabled", () => setApiKeyEnabled(accountId, keyId, false, { type: "dashboard" })],
    ["deleteApiKey", () => deleteApiKey(accountId, keyId, { type: "dashboard" })],
    ["createEndpoint", () => createEndpoint(accountId, "waits", { type: "dashboard" })],
    ["createAccount", () => createAccount(uniqueEmail("waits"), "password-waits-123")],
    ["a drizzle transaction", () => db.transaction(async (tx) => tx.run("DELETE FROM pods WHERE 0"))],
  ] as [string, () => Promise<unknown>][])("%s rejects with DatabaseUnavailableError after about the timeout, and the event loop keeps ticking", async (_name, write) => {
    const holder = await lockDatabase();
    try {
      const run = await watchEventLoop(write);
      expect(run.result.status).toBe("rejected");
      // drizzle wraps what the client throws in a DrizzleQueryError: the cause is what matters.
      expect(isDatabaseUnavailable((run.result as PromiseRejectedResult).reason)).toBe(true);
      expect(run.elapsed).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS - 5);
      expect(run.elapsed).toBeLessThan(BUSY_TIMEOUT_MS + LATE_MARGIN_MS);
      // A 10 ms interval: it ran all along, never kept waiting much longer than one native attempt.
      expect(run.ticks).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS / 10 / 4);
      expect(run.maxGap).toBeLessThan(MAX_GAP_MS);
    } finally {
      await holder.release();
    }
    // Nothing of it was written.
    expect(await getApiKey(accountId, keyId)).toMatchObject({ enabled: true, scopes: { endpoints: { [endpointId]: "read_write" } } });
  });

  it("a burst of waiting writes all give up at their deadline, and reads keep answering meanwhile", async () => {
    const holder = await lockDatabase();
    try {
      const store = createKeyStore(runner, createUsageRecorder(runner));
      const requirement = { resource: "endpoint", endpointId, access: "read" } as const;
      const readTimes: number[] = [];
      const run = await watchEventLoop(async () => {
        const writes = Promise.allSettled(Array.from({ length: 10 }, (_, i) => createScopedApiKey(accountId, { name: `burst-${i}`, scopes }, { type: "dashboard" })));
        let settled = false;
        void writes.then(() => (settled = true));
        while (!settled) {
          const read = await timed(() => decide(plaintext, requirement, store));
          expect(read.value).toMatchObject({ ok: true });
          readTimes.push(read.ms);
          const list = await timed(() => listApiKeys(accountId));
          readTimes.push(list.ms);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return writes;
      });
      const results = (run.result as PromiseFulfilledResult<PromiseSettledResult<unknown>[]>).value;
      for (const result of results) expect(isDatabaseUnavailable((result as PromiseRejectedResult).reason)).toBe(true);
      expect(run.elapsed).toBeLessThan(BUSY_TIMEOUT_MS + LATE_MARGIN_MS);
      const sorted = [...readTimes].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const slowest = sorted[sorted.length - 1]!;
      console.log(`locked, 10 waiting writes: ${readTimes.length} reads, median ${median.toFixed(1)} ms, slowest ${slowest.toFixed(1)} ms; longest event-loop gap ${run.maxGap.toFixed(1)} ms`);
      expect(readTimes.length).toBeGreaterThan(10);
      expect(median).toBeLessThan(FAST_MS / 5);
      expect(slowest).toBeLessThan(MAX_GAP_MS);
      expect(run.maxGap).toBeLessThan(MAX_GAP_MS);
    } finally {
      await holder.release();
    }
    expect((await listApiKeys(accountId)).filter((key) => key.name.startsWith("burst-"))).toEqual([]);
  });

  it("a write still waiting when the lock is released goes through, and is committed", async () => {
    const holder = await lockDatabase();
    setTimeout(() => void holder.release("rollback"), 200);
    const { value, ms } = await timed(() => createScopedApiKey(accountId, { name: "patient", scopes }, { type: "dashboard" }));
    expect(value.ok).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(BUSY_TIMEOUT_MS);
    const other = new Database(testDatabasePath);
    try {
      expect(other.prepare("SELECT name FROM api_keys WHERE key_hash = ?").get(hashKey(value.ok ? value.value.plaintext : ""))).toMatchObject({ name: "patient" });
    } finally {
      other.close();
    }
  });

  it("a process starting meanwhile opens and migrates the database (nothing pending) without waiting", async () => {
    const holder = await lockDatabase();
    const url = `file:${testDatabasePath}`;
    const fresh = openDatabaseHandle(url, { busyTimeoutMs: BUSY_TIMEOUT_MS });
    try {
      const { ms } = await timed(() => migrateDatabase(fresh.db, url));
      expect(ms).toBeLessThan(FAST_MS * 2);
      expect((await fresh.db.$client.execute("SELECT count(*) AS n FROM api_keys WHERE id = ?", [keyId])).rows[0]?.n).toBe(1);
    } finally {
      fresh.close();
      await holder.release();
    }
  });
});

describe("after the lock is released", () => {
  it("everything works at once, and an acknowledged write is really committed (libsql-client-ts issue 352)", async () => {
    const holder = await lockDatabase();
    // (Which error they fail with is the tests above' business; here only what they leave behind.)
    await expect(createEndpoint(accountId, "refused", { type: "dashboard" })).rejects.toThrow();
    await expect(setApiKeyEnabled(accountId, keyId, false, { type: "dashboard" })).rejects.toThrow();
    await holder.release("rollback");

    // Through the client that met the busy lock: the write is acknowledged at once...
    const { value: created, ms } = await timed(() => createEndpoint(accountId, "after-release", { type: "dashboard" }));
    expect(created.ok).toBe(true);
    expect(ms).toBeLessThan(FAST_MS);
    // ...and it is committed: another connection sees it, and can take the write lock at once.
    // With the bare client, the same sequence leaves the endpoint uncommitted, holding the lock.
    const other = new Database(testDatabasePath, { timeout: 0 });
    try {
      expect(other.prepare("SELECT name FROM endpoints WHERE id = ?").get(created.ok ? created.value.id : "")).toMatchObject({ name: "after-release" });
    } finally {
      other.close();
    }
    thirdConnectionWrites();
    // The holder's uncommitted change was rolled back; the key still verifies.
    const store = createKeyStore(runner, createUsageRecorder(runner));
    expect(await decide(plaintext, { resource: "graphql", access: "read" }, store)).toMatchObject({ ok: true });
    expect(await setApiKeyEnabled(accountId, keyId, true, { type: "dashboard" })).toMatchObject({ ok: true });
    thirdConnectionWrites();
  });

  it("changes the holder committed are seen by the next read", async () => {
    const holder = await lockDatabase();
    expect(isDatabaseUnavailable(await updateApiKeyScopes(accountId, keyId, scopes, { type: "dashboard" }).catch((error: unknown) => error))).toBe(true);
    await holder.release("commit"); // the holder disabled the key
    expect(await getApiKey(accountId, keyId)).toMatchObject({ enabled: false });
    const store = createKeyStore(runner, createUsageRecorder(runner));
    expect(await decide(plaintext, { resource: "graphql", access: "read" }, store)).toMatchObject({ ok: false, code: "KEY_DISABLED" });
    expect(await setApiKeyEnabled(accountId, keyId, true, { type: "dashboard" })).toMatchObject({ ok: true, value: { enabled: true } });
    thirdConnectionWrites();
  });

  it("a pending migration refused under the lock runs after it, with foreign keys back on everywhere", async () => {
    const file = path.join(testDatabaseDir, "migrate-under-lock.db");
    const raw = createClient({ url: `file:${file}`, timeout: NATIVE_BUSY_TIMEOUT_MS });
    const client = new BusyRetryClient(raw, { writes: new WriteQueue(300) });
    try {
      await client.execute("PRAGMA journal_mode=WAL");
      await client.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
      const holder = await holdWriteLock(file, { holdMs: 30_000 });
      await expect(client.migrate(["CREATE TABLE child (p INTEGER REFERENCES parent(id))"])).rejects.toBeInstanceOf(DatabaseUnavailableError);
      expect((await client.execute("PRAGMA foreign_keys")).rows[0]?.[0]).toBe(1);
      await holder.release();
      await client.migrate(["CREATE TABLE child (p INTEGER REFERENCES parent(id))", "INSERT INTO parent VALUES (1)"]);
      // Several pooled connections at once (read transactions pin them): foreign keys on, on each.
      const pinned = await Promise.all([1, 2, 3].map(() => client.transaction("read")));
      try {
        for (const tx of pinned) expect((await tx.execute("PRAGMA foreign_keys")).rows[0]?.[0]).toBe(1);
      } finally {
        for (const tx of pinned) tx.close();
      }
      await expect(client.execute("INSERT INTO child VALUES (2)")).rejects.toThrow(/FOREIGN KEY/);
      await client.execute("INSERT INTO child VALUES (1)");
    } finally {
      client.close();
    }
  });
});
