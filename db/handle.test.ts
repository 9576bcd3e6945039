import { removeTestDatabase, testDatabasePath, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Client } from "@libsql/client";
import { sql as drizzleSql } from "drizzle-orm";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, listApiKeys, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import { createJobStore, type JobStore } from "@/lib/dal/jobs";
import { createUsageRecorder } from "@/lib/dal/usage-recorder";
import { holdWriteLock } from "@/testing/lock-holder";
import { BusyRetryClient } from "./busy-retry";
import { UngatedClient } from "./client";
import { getDatabaseHandle, openDatabaseHandle, type DatabaseHandle } from "./handle";
import { clientSqlRunner } from "./sql-runner";
import { DatabaseUnavailableError, isDatabaseUnavailable, toUnavailable } from "./unavailable";
import { WriteQueue } from "./write-queue";

// The one database handle of a process (issue 8 item 1): drizzle's writes (the dashboard) and the
// prepared ones (jobs, last-used dates) wait in one queue, every error goes through one mapping,
// and one hook hears of every committed write, from either path.

// Long: nothing here is about the timeout, and a loaded machine must not hit it.
process.env.DATABASE_BUSY_TIMEOUT_MS = "10000";

let handle: DatabaseHandle;
let jobs: JobStore;
let accountId = "";
let endpointId = "";
let keyId = "";

