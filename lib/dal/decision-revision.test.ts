import { removeTestDatabase, testDatabaseDir, testDatabasePath } from "@/testing/test-database";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "libsql";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getDb, openDatabaseHandle } from "@/db/handle";
import { migrateDatabase, MIGRATIONS_FOLDER } from "@/db/migrate";

// Migration 0005: the one revision that every decision-relevant change moves, whichever code
// commits it, and that nothing else moves (each bump empties every process's decision cache).

let raw: InstanceType<typeof Database>;
let n = 0;

beforeAll(async () => {
  await getDb(); // creates and migrates the file
  raw = new Database(testDatabasePath);
  raw.exec("PRAGMA foreign_keys = ON");
});

afterAll(async () => {
  raw?.close();
  await removeTestDatabase();
});

const revision = () => (raw.prepare("SELECT revision FROM decision_revision WHERE id = 1").get() as { revision: number }).revision;

/** A fresh row of each kind, with nothing referencing it unless asked. */
function freshAccount(): string {
  const id = `acct-${++n}`;
  raw.prepare("INSERT INTO accounts (id, email, password_hash) VALUES (?, ?, 'x')").run(id, `${id}@example.test`);
  return id;
}

function freshEndpoint(accountId = freshAccount()): string {
  const id = `ep-${++n}`;
  raw.prepare("INSERT INTO endpoints (id, account_id, name) VALUES (?, ?, ?)").run(id, accountId, id);
  return id;
}

function freshKey(accountId = freshAccount()): string {
  const id = `key-${++n}`;
  raw
    .prepare("INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint, endpoints_all_level) VALUES (?, ?, ?, 'scoped', ?, 'rpa_…', 'read')")
    .run(id, accountId, id, `hash-${id}`);
  return id;
}

/** An override of a new key on a new endpoint of one account. */
function freshScope(): { accountId: string; keyId: string; endpointId: string } {
  const accountId = freshAccount();
  const keyId = freshKey(accountId);
  const endpointId = freshEndpoint(accountId);
  raw.prepare("INSERT INTO api_key_endpoint_scopes (account_id, key_id, endpoint_id, level) VALUES (?, ?, ?, 'read')").run(accountId, keyId, endpointId);
  return { accountId, keyId, endpointId };
}

/** An elevation (GraphQL, read_write, ending far ahead) of a new key. */
function freshElevation(): string {
  const accountId = freshAccount();
  const keyId = freshKey(accountId);
  const id = `elv-${++n}`;
  raw
    .prepare("INSERT INTO api_key_elevations (id, account_id, key_id, target, level, reason, created_at, ends_at) VALUES (?, ?, ?, 'graphql', 'read_write', 'r', 0, 9e15)")
    .run(id, accountId, keyId);
  return id;
}

const fresh = { account: freshAccount, endpoint: freshEndpoint, key: freshKey, scope: freshScope, elevation: freshElevation };

/** Runs `change` and answers by how much it moved the revision. */
function bumpsOf(change: () => unknown): number {
  const before = revision();
  change();
  return revision() - before;
}

describe("the revision row", () => {
  it("is one row, and refuses a second", () => {
    expect(raw.prepare("SELECT id, revision FROM decision_revision").all()).toEqual([{ id: 1, revision: expect.any(Number) }]);
    expect(() => raw.prepare("INSERT INTO decision_revision (id, revision) VALUES (2, 0)").run()).toThrow(/CHECK constraint failed/);
  });
});

