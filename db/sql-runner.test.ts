import { removeTestDatabase, testDatabasePath, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import type { Client } from "@libsql/client";
import Database from "libsql";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hashKey } from "@/lib/core/keys/hash";
import { decide } from "@/lib/core/verify/verifier";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { createKeyStore } from "@/lib/dal/key-store";
import { createUsageRecorder } from "@/lib/dal/usage-recorder";
import { watchEventLoop } from "@/testing/lock-holder";
import { UngatedClient } from "./client";
import { getDatabaseHandle, getDb, openDatabaseHandle } from "./handle";
import { clientSqlRunner, type SqlRunner } from "./sql-runner";
import { DatabaseUnavailableError } from "./unavailable";

// The process's handle reads it on first use.
const BUSY_TIMEOUT_MS = 300;
process.env.DATABASE_BUSY_TIMEOUT_MS = String(BUSY_TIMEOUT_MS);

let runner: SqlRunner;
let holder: InstanceType<typeof Database>;
let plaintext = "";

beforeAll(async () => {
  runner = (await getDatabaseHandle()).sql; // creates and migrates the file, in WAL mode
  await runner.run("CREATE TABLE scratch (n INTEGER NOT NULL, label TEXT)", []);
  await runner.run("INSERT INTO scratch (n, label) VALUES (1, 'committed')", []);
  const account = await createAccount(uniqueEmail("runner"), "password-runner-123");
  if (!account.ok) throw new Error("setup: account");
  const key = await createScopedApiKey(account.value.id, { name: "runner", scopes: { graphql: "read", endpointsAll: "none", endpoints: {} } }, { type: "dashboard" });
  if (!key.ok) throw new Error("setup: key");
  plaintext = key.value.plaintext;
  // A second connection, as another process would hold it.
  holder = new Database(testDatabasePath);
});

afterEach(() => {
  if (holder.inTransaction) holder.exec("ROLLBACK");
});

afterAll(async () => {
  holder?.close();
  await removeTestDatabase();
});

function holdWriteLock() {
  holder.exec("BEGIN IMMEDIATE");
  holder.prepare("INSERT INTO scratch (n, label) VALUES (?, 'uncommitted')").run(99);
}