beforeAll(async () => {
  handle = await getDatabaseHandle();
  await handle.sql.run("CREATE TABLE scratch (n INTEGER NOT NULL)", []);
  jobs = createJobStore(handle.sql, { maxJobs: 1_000_000, maxInputBytes: 1e12 });
  const account = await createAccount(uniqueEmail("handle"), "password-handle-123");
  if (!account.ok) throw new Error("setup: account");
  accountId = account.value.id;
  const endpoint = await createEndpoint(accountId, "handle", { type: "dashboard" });
  if (!endpoint.ok) throw new Error("setup: endpoint");
  endpointId = endpoint.value.id;
  const key = await createScopedApiKey(accountId, { name: "handle", scopes: { graphql: "read", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!key.ok) throw new Error("setup: key");
  keyId = key.value.key.id;
});

afterAll(removeTestDatabase);

/** Lets timers and I/O run for a while: anything not stuck behind the gate would finish meanwhile. */
const aWhile = () => new Promise((resolve) => setTimeout(resolve, 100));

/** Resolves once `count` writes wait for their turn (a DAL call reads before it writes, so it queues a little later). */
async function queued(count: number): Promise<void> {
  for (let tries = 0; handle.writesWaiting < count && tries < 1_000; tries++) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Runs `write`, noting its name in `order` once it has succeeded. */
function tracked(order: string[], name: string, write: () => Promise<unknown>) {
  const state = { settled: false };
  const done = write().then(
    (value) => {
      state.settled = true;
      order.push(name);
      return value;
    },
    (error: unknown) => {
      state.settled = true;
      throw error;
    },
  );
  return { done, state };
}

describe("one write queue for both paths", () => {
  it("while a dashboard (drizzle) transaction holds it, job writes (prepared) wait their turn, then run in order", async () => {
    const order: string[] = [];
    let inside!: () => void;
    let finish!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const held = new Promise<void>((resolve) => (finish = resolve));
    const dashboard = tracked(order, "dashboard", () =>
      handle.db.transaction(async (tx) => {
        await tx.run(drizzleSql`INSERT INTO scratch (n) VALUES (1)`);
        inside();
        await held;
      }),
    );
    await entered;
    const job = tracked(order, "job", () => jobs.enqueue(accountId, endpointId, '"queued"', Date.now()));
    const flush = tracked(order, "raw", () => handle.sql.run("INSERT INTO scratch (n) VALUES (2)", []));
    await aWhile();
    // Queued behind the transaction, not polling SQLite's lock on the side.
    expect(handle.writesWaiting).toBe(2);
    expect([job.state.settled, flush.state.settled]).toEqual([false, false]);
    finish();
    await Promise.all([dashboard.done, job.done, flush.done]);
    expect(order).toEqual(["dashboard", "job", "raw"]);
    expect(handle.writesWaiting).toBe(0);
  });

  it("while a job write (prepared) waits for another process's lock, dashboard writes (drizzle) queue behind it, first come first served", async () => {
    const holder = await holdWriteLock(testDatabasePath, { holdMs: 30_000 });
    const order: string[] = [];
    try {
      const writes = [tracked(order, "job", () => jobs.enqueue(accountId, endpointId, '"first"', Date.now()))];
      await aWhile();
      writes.push(tracked(order, "createEndpoint", () => createEndpoint(accountId, "queued", { type: "dashboard" })));
      await queued(1);
      writes.push(tracked(order, "raw", () => handle.sql.run("INSERT INTO scratch (n) VALUES (3)", [])));
      await queued(2);
      writes.push(tracked(order, "setApiKeyEnabled", () => setApiKeyEnabled(accountId, keyId, false, { type: "dashboard" })));
      await queued(3);
      await aWhile();
      // The job write has the turn (it is polling the lock); the other three wait for it.
      expect(handle.writesWaiting).toBe(3);
      expect(writes.map((write) => write.state.settled)).toEqual([false, false, false, false]);
      await holder.release("rollback");
      await Promise.all(writes.map((write) => write.done));
      expect(order).toEqual(["job", "createEndpoint", "raw", "setApiKeyEnabled"]);
    } finally {
      await holder.release("rollback");
    }
  });

  it("a second handle (another process) has a queue of its own", async () => {
    const other = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 200 });
    let finish!: () => void;
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const held = new Promise<void>((resolve) => (finish = resolve));
    try {
      const transaction = handle.db.transaction(async () => {
        inside();
        await held;
      });
      await entered;
      // Not queued here: it meets SQLite's lock, and gives up at its own deadline.
      const refused = await other.sql.run("INSERT INTO scratch (n) VALUES (4)", []).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(DatabaseUnavailableError);
      expect((refused as Error).cause).toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
      expect(other.writesWaiting).toBe(0);
      finish();
      await transaction;
    } finally {
      finish();
      other.close();
    }
  });
});

describe("one classifier, one mapping to DatabaseUnavailableError", () => {
  const UNAVAILABLE = ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_LOCKED_SHAREDCACHE", "SQLITE_CANTOPEN", "SQLITE_IOERR_WRITE", "SERVER_ERROR"];
  const OTHER = ["SQLITE_ERROR", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_FULL", "SQLITE_READONLY", undefined];
  const failing = (error: unknown) => ({ execute: () => Promise.reject(error), batch: () => Promise.reject(error) }) as unknown as Client;
  // Every way a query leaves the handle on a failing connection (reads: they reach the connection at once).
  const paths: [string, (error: unknown) => Promise<unknown>][] = [
    ["toUnavailable", async (error) => Promise.reject(toUnavailable(error))],
    ["drizzle on a file (BusyRetryClient)", (error) => new BusyRetryClient(failing(error), { writes: new WriteQueue(100) }).execute("SELECT 1")],
    ["drizzle on a server (UngatedClient)", (error) => new UngatedClient(failing(error), () => {}).execute("SELECT 1")],
    ["prepared on a server (clientSqlRunner)", (error) => clientSqlRunner(new UngatedClient(failing(error), () => {})).get("SELECT 1", [])],
  ];

  it.each(paths.flatMap(([name, run]) => UNAVAILABLE.map((code) => [name, code, run] as const)))("%s: %s → DatabaseUnavailableError, cause kept", async (_name, code, run) => {
    const error = Object.assign(new Error("detail"), { code });
    const reason = await run(error).catch((thrown: unknown) => thrown);
    expect(reason).toBeInstanceOf(DatabaseUnavailableError);
    expect((reason as Error).cause).toBe(error);
  });

  it.each(paths.flatMap(([name, run]) => OTHER.map((code) => [name, String(code), run, code] as const)))("%s: %s passes through", async (_name, _label, run, code) => {
    const error = Object.assign(new Error("detail"), { code });
    await expect(run(error)).rejects.toBe(error);
  });

  it("prepared on a file: busy past the deadline is DatabaseUnavailableError (cause SQLITE_BUSY), other failures pass", async () => {
    const other = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 100 });
    const holder = await holdWriteLock(testDatabasePath, { holdMs: 30_000 });
    try {
      const refused = await other.sql.run("INSERT INTO scratch (n) VALUES (5)", []).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(DatabaseUnavailableError);
      expect((refused as Error).cause).toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
      const drizzleRefused = await other.db.run(drizzleSql`INSERT INTO scratch (n) VALUES (5)`).catch((error: unknown) => error);
      expect(isDatabaseUnavailable(drizzleRefused)).toBe(true);
    } finally {
      await holder.release();
      other.close();
    }
    await expect(handle.sql.get("SELECT * FROM no_such_table", [])).rejects.toSatisfy((error) => !isDatabaseUnavailable(error));
    await expect(handle.sql.run("INSERT INTO scratch (n) VALUES (NULL)", [])).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_CONSTRAINT/) });
  });

  it("isDatabaseUnavailable finds it however deep drizzle wrapped it, and nothing else", () => {
    const unavailable = new DatabaseUnavailableError("locked");
    expect(isDatabaseUnavailable(unavailable)).toBe(true);
    expect(isDatabaseUnavailable(new Error("query failed", { cause: new Error("wrapped", { cause: unavailable }) }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("raw"), { code: "SQLITE_BUSY" }))).toBe(false);
    expect(isDatabaseUnavailable(new Error("other"))).toBe(false);
    expect(isDatabaseUnavailable("SQLITE_BUSY")).toBe(false);
  });

  // The rule, as the tree must keep it: no second busy classifier, code list or unavailable
  // class outside db/unavailable.ts (tests and their helpers aside).
  it("no other module classifies database errors", () => {
    const root = path.resolve(__dirname, "..");
    const sources = (dir: string): string[] =>
      readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile() && /\.(ts|tsx|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name))
        .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)));
    const files = ["app", "lib", "db", "scripts"].flatMap(sources).filter((file) => file !== path.join("db", "unavailable.ts"));
    expect(files.length).toBeGreaterThan(50);
    const offending = files.filter((file) => {
      const text = readFileSync(path.join(root, file), "utf8");
      return /["'`](SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR)|SERVER_ERROR)/.test(text) || /class\s+\w*Unavailable\w*\s+extends/.test(text) || /function\s+is\w*(Busy|Unavailable)/.test(text);
    });
    expect(offending).toEqual([]);
  });
});

