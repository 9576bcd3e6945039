import { testDatabaseDir, testDatabaseUrl, removeTestDatabase } from "@/testing/test-database";
import { hash } from "@node-rs/argon2";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDatabaseHandle, openDatabaseHandle, type SqlRunner } from "@/db/handle";
import { migrateDatabase, MIGRATIONS_FOLDER } from "@/db/migrate";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { generateScopedKey } from "@/lib/core/keys/generate";
import { hashKey } from "@/lib/core/keys/hash";
import { decide, type Requirement } from "@/lib/core/verify/verifier";
import { endAccountSessions, findAccountForSession, verifyAccountCredentials, verifyAccountPassword } from "./accounts";
import { listApiKeys } from "./api-keys";
import { listAuditLog } from "./audit-log";
import { createKeyStore } from "./key-store";
import { countRecentRequests } from "./usage";
import type { UsageRecorder } from "./usage-recorder";

// SPEC §11 / issue 12: a database made by the previous release (commit 1cf20c5: migrations 0000 to
// 0009) becomes, when this release starts on it, one team per account owned by its own user — the
// same id, email, password hash and session version, so every session cookie keeps working — with
// every key, hash, scope, date, audit entry and usage count as it was, and every key verifying
// exactly as before.

const PASSWORD = "old-release-password-123";
const HOUR = 3_600_000;
const NOW = Date.now();
const T0 = NOW - 40 * 24 * HOUR;
// Far enough ahead not to end while the test runs.
const LATER = NOW + 30 * 24 * HOUR;

/** The migrations the previous release shipped, as the folder it ran them from. */
function previousReleaseMigrations(): string {
  const folder = path.join(testDatabaseDir, "migrations-1cf20c5");
  mkdirSync(path.join(folder, "meta"), { recursive: true });
  const files = readdirSync(MIGRATIONS_FOLDER).filter((name) => /^000\d_.*\.sql$/.test(name));
  for (const name of files) copyFileSync(path.join(MIGRATIONS_FOLDER, name), path.join(folder, name));
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as { entries: { idx: number; tag: string }[] };
  const entries = journal.entries.filter((entry) => entry.idx <= 9);
  // Exactly the ten of 1cf20c5: a migration edited or inserted since would make this some other database.
  expect(entries.map((entry) => entry.tag)).toEqual(files.map((name) => name.replace(/\.sql$/, "")));
  expect(entries.at(-1)?.tag).toBe("0009_usage");
  writeFileSync(path.join(folder, "meta/_journal.json"), JSON.stringify({ ...journal, entries }));
  return folder;
}

/** A random legacy key: 32 characters of [A-Z0-9]. */
function legacyPlaintext(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
}

const secrets = {
  scoped: generateScopedKey(),
  legacyRead: legacyPlaintext(),
  legacyWrite: legacyPlaintext(),
  disabled: generateScopedKey(),
  expired: generateScopedKey(),
  rolled: generateScopedKey(),
  rolledPrevious: generateScopedKey(),
  restricted: generateScopedKey(),
  elevated: generateScopedKey(),
  otherAccount: generateScopedKey(),
};

type KeyRow = [id: string, account: string, name: string, kind: "scoped" | "legacy", secret: string, enabled: number, graphql: string, endpointsAll: string, extra?: Record<string, unknown>];