describe("while another connection holds the write lock", () => {
  it("reads through the runner keep answering, fast, and see only committed rows", async () => {
    holdWriteLock();
    const started = performance.now();
    for (let i = 0; i < 50; i++) {
      const row = await runner.get<{ n: number }>("SELECT count(*) AS n FROM scratch WHERE label = ?", ["uncommitted"]);
      expect(row?.n).toBe(0);
    }
    const rows = await runner.all<{ n: number }>("SELECT n FROM scratch ORDER BY n", []);
    expect(rows.map((row) => row.n)).toEqual([1]);
    // 51 reads: nowhere near one busy timeout, let alone 51.
    expect(performance.now() - started).toBeLessThan(BUSY_TIMEOUT_MS);
  });

  it("verification keeps answering", async () => {
    holdWriteLock();
    const store = createKeyStore(runner, createUsageRecorder(runner));
    const started = performance.now();
    const decision = await decide(plaintext, { resource: "graphql", access: "read" }, store);
    expect(decision).toMatchObject({ ok: true, code: "VALID" });
    expect(performance.now() - started).toBeLessThan(BUSY_TIMEOUT_MS / 2);
    expect(await store.findKeyByHash(hashKey(plaintext), null)).toMatchObject({ enabled: true, graphqlLevel: "read" });
  });

  it("a write rejects with DatabaseUnavailableError after about busyTimeoutMs, without stalling the event loop", async () => {
    holdWriteLock();
    const watched = await watchEventLoop(() => runner.run("INSERT INTO scratch (n) VALUES (2)", []));
    expect(watched.result.status).toBe("rejected");
    expect((watched.result as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseUnavailableError);
    expect(watched.elapsed).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS - 5);
    expect(watched.elapsed).toBeLessThan(BUSY_TIMEOUT_MS + 250);
    // A 10 ms interval over ~300 ms: it kept ticking, and never waited long for its turn.
    expect(watched.ticks).toBeGreaterThanOrEqual(10);
    expect(watched.maxGap).toBeLessThan(100);
    holder.exec("ROLLBACK");
    expect((await runner.get<{ n: number }>("SELECT count(*) AS n FROM scratch WHERE n = 2", []))?.n).toBe(0);
  });

  it("waiting writes do not queue behind one another: three at once all give up after about one timeout", async () => {
    holdWriteLock();
    const watched = await watchEventLoop(() =>
      Promise.allSettled([1, 2, 3].map((n) => runner.run("INSERT INTO scratch (n) VALUES (?)", [100 + n]))),
    );
    const results = (watched.result as PromiseFulfilledResult<PromiseSettledResult<number>[]>).value;
    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseUnavailableError);
    }
    expect(watched.elapsed).toBeLessThan(BUSY_TIMEOUT_MS + 250);
    expect(watched.maxGap).toBeLessThan(100);
  });

  it("a write waiting when the lock is released goes through", async () => {
    holdWriteLock();
    setTimeout(() => holder.exec("COMMIT"), 100);
    const started = performance.now();
    await expect(runner.run("INSERT INTO scratch (n, label) VALUES (3, 'after wait')", [])).resolves.toBe(1);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(BUSY_TIMEOUT_MS);
    const rows = await runner.all<{ n: number }>("SELECT n FROM scratch WHERE n IN (3, 99) ORDER BY n", []);
    expect(rows.map((row) => row.n)).toEqual([3, 99]);
  });

  it("a write that gave up does not freeze this connection: a key disabled by the holder is refused on the next read", async () => {
    const store = createKeyStore(runner, createUsageRecorder(runner));
    const requirement = { resource: "graphql", access: "read" } as const;
    const countUncommitted = async () => (await runner.get<{ n: number }>("SELECT count(*) AS n FROM scratch WHERE label = 'uncommitted'", []))?.n;
    const before = await countUncommitted();
    holdWriteLock();
    await expect(runner.run("INSERT INTO scratch (n) VALUES (5)", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(await decide(plaintext, requirement, store)).toMatchObject({ ok: true });
    // The other process disables the key and commits.
    holder.prepare("UPDATE api_keys SET enabled = 0 WHERE key_hash = ?").run(hashKey(plaintext));
    holder.exec("COMMIT");
    expect(await decide(plaintext, requirement, store)).toMatchObject({ ok: false, code: "KEY_DISABLED" });
    expect(await countUncommitted()).toBe(before! + 1);
    await expect(runner.run("INSERT INTO scratch (n) VALUES (5)", [])).resolves.toBe(1);
    holder.prepare("UPDATE api_keys SET enabled = 1 WHERE key_hash = ?").run(hashKey(plaintext));
    expect(await decide(plaintext, requirement, store)).toMatchObject({ ok: true });
  });

  it("the same holds for a write read back through get (UPDATE … RETURNING)", async () => {
    holdWriteLock();
    const claim = "UPDATE scratch SET label = 'claimed' WHERE n = 1 RETURNING n";
    await expect(runner.get(claim, [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    holder.prepare("UPDATE scratch SET label = 'changed elsewhere' WHERE n = 99").run();
    holder.exec("COMMIT");
    expect(await runner.get<{ label: string }>("SELECT label FROM scratch WHERE n = 99", [])).toMatchObject({ label: "changed elsewhere" });
    expect(await runner.get<{ n: number }>(claim, [])).toMatchObject({ n: 1 });
  });

  it("after COMMIT on the holder, writes work again", async () => {
    holdWriteLock();
    await expect(runner.run("INSERT INTO scratch (n) VALUES (4)", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    holder.exec("COMMIT");
    // No timing asserted (a loaded machine made a 50 ms bound flaky): a failed write leaves nothing behind that blocks the next.
    await expect(runner.run("INSERT INTO scratch (n) VALUES (4)", [])).resolves.toBe(1);
    expect((await runner.get<{ n: number }>("SELECT count(*) AS n FROM scratch WHERE n = 4", []))?.n).toBe(1);
  });
});

describe("file runner", () => {
  it("run returns the number of rows changed", async () => {
    await runner.run("INSERT INTO scratch (n, label) VALUES (10, 'x'), (11, 'x'), (12, 'x')", []);
    await expect(runner.run("UPDATE scratch SET label = 'y' WHERE label = ?", ["x"])).resolves.toBe(3);
    await expect(runner.run("UPDATE scratch SET label = 'y' WHERE label = ?", ["nothing"])).resolves.toBe(0);
  });

  it("binds arguments, never interpolates them", async () => {
    const hostile = "'); DROP TABLE scratch; --";
    await runner.run("INSERT INTO scratch (n, label) VALUES (?, ?)", [20, hostile]);
    expect(await runner.get<{ label: string }>("SELECT label FROM scratch WHERE n = ?", [20])).toMatchObject({ label: hostile });
  });

  it("other errors are passed through, not reported as unavailable", async () => {
    await expect(runner.get("SELECT * FROM no_such_table", [])).rejects.not.toBeInstanceOf(DatabaseUnavailableError);
    await expect(runner.run("INSERT INTO scratch (n) VALUES (NULL)", [])).rejects.toThrow(/NOT NULL/);
  });

  it("runAtExit writes synchronously", () => {
    expect(runner.runAtExit("INSERT INTO scratch (n) VALUES (30)", [])).toBe(1);
    const row = holder.prepare("SELECT count(*) AS n FROM scratch WHERE n = 30").get() as { n: number };
    expect(row.n).toBe(1);
  });

  it("a second runner on the same file sees committed writes at once", async () => {
    const second = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: BUSY_TIMEOUT_MS });
    try {
      await runner.run("INSERT INTO scratch (n) VALUES (40)", []);
      expect((await second.sql.get<{ n: number }>("SELECT count(*) AS n FROM scratch WHERE n = 40", []))?.n).toBe(1);
    } finally {
      second.close();
    }
  });
});

describe("client runner (libSQL server), on the handle's ungated client", () => {
  const failing = (error: unknown) => clientSqlRunner(new UngatedClient({ execute: () => Promise.reject(error) } as unknown as Client, () => {}));

  it.each(["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR_WRITE", "SERVER_ERROR"])("%s → DatabaseUnavailableError", async (code) => {
    const sql = failing(Object.assign(new Error("secret detail"), { code }));
    await expect(sql.get("SELECT 1", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(sql.all("SELECT 1", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(sql.run("SELECT 1", [])).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  it("other errors pass through", async () => {
    const error = Object.assign(new Error("no such table"), { code: "SQLITE_ERROR" });
    await expect(failing(error).get("SELECT 1", [])).rejects.toBe(error);
  });

  it("works against the real client, and cannot write at exit", async () => {
    const sql = clientSqlRunner((await getDb()).$client);
    await expect(sql.run("INSERT INTO scratch (n) VALUES (50)", [])).resolves.toBe(1);
    expect(await sql.get<{ n: number }>("SELECT count(*) AS n FROM scratch WHERE n = 50", [])).toMatchObject({ n: 1 });
    expect(sql.runAtExit("INSERT INTO scratch (n) VALUES (51)", [])).toBeNull();
  });
});
