import { rawRows, removeTestDatabase, testDatabaseDir, testDatabaseUrl } from "@/testing/test-database";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client, Transaction } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEnv } from "@/lib/env";
import { NATIVE_BUSY_TIMEOUT_MS } from "./busy-retry";
import { getDb, openDatabaseHandle, type Database } from "./handle";
import { migrateDatabase } from "./migrate";
import { DatabaseUnavailableError } from "./unavailable";

// Not the default (2000), so the test shows the setting is passed through rather than coinciding.
// Short, because the lock test below waits this long. readEnv() first runs inside getDb().
process.env.DATABASE_BUSY_TIMEOUT_MS = "250";

afterAll(removeTestDatabase);

let db: Database;

beforeAll(async () => {
  db = await getDb();
});

type Queryable = Pick<Client, "execute"> | Pick<Transaction, "execute">;

async function pragma(on: Queryable, name: string): Promise<unknown> {
  const result = await on.execute(`PRAGMA ${name}`);
  return result.rows[0]?.[0];
}

async function connectionSettings(on: Queryable) {
  return {
    synchronous: await pragma(on, "synchronous"),
    foreignKeys: await pragma(on, "foreign_keys"),
    busyTimeout: await pragma(on, "busy_timeout"),
  };
}

// The native busy timeout is per attempt and short (db/busy-retry.ts); DATABASE_BUSY_TIMEOUT_MS
// is the deadline of the asynchronous retries around it.
const EXPECTED_SETTINGS = { synchronous: 2, foreignKeys: 1, busyTimeout: NATIVE_BUSY_TIMEOUT_MS };

/** The schema as SQLite records it, plus drizzle's migration journal. */
async function schemaState(client: Pick<Client, "execute">) {
  const rowsOf = async (sql: string) => {
    const result = await client.execute(sql);
    return result.rows.map((row) => result.columns.map((_, i) => row[i]));
  };
  return {
    objects: await rowsOf("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"),
    migrations: await rowsOf("SELECT hash, created_at FROM __drizzle_migrations ORDER BY id"),
  };
}

