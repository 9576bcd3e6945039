import { countRows, rawRows, removeTestDatabase, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb, openDatabaseHandle, type DatabaseHandle } from "@/db/handle";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import { createAccount } from "./accounts";
import { createScopedApiKey } from "./api-keys";
import { listAuditLog, type AuditActor } from "./audit-log";
import { recordExpiryEvents, setApiKeyExpiration } from "./key-lifecycle";
import type { DalResult } from "./result";
import { addWebhook } from "./webhooks";

// SPEC §9: "expires within 7 days" (once per key) and "expired", written by the sweep as audit
// entries (which the outbox trigger turns into webhook deliveries). Every call gets its `now`;
// each test's keys live in a year of their own, each a year before the last test's, so a sweep
// never sees another test's keys due (theirs all expire more than 7 days later).

afterAll(removeTestDatabase);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
const DASHBOARD: AuditActor = { type: "dashboard" };

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

let account = "";
let other = "";
let era = Date.parse("2100-01-01T00:00:00.000Z");

/** A time span of its own for one test, a year before the last one. */
function newEra(): (offset: number) => Date {
  era -= YEAR;
  const start = era;
  return (offset) => new Date(start + offset);
}

async function keyExpiringAt(accountId: string, createdAt: Date, expiresAt: Date, name = "expiring") {
  return unwrap(await createScopedApiKey(accountId, { name, scopes: createEmptyScopes(), expiresAt }, DASHBOARD, createdAt)).key;
}

type Entry = { action: string; target_id: string; target_name: string; created_at: number; details: unknown; actor: unknown };

/** The expiry entries written for `keyId`, oldest first. */
async function expiryEntries(keyId: string): Promise<Entry[]> {
  const rows = await rawRows(
    "SELECT action, target_id, target_name, created_at, details, actor FROM audit_log WHERE target_id = ? AND action IN ('api_key.expiring', 'api_key.expired') ORDER BY id",
    [keyId],
  );
  return rows.map((row) => ({ ...row, details: JSON.parse(String(row.details)), actor: JSON.parse(String(row.actor)) }) as Entry);
}

async function flags(keyId: string) {
  const [row] = await rawRows("SELECT expiring_notified AS expiring, expired_notified AS expired FROM api_keys WHERE id = ?", [keyId]);
  return row;
}

beforeAll(async () => {
  account = unwrap(await createAccount(uniqueEmail("expiry"), "password-expiry-123")).id;
  other = unwrap(await createAccount(uniqueEmail("expiry-other"), "password-expiry-123")).id;
});