const KEYS: KeyRow[] = [
  ["key_scoped", "acct_old", "deploy", "scoped", secrets.scoped, 1, "read", "none", { last_used_at: NOW - HOUR }],
  ["key_legacy_r", "acct_old", "old read", "legacy", secrets.legacyRead, 1, "read", "read"],
  ["key_legacy_w", "acct_old", "old write", "legacy", secrets.legacyWrite, 1, "read_write", "read_write"],
  ["key_disabled", "acct_old", "off", "scoped", secrets.disabled, 0, "read", "read"],
  ["key_expired", "acct_old", "expired", "scoped", secrets.expired, 1, "read", "read", { expires_at: T0 + HOUR, expiring_notified: 1, expired_notified: 1 }],
  [
    "key_rolled",
    "acct_old",
    "rolled",
    "scoped",
    secrets.rolled,
    1,
    "none",
    "read",
    { previous_key_hash: hashKey(secrets.rolledPrevious), previous_hint: formatDisplayHint(secrets.rolledPrevious, "scoped"), previous_valid_until: LATER },
  ],
  ["key_restricted", "acct_old", "restricted", "scoped", secrets.restricted, 1, "read", "none", { allowed_ips: '["10.0.0.0/8"]', rate_limit: 1000, rate_limit_per: "minute" }],
  ["key_elevated", "acct_old", "elevated", "scoped", secrets.elevated, 1, "none", "none", { expires_at: LATER }],
  ["key_other", "acct_other", "other's", "scoped", secrets.otherAccount, 1, "read_write", "read_write"],
];

/** The previous release's rows, written as it wrote them (its schema: no users, no created_by). */
async function seedPreviousRelease(run: (sql: string, args?: unknown[]) => Promise<unknown>): Promise<void> {
  const passwordHash = await hash(PASSWORD);
  await run("INSERT INTO accounts (id, email, password_hash, session_version, created_at) VALUES ('acct_old', 'old@example.test', ?, 3, ?)", [passwordHash, T0]);
  await run("INSERT INTO accounts (id, email, password_hash, session_version, created_at) VALUES ('acct_other', 'other@example.test', ?, 0, ?)", [passwordHash, T0 + 1]);
  for (const [id, account, name] of [["ep_alpha", "acct_old", "alpha"], ["ep_beta", "acct_old", "beta"], ["ep_other", "acct_other", "gamma"]]) {
    await run("INSERT INTO endpoints (id, account_id, name, created_at) VALUES (?, ?, ?, ?)", [id, account, name, T0]);
  }
  for (const [i, [id, account, name, kind, secret, enabled, graphql, endpointsAll, extra = {}]] of KEYS.entries()) {
    const columns = ["id", "account_id", "name", "kind", "key_hash", "hint", "enabled", "graphql_level", "endpoints_all_level", "created_at", ...Object.keys(extra)];
    const values = [id, account, name, kind, hashKey(secret), formatDisplayHint(secret, kind), enabled, graphql, endpointsAll, T0 + i, ...Object.values(extra)];
    await run(`INSERT INTO api_keys (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`, values);
  }
  await run("INSERT INTO api_key_endpoint_scopes (account_id, key_id, endpoint_id, level) VALUES ('acct_old', 'key_scoped', 'ep_alpha', 'read_write')");
  await run("INSERT INTO api_key_endpoint_scopes (account_id, key_id, endpoint_id, level) VALUES ('acct_old', 'key_rolled', 'ep_beta', 'none')");
  await run(
    "INSERT INTO api_key_elevations (id, account_id, key_id, target, endpoint_id, level, reason, created_at, ends_at) VALUES ('elv_1', 'acct_old', 'key_elevated', 'graphql', NULL, 'read_write', 'migration', ?, ?)",
    [NOW - HOUR, LATER],
  );
  const audit = [
    [T0, "endpoint.created", "endpoint", "ep_alpha", "alpha", "{}", '{"type":"dashboard"}'],
    [T0 + 1, "api_key.created", "api_key", "key_scoped", "deploy", '{"kind":"scoped","scopes":{"graphql":"read","endpointsAll":"none","endpoints":[]},"expiresAt":null}', '{"type":"dashboard"}'],
    [T0 + 2, "api_key.legacy_imported", "api_key", null, null, '{"count":1,"keys":[{"id":"key_legacy_r","name":"old read","permission":"read"}]}', '{"type":"cli","command":"keys:import-legacy"}'],
    // Written before actors were recorded.
    [T0 + 3, "api_key.disabled", "api_key", "key_disabled", "off", '{"kind":"scoped"}', null],
  ] as const;
  for (const entry of audit) {
    await run("INSERT INTO audit_log (account_id, created_at, action, target_type, target_id, target_name, details, actor) VALUES ('acct_old', ?, ?, ?, ?, ?, ?, ?)", [...entry]);
  }
  const hour = Math.floor(NOW / HOUR) * HOUR;
  for (const [key, bucket, code, count] of [["key_scoped", hour - HOUR, "VALID", 41], ["key_scoped", hour - 2 * HOUR, "INSUFFICIENT_SCOPE", 3], ["key_legacy_r", hour, "VALID", 7]] as const) {
    await run("INSERT INTO api_key_usage_hourly (account_id, key_id, bucket, resource, via, access, code, count, last_at) VALUES ('acct_old', ?, ?, 'graphql', 'api', 'read', ?, ?, ?)", [key, bucket, code, count, bucket + 1]);
    await run("INSERT INTO api_key_usage_daily (account_id, key_id, bucket, resource, via, access, code, count, last_at) VALUES ('acct_old', ?, ?, 'graphql', 'api', 'read', ?, ?, ?)", [key, bucket - (bucket % (24 * HOUR)), code, count, bucket + 1]);
  }
}