describe("file permissions", () => {
  const modeOf = (file: string) => statSync(file).mode & 0o777;

  it("creates the database, its -wal and -shm files 0600 in a 0700 folder: they hold password hashes", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "keyscope-mode-"));
    const file = path.join(root, "fresh", "keyscope.db");
    const fresh = openDatabaseHandle(`file:${file}`, { busyTimeoutMs: 250 });
    try {
      await migrateDatabase(fresh.db, `file:${file}`);
      await fresh.db.$client.execute("SELECT count(*) FROM accounts");
      expect(modeOf(path.dirname(file))).toBe(0o700);
      for (const created of [file, `${file}-wal`, `${file}-shm`]) expect([created, modeOf(created)]).toEqual([created, 0o600]);
    } finally {
      fresh.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("leaves the mode of an existing database file as its operator set it", () => {
    const root = mkdtempSync(path.join(tmpdir(), "keyscope-mode-"));
    const file = path.join(root, "existing.db");
    writeFileSync(file, "", { mode: 0o640 });
    try {
      openDatabaseHandle(`file:${file}`, { busyTimeoutMs: 250 }).close();
      expect(modeOf(file)).toBe(0o640);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("getDb", () => {
  it("uses DATABASE_URL and returns one client per process", async () => {
    expect(readEnv().DATABASE_URL).toBe(testDatabaseUrl);
    expect(await getDb()).toBe(db);
    expect(existsSync(path.join(testDatabaseDir, "test.db"))).toBe(true);
  });

  it("puts the file database in WAL mode", async () => {
    expect(await pragma(db.$client, "journal_mode")).toBe("wal");
  });

  it("the native busy timeout is short; DATABASE_BUSY_TIMEOUT_MS is read for the retry deadline", async () => {
    expect(readEnv().DATABASE_BUSY_TIMEOUT_MS).toBe(250);
    expect(await pragma(db.$client, "busy_timeout")).toBe(NATIVE_BUSY_TIMEOUT_MS);
    expect(NATIVE_BUSY_TIMEOUT_MS).toBeLessThanOrEqual(50);
  });
});

describe("every pooled connection: synchronous=FULL, foreign keys on, busy timeout set", () => {
  // The client pools connections and opens new ones under load, so the settings must hold on
  // each of them, not only on the one that ran the migrations.
  it("on the first connection", async () => {
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
  });

  it("after a write transaction commits", async () => {
    const tx = await db.$client.transaction("write");
    try {
      expect(await connectionSettings(tx)).toEqual(EXPECTED_SETTINGS);
      await tx.execute("SELECT count(*) FROM accounts");
      await tx.commit();
    } finally {
      tx.close();
    }
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
  });

  it("after a write transaction rolls back", async () => {
    const tx = await db.$client.transaction("write");
    await tx.execute("INSERT INTO accounts (id, email, password_hash) VALUES ('rolled-back', 'rb@example.test', 'x')");
    await tx.rollback();
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
    expect(await rawRows("SELECT id FROM accounts WHERE id = 'rolled-back'")).toEqual([]);
  });

  it("after a write batch", async () => {
    await db.$client.batch(
      [
        "INSERT INTO accounts (id, email, password_hash) VALUES ('batch-1', 'batch-1@example.test', 'x')",
        "DELETE FROM accounts WHERE id = 'batch-1'",
      ],
      "write",
    );
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
  });

  it("after a batch that failed and rolled back", async () => {
    await expect(
      db.$client.batch(
        [
          "INSERT INTO accounts (id, email, password_hash) VALUES ('batch-2', 'batch-2@example.test', 'x')",
          "INSERT INTO endpoints (id, account_id, name) VALUES ('orphan', 'no-such-account', 'x')",
        ],
        "write",
      ),
    ).rejects.toThrow(/FOREIGN KEY constraint failed/);
    expect(await rawRows("SELECT id FROM accounts WHERE id = 'batch-2'")).toEqual([]);
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
  });

  it("on fresh connections opened while transactions hold the others", async () => {
    // Each open transaction holds its own connection, so every one of these is a different
    // connection, and the last query needs yet another. (Read transactions: write and deferred
    // ones queue behind one another on a file database, see db/busy-retry.ts.)
    const held: Transaction[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const tx = await db.$client.transaction("read");
        held.push(tx);
        expect(await connectionSettings(tx)).toEqual(EXPECTED_SETTINGS);
      }
      expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
      // Enforced, not merely reported: an orphan row is refused on this fourth connection.
      await expect(
        db.$client.execute("INSERT INTO endpoints (id, account_id, name) VALUES ('orphan', 'no-such-account', 'x')"),
      ).rejects.toThrow(/FOREIGN KEY constraint failed/);
    } finally {
      for (const tx of held) tx.close();
    }
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
  });

  it("after migrating again (the migrator turns foreign keys off for its batch)", async () => {
    await migrateDatabase(db, testDatabaseUrl);
    expect(await connectionSettings(db.$client)).toEqual(EXPECTED_SETTINGS);
  });
});

describe("busy timeout", () => {
  it("a write waiting for another transaction's write lock fails with DatabaseUnavailableError instead of hanging", async () => {
    const tx = await db.$client.transaction("write");
    try {
      await tx.execute("INSERT INTO accounts (id, email, password_hash) VALUES ('lock-holder', 'lock@example.test', 'x')");
      const started = Date.now();
      await expect(
        db.$client.execute("INSERT INTO accounts (id, email, password_hash) VALUES ('waiter', 'waiter@example.test', 'x')"),
      ).rejects.toBeInstanceOf(DatabaseUnavailableError);
      // It did wait for the lock (a lower bound only: no timing ceiling in tests).
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
      // Reads keep answering while the write lock is held (WAL).
      expect(await rawRows("SELECT count(*) AS n FROM accounts")).toHaveLength(1);
    } finally {
      await tx.rollback();
    }
  });
});

describe("migrations", () => {
  it("migrating twice is a no-op", async () => {
    await db.$client.execute("INSERT INTO accounts (id, email, password_hash) VALUES ('survivor', 'survivor@example.test', 'x')");
    const before = await schemaState(db.$client);
    expect(before.migrations.length).toBeGreaterThan(0);

    await migrateDatabase(db, testDatabaseUrl);
    await migrateDatabase(db, testDatabaseUrl);

    expect(await schemaState(db.$client)).toEqual(before);
    expect(await rawRows("SELECT id FROM accounts WHERE id = 'survivor'")).toEqual([{ id: "survivor" }]);
  });

  it("a second client on the same file finds it migrated already", async () => {
    const other = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 250 });
    try {
      const before = await schemaState(db.$client);
      await migrateDatabase(other.db, testDatabaseUrl);
      expect(await schemaState(other.db.$client)).toEqual(before);
    } finally {
      other.close();
    }
  });

  it("two processes starting on a new database at once both succeed, and migrate it once", async () => {
    const url = `file:${path.join(testDatabaseDir, "race", "fresh.db")}`;
    const first = openDatabaseHandle(url, { busyTimeoutMs: 2_000 });
    const second = openDatabaseHandle(url, { busyTimeoutMs: 2_000 });
    try {
      await Promise.all([migrateDatabase(first.db, url), migrateDatabase(second.db, url)]);
      const state = await schemaState(first.db.$client);
      expect(state).toEqual(await schemaState(second.db.$client));
      expect(state.objects).toEqual((await schemaState(db.$client)).objects);
      expect(state.migrations).toHaveLength((await schemaState(db.$client)).migrations.length);
      expect(await pragma(first.db.$client, "journal_mode")).toBe("wal");
    } finally {
      first.close();
      second.close();
    }
  });
});

describe("openDatabaseHandle", () => {
  it.each([
    ["a plain path", (dir: string) => `file:${dir}/nested/deeper/app.db`, "nested/deeper/app.db"],
    ["three slashes", (dir: string) => `file://${dir}/three/app.db`, "three/app.db"],
    ["a localhost authority", (dir: string) => `file://localhost${dir}/local/app.db`, "local/app.db"],
    ["a percent-encoded space", (dir: string) => `file:${dir}/with%20space/app.db`, "with space/app.db"],
  ])("creates missing parent directories for %s", async (_label, urlOf, relative) => {
    const url = urlOf(testDatabaseDir);
    const opened = openDatabaseHandle(url, { busyTimeoutMs: 250 });
    try {
      await opened.db.$client.execute("CREATE TABLE t (x)");
      expect(existsSync(path.join(testDatabaseDir, relative))).toBe(true);
    } finally {
      opened.close();
    }
  });
});

describe("schema", () => {
  it("has a unique index on api_keys.key_hash, and on nothing else in it", async () => {
    const [index] = await rawRows("SELECT * FROM sqlite_master WHERE type = 'index' AND name = 'api_keys_key_hash_uq'");
    expect(index).toMatchObject({ type: "index", tbl_name: "api_keys" });
    expect(String(index?.sql)).toMatch(/^CREATE UNIQUE INDEX/);

    const list = await rawRows("PRAGMA index_list('api_keys')");
    expect(list.find((row) => row.name === "api_keys_key_hash_uq")).toMatchObject({ unique: 1, partial: 0 });
    expect((await rawRows("PRAGMA index_info('api_keys_key_hash_uq')")).map((row) => row.name)).toEqual(["key_hash"]);
  });

  it.each([
    ["accounts_email_unique", "accounts", ["email"]],
    ["endpoints_account_id_uq", "endpoints", ["account_id", "id"]],
    ["api_keys_account_id_uq", "api_keys", ["account_id", "id"]],
  ])("has unique index %s on %s%j", async (name, table, columns) => {
    const list = await rawRows(`PRAGMA index_list('${table}')`);
    expect(list.find((row) => row.name === name)).toMatchObject({ unique: 1 });
    expect((await rawRows(`PRAGMA index_info('${name}')`)).map((row) => row.name)).toEqual(columns);
  });

  it("scopes reference keys and endpoints through (account_id, id), cascading on delete", async () => {
    const rows = await rawRows("PRAGMA foreign_key_list('api_key_endpoint_scopes')");
    const byTarget = new Map<string, { from: unknown[]; to: unknown[]; onDelete: unknown }>();
    for (const row of rows) {
      const target = String(row.table);
      const entry = byTarget.get(target) ?? { from: [], to: [], onDelete: row.on_delete };
      entry.from[Number(row.seq)] = row.from;
      entry.to[Number(row.seq)] = row.to;
      byTarget.set(target, entry);
    }
    expect(Object.fromEntries(byTarget)).toEqual({
      api_keys: { from: ["account_id", "key_id"], to: ["account_id", "id"], onDelete: "CASCADE" },
      endpoints: { from: ["account_id", "endpoint_id"], to: ["account_id", "id"], onDelete: "CASCADE" },
    });
  });

  it("passes SQLite's integrity and foreign key checks", async () => {
    expect(await rawRows("PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
    expect(await rawRows("PRAGMA foreign_key_check")).toEqual([]);
  });
});