describe("what moves it, and what does not", () => {
  // Each case sets up its rows first, then returns the change that is measured.
  type Case = [label: string, prepare: () => () => unknown, bumps: boolean];
  const run = (sql: string, ...args: unknown[]) => () => raw.prepare(sql).run(...args);
  const cases: Case[] = [
    ["a key created", () => () => fresh.key(), true],
    ["a key deleted", () => run("DELETE FROM api_keys WHERE id = ?", fresh.key()), true],
    ["a key disabled", () => run("UPDATE api_keys SET enabled = 0 WHERE id = ?", fresh.key()), true],
    [
      "a key enabled",
      () => {
        const id = fresh.key();
        raw.prepare("UPDATE api_keys SET enabled = 0 WHERE id = ?").run(id);
        return run("UPDATE api_keys SET enabled = 1 WHERE id = ?", id);
      },
      true,
    ],
    ["its GraphQL level changed", () => run("UPDATE api_keys SET graphql_level = 'read' WHERE id = ?", fresh.key()), true],
    ["its All endpoints level narrowed", () => run("UPDATE api_keys SET endpoints_all_level = 'none' WHERE id = ?", fresh.key()), true],
    ["an override added", () => () => fresh.scope(), true],
    ["an override changed", () => run("UPDATE api_key_endpoint_scopes SET level = 'none' WHERE key_id = ?", fresh.scope().keyId), true],
    ["an override removed", () => run("DELETE FROM api_key_endpoint_scopes WHERE key_id = ?", fresh.scope().keyId), true],
    ["an endpoint created", () => () => fresh.endpoint(), true],
    ["an endpoint deleted", () => run("DELETE FROM endpoints WHERE id = ?", fresh.endpoint()), true],
    ["an account deleted (its keys cascade)", () => run("DELETE FROM accounts WHERE id = ?", fresh.scope().accountId), true],
    ["a key's enabled set to what it already is", () => run("UPDATE api_keys SET enabled = 1 WHERE id = ?", fresh.key()), false],
    ["a last-used flush", () => run("UPDATE api_keys SET last_used_at = 123 WHERE id = ?", fresh.key()), false],
    ["a key renamed", () => run("UPDATE api_keys SET name = 'renamed' WHERE id = ?", fresh.key()), false],
    // A 403 names the endpoint (SPEC §4), and the decision cache holds that name (migration 0006).
    ["an endpoint renamed", () => run("UPDATE endpoints SET name = 'renamed' WHERE id = ?", fresh.endpoint()), true],
    ["a key's expiry set", () => run("UPDATE api_keys SET expires_at = 123 WHERE id = ?", fresh.key()), true],
    ["a key rolled (new hash, previous kept)", () => run("UPDATE api_keys SET previous_key_hash = key_hash, previous_valid_until = 9, key_hash = key_hash || '-new' WHERE id = ?", fresh.key()), true],
    ["an elevation started", () => () => fresh.elevation(), true],
    ["an elevation ended by hand", () => run("UPDATE api_key_elevations SET ended_at = 5, end_recorded = 1 WHERE id = ?", fresh.elevation()), true],
    ["an elevation's natural end written to the audit log", () => run("UPDATE api_key_elevations SET end_recorded = 1 WHERE id = ?", fresh.elevation()), false],
    ["a sign-out (session version)", () => run("UPDATE accounts SET session_version = session_version + 1 WHERE id = ?", fresh.account()), false],
    [
      "a job queued and finished, and an audit entry",
      () => {
        const accountId = fresh.account();
        const endpointId = fresh.endpoint(accountId);
        return () => {
          raw.prepare("INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) VALUES (?, ?, ?, 'IN_QUEUE', '{}', 0)").run(`job-${++n}`, accountId, endpointId);
          raw.prepare("UPDATE jobs SET status = 'COMPLETED', output = '{}' WHERE account_id = ?").run(accountId);
          raw.prepare("INSERT INTO audit_log (account_id, created_at, action, target_type) VALUES (?, 0, 'endpoint.renamed', 'endpoint')").run(accountId);
        };
      },
      false,
    ],
  ];

  it.each(cases)("%s (moves it: %s)", (_label, prepare, bumps) => {
    const moved = bumpsOf(prepare());
    if (bumps) expect(moved).toBeGreaterThan(0);
    else expect(moved).toBe(0);
  });

  it("a change rolled back leaves it where it was", () => {
    const id = fresh.key();
    const before = revision();
    raw.exec("BEGIN IMMEDIATE");
    raw.prepare("UPDATE api_keys SET enabled = 0 WHERE id = ?").run(id);
    raw.exec("ROLLBACK");
    expect(revision()).toBe(before);
  });
});

// Every column of the tables the verifier reads is either deciding (a change to it moves the
// revision) or not. A new column fails here until it is put in one list — and, when deciding,
// given its trigger in a migration — so the cache cannot go stale by a column added later.
const COLUMNS: Record<string, { deciding: string[]; notDeciding: string[]; row: () => string; other: Record<string, () => string> }> = {
  api_keys: {
    deciding: [
      "id",
      "account_id",
      "key_hash",
      "enabled",
      "graphql_level",
      "endpoints_all_level",
      "expires_at",
      "previous_key_hash",
      "previous_valid_until",
      "previous_until_first_use",
      "allowed_ips",
      "rate_limit",
      "rate_limit_per",
    ],
    // A leak report disables the key: `enabled` moves the revision, the leak's own columns need not.
    notDeciding: [
      "name",
      "kind",
      "hint",
      "created_at",
      "last_used_at",
      "previous_hint",
      "leaked_at",
      "leak_url",
      "leak_source",
      "leak_dismissed_at",
      "expiring_notified",
      "expired_notified",
      // SPEC §11 `Created by`: who may change the key on the dashboard, not what it may do.
      "created_by",
    ],
    row: () => fresh.key(),
    // Null on a fresh key: a value to set it to.
    other: {
      account_id: () => fresh.account(),
      previous_key_hash: () => `hash-${++n}`,
      allowed_ips: () => `["10.0.0.${++n % 250}/32"]`,
      rate_limit_per: () => "minute",
      leak_url: () => "https://example.test/leak",
      leak_source: () => "scanner",
      created_by: () => `user-${++n}`,
    },
  },
  endpoints: {
    deciding: ["id", "account_id", "name"],
    notDeciding: ["created_at"],
    row: () => fresh.endpoint(),
    other: { account_id: () => fresh.account() },
  },
  accounts: {
    deciding: ["id"],
    notDeciding: ["email", "password_hash", "session_version", "created_at"],
    row: () => fresh.account(),
    other: {},
  },
  api_key_elevations: {
    deciding: ["id", "account_id", "key_id", "target", "endpoint_id", "level", "ends_at", "ended_at"],
    notDeciding: ["reason", "created_at", "end_recorded"],
    row: () => fresh.elevation(),
    other: { account_id: () => fresh.account(), endpoint_id: () => fresh.endpoint() },
  },
  api_key_endpoint_scopes: {
    // The overrides table has no column that does not decide.
    deciding: ["account_id", "key_id", "endpoint_id", "level"],
    notDeciding: [],
    row: () => fresh.scope().keyId,
    other: {},
  },
};