/** Requests as the API would ask them: each key (and garbage) against GraphQL and endpoints, from an address. */
type Request = [label: string, presented: string | null, requirement: Requirement, ip: string | null];
const graphql = (access: "read" | "read_write"): Requirement => ({ resource: "graphql", access });
const endpoint = (endpointId: string, access: "read" | "read_write"): Requirement => ({ resource: "endpoint", endpointId, access });

const REQUESTS: [...Request, expected: string][] = [
  ["scoped: GraphQL read", secrets.scoped, graphql("read"), null, "VALID"],
  ["scoped: GraphQL write", secrets.scoped, graphql("read_write"), null, "INSUFFICIENT_SCOPE"],
  ["scoped: its override", secrets.scoped, endpoint("ep_alpha", "read_write"), null, "VALID"],
  ["scoped: another endpoint", secrets.scoped, endpoint("ep_beta", "read"), null, "INSUFFICIENT_SCOPE"],
  ["scoped: another account's endpoint", secrets.scoped, endpoint("ep_other", "read"), null, "NOT_FOUND"],
  ["legacy read: read", secrets.legacyRead, endpoint("ep_beta", "read"), null, "VALID"],
  ["legacy read: write", secrets.legacyRead, graphql("read_write"), null, "INSUFFICIENT_SCOPE"],
  ["legacy write: write", secrets.legacyWrite, endpoint("ep_alpha", "read_write"), null, "VALID"],
  ["disabled", secrets.disabled, graphql("read"), null, "KEY_DISABLED"],
  ["expired", secrets.expired, graphql("read"), null, "KEY_EXPIRED"],
  ["rolled: the new secret", secrets.rolled, endpoint("ep_alpha", "read"), null, "VALID"],
  ["rolled: the previous secret, in its grace period", secrets.rolledPrevious, endpoint("ep_alpha", "read"), null, "VALID"],
  ["rolled: its override to None", secrets.rolled, endpoint("ep_beta", "read"), null, "INSUFFICIENT_SCOPE"],
  ["restricted: an allowed address", secrets.restricted, graphql("read"), "10.1.2.3", "VALID"],
  ["restricted: another address", secrets.restricted, graphql("read"), "192.0.2.1", "IP_NOT_ALLOWED"],
  ["restricted: no address", secrets.restricted, graphql("read"), null, "IP_NOT_ALLOWED"],
  ["elevated: GraphQL write", secrets.elevated, graphql("read_write"), null, "VALID"],
  ["elevated: endpoints stay None", secrets.elevated, endpoint("ep_alpha", "read"), null, "INSUFFICIENT_SCOPE"],
  ["another account's key on its own endpoint", secrets.otherAccount, endpoint("ep_other", "read_write"), null, "VALID"],
  ["another account's key on this account's endpoint", secrets.otherAccount, endpoint("ep_alpha", "read"), null, "NOT_FOUND"],
  ["garbage", "rpa_not-a-key", graphql("read"), null, "UNAUTHENTICATED"],
  ["no key", null, graphql("read"), null, "UNAUTHENTICATED"],
  ["an unknown well-formed key", generateScopedKey(), graphql("read"), null, "UNAUTHENTICATED"],
];