describe("handle.onCommittedWrite", () => {
  // Another connection: its data_version moves only when some other connection has committed,
  // so a listener reading it proves it was called after the COMMIT, not before.
  let observer: InstanceType<typeof Database>;
  const dataVersion = () => observer.pragma("data_version", { simple: true }) as number;

  beforeAll(() => {
    observer = new Database(testDatabasePath);
  });

  afterAll(() => observer?.close());

  async function listen(work: () => Promise<unknown>) {
    const before = dataVersion();
    const seen: number[] = [];
    const stop = handle.onCommittedWrite(() => seen.push(dataVersion()));
    try {
      await work().catch(() => undefined);
    } finally {
      stop();
    }
    return { calls: seen.length, allAfterCommit: seen.every((version) => version !== before) };
  }

  it.each([
    ["drizzle: a statement", () => handle.db.run(drizzleSql`INSERT INTO scratch (n) VALUES (10)`), 1],
    ["drizzle: a transaction", () => handle.db.transaction(async (tx) => void (await tx.run(drizzleSql`INSERT INTO scratch (n) VALUES (11)`))), 1],
    ["drizzle: a write batch (createEndpoint)", () => createEndpoint(accountId, "told", { type: "dashboard" }), 1],
    ["drizzle: a write batch (setApiKeyEnabled)", () => setApiKeyEnabled(accountId, keyId, true, { type: "dashboard" }), 1],
    ["prepared: run", () => handle.sql.run("INSERT INTO scratch (n) VALUES (12)", []), 1],
    ["prepared: get (UPDATE … RETURNING)", () => handle.sql.get("UPDATE scratch SET n = 13 WHERE n = 12 RETURNING n", []), 1],
    ["prepared: a job", () => jobs.enqueue(accountId, endpointId, '"told"', Date.now()), 1],
    [
      "prepared: a usage flush (last-used dates and counts, one transaction)",
      async () => {
        const recorder = createUsageRecorder(handle.sql);
        recorder.count(keyId, Date.now(), "graphql", "api", "read", "VALID");
        await recorder.flush();
      },
      1,
    ],
    ["prepared: runAtExit", async () => handle.sql.runAtExit("INSERT INTO scratch (n) VALUES (14)", []), 1],
  ] as [string, () => Promise<unknown>, number][])("is called after %s commits", async (_name, work, calls) => {
    expect(await listen(work)).toEqual({ calls, allAfterCommit: true });
  });

  it.each([
    ["drizzle: a read", () => listApiKeys(accountId)],
    ["prepared: a read", () => handle.sql.get("SELECT count(*) FROM scratch", [])],
    ["drizzle: a failed statement", () => handle.db.run(drizzleSql`INSERT INTO scratch (n) VALUES (NULL)`)],
    ["drizzle: a rolled back transaction", () => handle.db.transaction(async (tx) => void (await tx.run(drizzleSql`INSERT INTO scratch (n) VALUES (15)`), tx.rollback()))],
    ["prepared: a failed statement", () => handle.sql.run("INSERT INTO scratch (n) VALUES (NULL)", [])],
  ] as [string, () => Promise<unknown>][])("is not called for %s", async (_name, work) => {
    expect((await listen(work)).calls).toBe(0);
  });

  it("is not called for a write refused under another process's lock", async () => {
    const other = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 100 });
    let calls = 0;
    other.onCommittedWrite(() => (calls += 1));
    const holder = await holdWriteLock(testDatabasePath, { holdMs: 30_000 });
    try {
      await expect(other.sql.run("INSERT INTO scratch (n) VALUES (16)", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
      await expect(other.db.run(drizzleSql`INSERT INTO scratch (n) VALUES (16)`)).rejects.toSatisfy(isDatabaseUnavailable);
      expect(calls).toBe(0);
    } finally {
      await holder.release();
    }
    try {
      await other.sql.run("INSERT INTO scratch (n) VALUES (16)", []);
      expect(calls).toBe(1);
    } finally {
      other.close();
    }
  });

  it("a failing listener neither fails the write nor silences the others; stopping works", async () => {
    const calls: string[] = [];
    const stopFailing = handle.onCommittedWrite(() => {
      throw new Error("listener bug");
    });
    const stop = handle.onCommittedWrite(() => calls.push("told"));
    try {
      await expect(handle.sql.run("INSERT INTO scratch (n) VALUES (17)", [])).resolves.toBe(1);
      await expect(createEndpoint(accountId, "despite", { type: "dashboard" })).resolves.toMatchObject({ ok: true });
    } finally {
      stopFailing();
      stop();
    }
    await handle.sql.run("INSERT INTO scratch (n) VALUES (18)", []);
    expect(calls).toEqual(["told", "told"]);
  });

  it.each(["libsql://keyscope-org.example.test", "https://db.example.test", "http://127.0.0.1:1"])("%s: @libsql/client for both paths, no gate, nothing synchronous at exit", (url) => {
    const remote = openDatabaseHandle(url, { busyTimeoutMs: 100 });
    try {
      expect(remote.db.$client).toBeInstanceOf(UngatedClient);
      expect(remote.sql.runAtExit("UPDATE t SET n = 1", [])).toBeNull();
      expect(remote.writesWaiting).toBe(0);
    } finally {
      remote.close();
    }
  });

  it("on a libSQL server or in memory (no gate): the same hook, for both paths", async () => {
    const memory = openDatabaseHandle("file::memory:", { busyTimeoutMs: 100 });
    let calls = 0;
    memory.onCommittedWrite(() => (calls += 1));
    try {
      await memory.db.$client.execute("CREATE TABLE t (n INTEGER NOT NULL)");
      calls = 0;
      await memory.db.run(drizzleSql`INSERT INTO t (n) VALUES (1)`);
      await memory.db.transaction(async (tx) => void (await tx.run(drizzleSql`INSERT INTO t (n) VALUES (2)`)));
      await memory.sql.run("INSERT INTO t (n) VALUES (3)", []);
      expect(calls).toBe(3);
      expect(await memory.sql.all("SELECT n FROM t ORDER BY n", [])).toHaveLength(3);
      await memory.db.all(drizzleSql`SELECT n FROM t`);
      await expect(memory.sql.run("INSERT INTO t (n) VALUES (NULL)", [])).rejects.toThrow(/NOT NULL/);
      expect(calls).toBe(3);
    } finally {
      memory.close();
    }
  });
});