describe("every column is classified, and its trigger matches", () => {
  it.each(Object.keys(COLUMNS))("%s: no column left out", (table) => {
    const columns = (raw.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name).sort();
    const { deciding, notDeciding } = COLUMNS[table]!;
    expect(columns).toEqual([...deciding, ...notDeciding].sort());
  });

  const updates = Object.entries(COLUMNS).flatMap(([table, spec]) =>
    [...spec.deciding.map((column) => [table, column, true] as const), ...spec.notDeciding.map((column) => [table, column, false] as const)],
  );

  it.each(updates)("%s.%s changed (moves it: %s)", (table, column, deciding) => {
    const spec = COLUMNS[table]!;
    // Scopes are found by key id (their primary key starts with it); other tables by id.
    const keyColumn = table === "api_key_endpoint_scopes" ? "key_id" : "id";
    const id = spec.row();
    const other = spec.other[column];
    // A different value of the same kind: another real account for a reference, else derived.
    const { type } = (raw.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[]).find((c) => c.name === column)!;
    const setTo = other ? `'${other()}'` : /int/i.test(type) ? `coalesce(${column}, 0) + 1` : `${column} || '-changed'`;
    // Foreign keys off for this statement only: changing a referenced id is what is tested here,
    // not whether the schema allows it.
    raw.exec("PRAGMA foreign_keys = OFF");
    try {
      const moved = bumpsOf(() => raw.prepare(`UPDATE ${table} SET ${column} = ${setTo} WHERE ${keyColumn} = ?`).run(id));
      expect(moved > 0).toBe(deciding);
    } finally {
      raw.exec("PRAGMA foreign_keys = ON");
    }
  });
});

describe("migrating a database that predates 0005", () => {
  let file = "";
  beforeEach(() => {
    file = path.join(testDatabaseDir, `before-0005-${++n}.db`);
  });

  it("adds the row at 0 and its triggers, keeps the data, and migrating again changes nothing", async () => {
    // The migrations up to 0004, as a database deployed before this one had them.
    const old = path.join(testDatabaseDir, `migrations-0004-${n}`);
    mkdirSync(path.join(old, "meta"), { recursive: true });
    for (const name of readdirSync(MIGRATIONS_FOLDER).filter((name) => /^000[0-4]_.*\.sql$/.test(name))) copyFileSync(path.join(MIGRATIONS_FOLDER, name), path.join(old, name));
    const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as { entries: { idx: number }[] };
    writeFileSync(path.join(old, "meta/_journal.json"), JSON.stringify({ ...journal, entries: journal.entries.filter((entry) => entry.idx <= 4) }));

    const url = `file:${file}`;
    const handle = openDatabaseHandle(url, { busyTimeoutMs: 2_000 });
    const db = handle.db;
    try {
      await migrateDatabase(db, url, old);
      await db.$client.batch(
        [
          "INSERT INTO accounts (id, email, password_hash) VALUES ('old', 'old@example.test', 'x')",
          "INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint) VALUES ('old-key', 'old', 'old', 'scoped', 'old-hash', 'rpa_…')",
        ],
        "write",
      );
      expect((await db.$client.execute("SELECT name FROM sqlite_master WHERE name = 'decision_revision'")).rows).toHaveLength(0);

      await migrateDatabase(db, url);
      const rowsOf = async (sql: string) => (await db.$client.execute(sql)).rows.map((row) => ({ ...row }));
      expect(await rowsOf("SELECT id, revision FROM decision_revision")).toEqual([{ id: 1, revision: 0 }]);
      expect(await rowsOf("SELECT id FROM api_keys")).toEqual([{ id: "old-key" }]);
      const triggers = (await rowsOf("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")).map((row) => row.name);
      // 0005's eleven, 0006's three on elevations (it replaces two of 0005's in place), and 0007's
      // webhook outbox trigger on audit_log (it replaces the api_keys one again).
      expect(triggers).toHaveLength(15);
      expect(await rowsOf("PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);

      await db.$client.execute("UPDATE api_keys SET enabled = 0 WHERE id = 'old-key'");
      expect(await rowsOf("SELECT revision FROM decision_revision")).toEqual([{ revision: 1 }]);
      await migrateDatabase(db, url);
      expect(await rowsOf("SELECT revision FROM decision_revision")).toEqual([{ revision: 1 }]);
    } finally {
      handle.close();
    }
  });
});