// Decisions only: nothing is counted, so deciding twice leaves the data as it was.
const NO_USAGE = { count() {}, record() {} } as unknown as UsageRecorder;

async function decisions(sql: SqlRunner) {
  const store = createKeyStore(sql, NO_USAGE);
  try {
    const out: Record<string, unknown> = {};
    for (const [label, presented, requirement, ip] of REQUESTS) {
      const decision = await decide(presented, requirement, store, { clientAddress: ip, now: () => NOW });
      // The decision without its rate-limit state, whose reset time depends on the clock of the store.
      const { rateLimit, ...rest } = decision;
      out[label] = { ...rest, limited: rateLimit === undefined ? null : rateLimit.allowed };
    }
    return out;
  } finally {
    store.close();
  }
}

/** Every table of the previous release, every row, every column it had: what must not change. */
async function previousReleaseRows(query: (sql: string) => Promise<Record<string, unknown>[]>, tables: string[]) {
  const out: Record<string, unknown> = {};
  for (const table of tables) {
    const columns = (await query(`PRAGMA table_info("${table}")`)).map((column) => String(column.name)).filter((name) => !(table === "api_keys" && name === "created_by"));
    out[table] = await query(`SELECT ${columns.map((column) => `"${column}"`).join(", ")} FROM "${table}" ORDER BY rowid`);
  }
  return out;
}

let tables: string[] = [];
let before: Record<string, unknown> = {};
let decidedBefore: Record<string, unknown> = {};

beforeAll(async () => {
  // The previous release's database, in the very file this process then starts on.
  const old = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 2_000 });
  try {
    await migrateDatabase(old.db, testDatabaseUrl, previousReleaseMigrations());
    const client = old.db.$client;
    await seedPreviousRelease((sql, args = []) => client.execute({ sql, args: args as never }));
    const query = async (sql: string) => (await client.execute(sql)).rows.map((row) => ({ ...row }) as Record<string, unknown>);
    expect(await query("SELECT name FROM sqlite_master WHERE name IN ('users', 'memberships')")).toEqual([]);
    tables = (await query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name")).map((row) => String(row.name));
    before = await previousReleaseRows(query, tables);
    decidedBefore = await decisions(old.sql);
  } finally {
    old.close();
  }
  // This release starting on it: getDatabaseHandle migrates, as the server does on boot.
  await getDatabaseHandle();
});

afterAll(removeTestDatabase);

async function query(sql: string, args: unknown[] = []): Promise<Record<string, unknown>[]> {
  const handle = await getDatabaseHandle();
  return (await handle.db.$client.execute({ sql, args: args as never })).rows.map((row) => ({ ...row }) as Record<string, unknown>);
}