describe("recordExpiryEvents", () => {
  it("writes `expiring` once when a key comes within 7 days of its expiry, then `expired` once at its expiry", async () => {
    const at = newEra();
    const expiresAt = at(30 * DAY);
    const key = await keyExpiringAt(account, at(0), expiresAt);
    const system = { type: "system" };
    const details = { kind: "scoped", expiresAt: expiresAt.getTime() };
    // More than 7 days ahead: nothing yet.
    expect(await recordExpiryEvents(at(23 * DAY - 1))).toBe(0);
    expect(await expiryEntries(key.id)).toEqual([]);
    // Exactly 7 days ahead: `expiring`, at the time it is noticed; once.
    expect(await recordExpiryEvents(at(23 * DAY))).toBe(1);
    expect(await recordExpiryEvents(at(25 * DAY))).toBe(0);
    expect(await recordExpiryEvents(at(30 * DAY - 1))).toBe(0);
    expect(await flags(key.id)).toEqual({ expiring: 1, expired: 0 });
    // At its expiry: `expired`, dated at the expiry even when noticed later; once.
    expect(await recordExpiryEvents(at(30 * DAY + 5 * MINUTE))).toBe(1);
    expect(await recordExpiryEvents(at(40 * DAY))).toBe(0);
    expect(await flags(key.id)).toEqual({ expiring: 1, expired: 1 });
    expect(await expiryEntries(key.id)).toEqual([
      { action: "api_key.expiring", target_id: key.id, target_name: "expiring", created_at: at(23 * DAY).getTime(), details, actor: system },
      { action: "api_key.expired", target_id: key.id, target_name: "expiring", created_at: expiresAt.getTime(), details, actor: system },
    ]);
    // The audit log reads them, with their sentences' details.
    const listed = (await listAuditLog(account, { page: 1, pageSize: 200 })).entries.filter((entry) => entry.target.id === key.id && entry.action.startsWith("api_key.expir"));
    expect(listed.map((entry) => [entry.action, entry.details])).toEqual([
      ["api_key.expired", details],
      ["api_key.expiring", details],
    ]);
  });

  it("writes only `expired` for a key found already expired (no `expiring` after the fact)", async () => {
    const at = newEra();
    const key = await keyExpiringAt(account, at(0), at(HOUR));
    expect(await recordExpiryEvents(at(2 * HOUR))).toBe(1);
    expect((await expiryEntries(key.id)).map((entry) => [entry.action, entry.created_at])).toEqual([["api_key.expired", at(HOUR).getTime()]]);
    expect(await flags(key.id)).toEqual({ expiring: 1, expired: 1 });
    expect(await recordExpiryEvents(at(3 * HOUR))).toBe(0);
  });

  it("writes `expiring` at once for a key created with less than 7 days to live", async () => {
    const at = newEra();
    const key = await keyExpiringAt(account, at(0), at(7 * DAY));
    expect(await recordExpiryEvents(at(10_000))).toBe(1);
    expect((await expiryEntries(key.id)).map((entry) => entry.action)).toEqual(["api_key.expiring"]);
  });

  it("leaves keys without an expiry, and keys far from it, alone", async () => {
    const at = newEra();
    const never = unwrap(await createScopedApiKey(account, { name: "forever", scopes: createEmptyScopes(), expiresAt: null }, DASHBOARD, at(0))).key;
    const far = await keyExpiringAt(account, at(0), at(90 * DAY));
    expect(await recordExpiryEvents(at(DAY))).toBe(0);
    expect(await expiryEntries(never.id)).toEqual([]);
    expect(await expiryEntries(far.id)).toEqual([]);
    expect(await flags(never.id)).toEqual({ expiring: 0, expired: 0 });
  });

  it("announces a changed expiry afresh; setting the same expiry again does not", async () => {
    const at = newEra();
    const key = await keyExpiringAt(account, at(0), at(3 * DAY));
    expect(await recordExpiryEvents(at(MINUTE))).toBe(1);
    // The same expiry: nothing changes, nothing is sent again.
    unwrap(await setApiKeyExpiration(account, key.id, at(3 * DAY), DASHBOARD, at(2 * MINUTE)));
    expect(await flags(key.id)).toEqual({ expiring: 1, expired: 0 });
    expect(await recordExpiryEvents(at(3 * MINUTE))).toBe(0);
    // Pushed out of range: nothing until it comes within 7 days again, then `expiring` again.
    unwrap(await setApiKeyExpiration(account, key.id, at(60 * DAY), DASHBOARD, at(4 * MINUTE)));
    expect(await flags(key.id)).toEqual({ expiring: 0, expired: 0 });
    expect(await recordExpiryEvents(at(5 * MINUTE))).toBe(0);
    expect(await recordExpiryEvents(at(53 * DAY))).toBe(1);
    expect(await recordExpiryEvents(at(61 * DAY))).toBe(1);
    // Expired, then given a new expiry: both events are due again for it.
    unwrap(await setApiKeyExpiration(account, key.id, at(62 * DAY), DASHBOARD, at(61 * DAY + MINUTE)));
    expect(await recordExpiryEvents(at(61 * DAY + 2 * MINUTE))).toBe(1);
    expect(await recordExpiryEvents(at(62 * DAY))).toBe(1);
    expect((await expiryEntries(key.id)).map((entry) => entry.action)).toEqual([
      "api_key.expiring",
      "api_key.expiring",
      "api_key.expired",
      "api_key.expiring",
      "api_key.expired",
    ]);
    // No expiry at all: nothing more.
    unwrap(await setApiKeyExpiration(account, key.id, null, DASHBOARD, at(62 * DAY + MINUTE)));
    expect(await recordExpiryEvents(at(100 * DAY))).toBe(0);
  });

  it("is written once across two database handles (two processes) sweeping at the same moment", async () => {
    const at = newEra();
    const keys = await Promise.all(Array.from({ length: 6 }, (_, i) => keyExpiringAt(i % 2 ? account : other, at(0), at((i + 1) * HOUR), `pair-${i}`)));
    const second = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 5_000 });
    const globalForDb = globalThis as unknown as { keyscopeDb?: { url: string; handle: DatabaseHandle; ready: Promise<void> } };
    try {
      // recordExpiryEvents takes the process's handle as it starts: lend it the second one for that moment.
      const onSecond = () => {
        const own = globalForDb.keyscopeDb!;
        globalForDb.keyscopeDb = { url: own.url, handle: second, ready: Promise.resolve() };
        try {
          return recordExpiryEvents(at(DAY));
        } finally {
          globalForDb.keyscopeDb = own;
        }
      };
      const [one, two] = await Promise.all([recordExpiryEvents(at(DAY)), onSecond()]);
      expect(one + two).toBe(6);
      for (const key of keys) expect((await expiryEntries(key.id)).map((entry) => entry.action)).toEqual(["api_key.expired"]);
    } finally {
      second.close();
    }
  });

  it("makes one webhook delivery per event, as `key.expiring` and `key.expired`", async () => {
    const at = newEra();
    const withHooks = unwrap(await createAccount(uniqueEmail("expiry-hooks"), "password-expiry-123")).id;
    unwrap(await addWebhook(withHooks, "https://expiry.example.com/hook", DASHBOARD));
    const key = await keyExpiringAt(withHooks, at(0), at(2 * DAY), "hooked");
    await recordExpiryEvents(at(MINUTE));
    await recordExpiryEvents(at(3 * DAY));
    const rows = await rawRows("SELECT event, payload FROM webhook_deliveries WHERE account_id = ? ORDER BY rowid", [withHooks]);
    expect(rows.map((row) => row.event)).toEqual(["key.created", "key.expiring", "key.expired"]);
    expect(JSON.parse(String(rows[2]!.payload))).toMatchObject({
      type: "key.expired",
      createdAt: at(2 * DAY).toISOString(),
      key: { id: key.id, name: "hooked" },
      details: { kind: "scoped", expiresAt: at(2 * DAY).getTime() },
      actor: { type: "system" },
    });
  });

  it("when nothing is due it returns 0, writes nothing and takes no write lock; its read uses the partial index", async () => {
    const at = newEra();
    await keyExpiringAt(account, at(0), at(30 * DAY));
    const before = await countRows("audit_log");
    const client = (await getDb()).$client;
    const batch = vi.spyOn(client, "batch");
    try {
      expect(await recordExpiryEvents(at(DAY))).toBe(0);
      expect(batch).not.toHaveBeenCalled();
    } finally {
      batch.mockRestore();
    }
    expect(await countRows("audit_log")).toBe(before);
    const plan = await rawRows(
      "EXPLAIN QUERY PLAN SELECT id FROM api_keys WHERE api_keys.expired_notified = 0 AND api_keys.expires_at <= ? AND (api_keys.expiring_notified = 0 OR api_keys.expires_at <= ?) LIMIT 1",
      [1, 2],
    );
    expect(plan.map((row) => row.detail).join("\n")).toMatch(/USING INDEX api_keys_expiry_notice_idx/);
  });
});