describe("a database made by the previous release, after this release's migrations", () => {
  it("was seeded as described (so the checks below are not vacuous)", () => {
    expect(tables).toEqual(expect.arrayContaining(["accounts", "api_keys", "api_key_endpoint_scopes", "api_key_elevations", "audit_log", "api_key_usage_hourly", "api_key_usage_daily"]));
    expect((before.api_keys as unknown[]).length).toBe(KEYS.length);
    expect((before.audit_log as unknown[]).length).toBe(4);
    expect((before.api_key_usage_hourly as unknown[]).length).toBe(3);
    expect(Object.values(decidedBefore).map((decision) => (decision as { code: string }).code)).toEqual(REQUESTS.map((request) => request[4]));
  });

  it("keeps every row of every table it had: keys, hashes, scopes, dates, elevations, audit entries, usage counts", async () => {
    expect(await previousReleaseRows((sql) => query(sql), tables)).toEqual(before);
  });

  it("decides every request exactly as before", async () => {
    expect(await decisions((await getDatabaseHandle()).sql)).toEqual(decidedBefore);
  });

  it("makes each account's user: the same id, email, password hash, session version and date", async () => {
    expect(await query("SELECT id, email, password_hash, session_version, created_at FROM users ORDER BY id")).toEqual(
      await query("SELECT id, email, password_hash, session_version, created_at FROM accounts ORDER BY id"),
    );
    expect(await query("SELECT id, session_version FROM users ORDER BY id")).toEqual([
      { id: "acct_old", session_version: 3 },
      { id: "acct_other", session_version: 0 },
    ]);
  });

  it("makes each account a team owned by its user, and nobody a member of another's", async () => {
    expect(await query("SELECT account_id, user_id, role, created_at FROM memberships ORDER BY account_id")).toEqual([
      { account_id: "acct_old", user_id: "acct_old", role: "owner", created_at: T0 },
      { account_id: "acct_other", user_id: "acct_other", role: "owner", created_at: T0 + 1 },
    ]);
  });

  it("makes the account's user the creator of its scoped keys; imported legacy keys have none", async () => {
    expect(await query("SELECT id, created_by FROM api_keys ORDER BY id")).toEqual(
      KEYS.map(([id, account, , kind]) => ({ id, created_by: kind === "scoped" ? account : null })).sort((a, b) => a.id.localeCompare(b.id)),
    );
    const listed = await listApiKeys("acct_old");
    expect(Object.fromEntries(listed.map((key) => [key.id, key.createdBy?.email ?? null]))).toEqual({
      key_scoped: "old@example.test",
      key_legacy_r: null,
      key_legacy_w: null,
      key_disabled: "old@example.test",
      key_expired: "old@example.test",
      key_rolled: "old@example.test",
      key_restricted: "old@example.test",
      key_elevated: "old@example.test",
    });
  });

  it("keeps the session cookies issued before: the same user id and version sign in to the same team, as its owner", async () => {
    expect(await findAccountForSession("acct_old", 3)).toEqual({ id: "acct_old", email: "old@example.test", createdAt: new Date(T0), userId: "acct_old", role: "owner" });
    // One from before the last sign-out stays ended.
    expect(await findAccountForSession("acct_old", 2)).toBeNull();
    expect(await verifyAccountCredentials("old@example.test", PASSWORD)).toEqual({ id: "acct_old", email: "old@example.test", sessionVersion: 3 });
    expect(await verifyAccountCredentials("old@example.test", "not-the-password")).toBeNull();
    expect(await verifyAccountPassword("acct_old", PASSWORD)).toBe(true);
  });

  it("shows the same audit log and usage through the dashboard's reads", async () => {
    const { entries, total } = await listAuditLog("acct_old", { page: 1 });
    expect(total).toBe(4);
    expect(entries.map((entry) => [entry.action, entry.actor])).toEqual([
      ["api_key.disabled", null],
      ["api_key.legacy_imported", { type: "cli", command: "keys:import-legacy" }],
      ["api_key.created", { type: "dashboard" }],
      ["endpoint.created", { type: "dashboard" }],
    ]);
    expect(await countRecentRequests("acct_old", NOW)).toEqual(new Map([["key_scoped", 44], ["key_legacy_r", 7]]));
  });

  it("migrating again changes nothing; a sign-out afterwards ends the old cookies as before", async () => {
    const handle = await getDatabaseHandle();
    const snapshot = async () => JSON.stringify(await Promise.all(["users", "memberships", "api_keys", "accounts"].map((table) => query(`SELECT * FROM ${table} ORDER BY rowid`))));
    const once = await snapshot();
    await migrateDatabase(handle.db, testDatabaseUrl);
    expect(await snapshot()).toBe(once);
    expect(await endAccountSessions("acct_old")).toEqual({ ok: true, value: { sessionVersion: 4 } });
    expect(await findAccountForSession("acct_old", 3)).toBeNull();
  });
});
