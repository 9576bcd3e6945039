import { countRows, rawRows, removeTestDatabase, runJustBeforeNextBatch, uniqueEmail, type RawRow } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import type { RestrictionsInput } from "@/lib/core/restrictions/restrictions";
import { createAccount } from "./accounts";
import { createScopedApiKey, getApiKey, importLegacyApiKeys, listApiKeys, type ApiKeyDto } from "./api-keys";
import { listAuditLog, type AuditActor } from "./audit-log";
import { setApiKeyRestrictions } from "./key-restrictions";
import type { DalResult } from "./result";

afterAll(removeTestDatabase);

const HOUR = 3_600_000;
const T0 = Date.parse("2025-06-01T10:00:00.000Z");
const at = (offset: number) => new Date(T0 + offset);
const DASHBOARD: AuditActor = { type: "dashboard" };
const NONE = { allowedIps: null, rateLimit: null };
const NONE_DETAILS = { allowedIps: null, rateLimit: null, per: null };

const secrets: string[] = [];
let accountA = "";
let accountB = "";

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

async function newKey(accountId: string, name = "restricted key"): Promise<string> {
  const created = unwrap(await createScopedApiKey(accountId, { name, scopes: createEmptyScopes() }, DASHBOARD, at(0)));
  secrets.push(created.plaintext, hashKey(created.plaintext));
  return created.key.id;
}

async function newLegacyKey(accountId: string): Promise<string> {
  const plaintext = "LEGACY" + Array.from({ length: 26 }, () => "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[Math.floor(Math.random() * 32)]).join("");
  secrets.push(plaintext, hashKey(plaintext));
  const imported = unwrap(
    await importLegacyApiKeys(accountId, [{ line: 1, name: "legacy", permission: "read", keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }], DASHBOARD, at(0)),
  );
  return imported.ids[0]!;
}

const input = (overrides: Partial<RestrictionsInput> = {}): RestrictionsInput => ({ allowedIps: "", rateLimit: null, per: null, ...overrides });

async function keyRow(keyId: string): Promise<RawRow | undefined> {
  const [row] = await rawRows("SELECT * FROM api_keys WHERE id = ?", [keyId]);
  return row;
}

const restrictionColumns = async (keyId: string) => {
  const [row] = await rawRows("SELECT allowed_ips, rate_limit, typeof(rate_limit) AS rate_limit_type, rate_limit_per FROM api_keys WHERE id = ?", [keyId]);
  return row;
};

async function accountState(accountId: string) {
  const of = (table: string, order: string) => rawRows(`SELECT * FROM ${table} WHERE account_id = ? ORDER BY ${order}`, [accountId]);
  return { keys: await of("api_keys", "id"), overrides: await of("api_key_endpoint_scopes", "key_id, endpoint_id"), audit: await of("audit_log", "id") };
}

const revision = async () => Number((await rawRows("SELECT revision FROM decision_revision WHERE id = 1"))[0]?.revision);

type AuditRow = Omit<RawRow, "details" | "actor"> & { details: unknown; actor: unknown };

/** Runs `change`; answers its result and every audit row it wrote, for any account. */
async function audited<T>(change: () => Promise<T>): Promise<[T, AuditRow[]]> {
  const [last] = await rawRows("SELECT coalesce(max(id), 0) AS id FROM audit_log");
  const result = await change();
  const rows = await rawRows("SELECT * FROM audit_log WHERE id > ? ORDER BY id", [Number(last?.id)]);
  for (const row of rows) for (const secret of secrets) expect(JSON.stringify(row)).not.toContain(secret);
  return [result, rows.map((row) => ({ ...row, details: JSON.parse(String(row.details)), actor: row.actor === null ? null : JSON.parse(String(row.actor)) }))];
}

function entry(accountId: string, keyId: string, name: string, now: Date, before: unknown, after: unknown) {
  return {
    id: expect.any(Number),
    account_id: accountId,
    created_at: now.getTime(),
    action: "api_key.restrictions_changed",
    target_type: "api_key",
    target_id: keyId,
    target_name: name,
    details: { before, after },
    actor: { type: "dashboard" },
  };
}

function expectNoSecrets(dto: ApiKeyDto) {
  const text = JSON.stringify(dto);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
});

describe("setApiKeyRestrictions", () => {
  it("a new key has no restrictions: any address, no rate limit", async () => {
    const keyId = await newKey(accountA);
    expect((await getApiKey(accountA, keyId))?.restrictions).toEqual(NONE);
    expect(await restrictionColumns(keyId)).toEqual({ allowed_ips: null, rate_limit: null, rate_limit_type: "null", rate_limit_per: null });
  });

  it("sets, changes and clears both, each with one entry holding before and after, read in the same transaction", async () => {
    const keyId = await newKey(accountA);
    const steps: [RestrictionsInput, unknown, unknown, unknown][] = [
      [
        input({ allowedIps: "10.1.2.3/8\r\n\r\n127.0.0.1\n2001:DB8::1", rateLimit: 100, per: "minute" }),
        { allowed_ips: '["10.0.0.0/8","127.0.0.1/32","2001:db8::1/128"]', rate_limit: 100, rate_limit_type: "integer", rate_limit_per: "minute" },
        { allowedIps: ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::1/128"], rateLimit: { limit: 100, per: "minute" } },
        { allowedIps: ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::1/128"], rateLimit: 100, per: "minute" },
      ],
      [
        input({ allowedIps: "10.0.0.0/8", rateLimit: 1_000_000, per: "hour" }),
        { allowed_ips: '["10.0.0.0/8"]', rate_limit: 1_000_000, rate_limit_type: "integer", rate_limit_per: "hour" },
        { allowedIps: ["10.0.0.0/8"], rateLimit: { limit: 1_000_000, per: "hour" } },
        { allowedIps: ["10.0.0.0/8"], rateLimit: 1_000_000, per: "hour" },
      ],
      [
        input({ allowedIps: "10.0.0.0/8", rateLimit: 1, per: "second" }),
        { allowed_ips: '["10.0.0.0/8"]', rate_limit: 1, rate_limit_type: "integer", rate_limit_per: "second" },
        { allowedIps: ["10.0.0.0/8"], rateLimit: { limit: 1, per: "second" } },
        { allowedIps: ["10.0.0.0/8"], rateLimit: 1, per: "second" },
      ],
      // Cleared: the window chosen in the form does not count without a limit.
      [input({ allowedIps: "  \n", rateLimit: null, per: "minute" }), { allowed_ips: null, rate_limit: null, rate_limit_type: "null", rate_limit_per: null }, NONE, NONE_DETAILS],
    ];
    let was: unknown = NONE_DETAILS;
    for (const [i, [given, columns, restrictions, details]] of steps.entries()) {
      const now = at(60_000 * (i + 1));
      const revisionBefore = await revision();
      const before = await keyRow(keyId);
      const [result, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, given, DASHBOARD, now));
      const dto = unwrap(result);
      expect(dto.restrictions).toEqual(restrictions);
      expectNoSecrets(dto);
      expect(await getApiKey(accountA, keyId, now)).toEqual(dto);
      expect(await restrictionColumns(keyId)).toEqual(columns);
      // Only the restriction columns moved.
      const changed = await restrictionColumns(keyId);
      expect(await keyRow(keyId)).toEqual({ ...before, allowed_ips: changed?.allowed_ips, rate_limit: changed?.rate_limit, rate_limit_per: changed?.rate_limit_per });
      expect(entries).toEqual([entry(accountA, keyId, "restricted key", now, was, details)]);
      // The key store's cache follows the decision revision: it must move with the restrictions.
      expect(await revision()).toBeGreaterThan(revisionBefore);
      was = details;
    }
  });

  it("the entry's details are stored as the integers and strings they are (100, not 100.0)", async () => {
    const keyId = await newKey(accountA);
    const [, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "10.0.0.1", rateLimit: 100, per: "minute" }), DASHBOARD, at(HOUR)));
    const [row] = await rawRows("SELECT details FROM audit_log WHERE id = ?", [entries[0]?.id as number]);
    expect(row?.details).toBe('{"before":{"allowedIps":null,"rateLimit":null,"per":null},"after":{"allowedIps":["10.0.0.1/32"],"rateLimit":100,"per":"minute"}}');
  });

  it("the audit log reads the entry back (its schema knows the action)", async () => {
    const keyId = await newKey(accountB, "logged key");
    unwrap(await setApiKeyRestrictions(accountB, keyId, input({ allowedIps: "192.0.2.0/24", rateLimit: 2, per: "minute" }), DASHBOARD, at(HOUR)));
    const { entries } = await listAuditLog(accountB, { page: 1 });
    expect(entries[0]).toMatchObject({
      action: "api_key.restrictions_changed",
      details: { before: NONE_DETAILS, after: { allowedIps: ["192.0.2.0/24"], rateLimit: 2, per: "minute" } },
      target: { type: "api_key", id: keyId, name: "logged key" },
      actor: { type: "dashboard" },
    });
  });

  it("saving what the key already has, however it is written, succeeds and records nothing (nor moves the revision)", async () => {
    const keyId = await newKey(accountA);
    unwrap(await setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "10.0.0.0/8\n::1", rateLimit: 5, per: "hour" }), DASHBOARD, at(HOUR)));
    const row = await keyRow(keyId);
    const revisionBefore = await revision();
    for (const same of [
      input({ allowedIps: "10.0.0.0/8\n::1", rateLimit: 5, per: "hour" }),
      input({ allowedIps: "10.9.9.9/8\r\n0:0:0:0:0:0:0:1/128\n10.0.0.0/8\n", rateLimit: 5, per: "hour" }),
    ]) {
      const [result, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, same, DASHBOARD, at(2 * HOUR)));
      expect(unwrap(result).restrictions).toEqual({ allowedIps: ["10.0.0.0/8", "::1/128"], rateLimit: { limit: 5, per: "hour" } });
      expect(entries).toEqual([]);
    }
    expect(await keyRow(keyId)).toEqual(row);
    expect(await revision()).toBe(revisionBefore);

    const bare = await newKey(accountA);
    const [none, noEntries] = await audited(() => setApiKeyRestrictions(accountA, bare, input({ per: "second" }), DASHBOARD, at(HOUR)));
    expect(unwrap(none).restrictions).toEqual(NONE);
    expect(noEntries).toEqual([]);
  });

  it("only the part that changed differs between before and after", async () => {
    const keyId = await newKey(accountA);
    unwrap(await setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "10.0.0.1", rateLimit: 5, per: "hour" }), DASHBOARD, at(HOUR)));
    const [, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "10.0.0.1", rateLimit: 5, per: "minute" }), DASHBOARD, at(2 * HOUR)));
    expect(entries).toEqual([
      entry(accountA, keyId, "restricted key", at(2 * HOUR), { allowedIps: ["10.0.0.1/32"], rateLimit: 5, per: "hour" }, { allowedIps: ["10.0.0.1/32"], rateLimit: 5, per: "minute" }),
    ]);
  });

  it("a legacy key takes restrictions too", async () => {
    const keyId = await newLegacyKey(accountA);
    const [result, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "::ffff:10.0.0.1", rateLimit: 3, per: "second" }), DASHBOARD, at(HOUR)));
    expect(unwrap(result)).toMatchObject({ kind: "legacy", restrictions: { allowedIps: ["10.0.0.1/32"], rateLimit: { limit: 3, per: "second" } } });
    expect(entries).toEqual([entry(accountA, keyId, "legacy", at(HOUR), NONE_DETAILS, { allowedIps: ["10.0.0.1/32"], rateLimit: 3, per: "second" })]);
  });

  it("takes 100 ranges and lists them all in the DTO, the list and the entry", async () => {
    const keyId = await newKey(accountA, "hundred");
    const ranges = Array.from({ length: 100 }, (_, i) => `198.51.${i}.0/24`);
    const [result, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, input({ allowedIps: ranges.join("\n") }), DASHBOARD, at(HOUR)));
    expect(unwrap(result).restrictions.allowedIps).toEqual(ranges);
    expect((await listApiKeys(accountA)).find((key) => key.id === keyId)?.restrictions.allowedIps).toEqual(ranges);
    expect(entries[0]?.details).toEqual({ before: NONE_DETAILS, after: { allowedIps: ranges, rateLimit: null, per: null } });
  });

  it("the entry's before is the row as the write found it: a change made just before is what it replaces", async () => {
    const keyId = await newKey(accountA);
    const restore = runJustBeforeNextBatch("UPDATE api_keys SET allowed_ips = ?, rate_limit = 7, rate_limit_per = 'hour' WHERE id = ?", ['["203.0.113.0/24"]', keyId]);
    try {
      const [, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, input({ rateLimit: 7, per: "minute" }), DASHBOARD, at(HOUR)));
      expect(entries).toEqual([
        entry(accountA, keyId, "restricted key", at(HOUR), { allowedIps: ["203.0.113.0/24"], rateLimit: 7, per: "hour" }, { allowedIps: null, rateLimit: 7, per: "minute" }),
      ]);
    } finally {
      await restore();
    }
  });

  it("…and when that change already made the key what was asked for, nothing is recorded", async () => {
    const keyId = await newKey(accountA);
    const restore = runJustBeforeNextBatch("UPDATE api_keys SET rate_limit = 9, rate_limit_per = 'second' WHERE id = ?", [keyId]);
    try {
      const [result, entries] = await audited(() => setApiKeyRestrictions(accountA, keyId, input({ rateLimit: 9, per: "second" }), DASHBOARD, at(HOUR)));
      expect(unwrap(result).restrictions).toEqual({ allowedIps: null, rateLimit: { limit: 9, per: "second" } });
      expect(entries).toEqual([]);
    } finally {
      await restore();
    }
  });

  it("is not a webhook event: a change writes no delivery", async () => {
    const keyId = await newKey(accountA);
    await rawRows("INSERT INTO webhooks (id, account_id, url, secret, created_at) VALUES (?, ?, ?, ?, ?)", ["whk_restrictions", accountA, "https://example.test/hook", "s3cret", T0]);
    const deliveries = await countRows("webhook_deliveries");
    unwrap(await setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "10.0.0.1" }), DASHBOARD, at(HOUR)));
    expect(await countRows("webhook_deliveries")).toBe(deliveries);
    await rawRows("DELETE FROM webhooks WHERE id = ?", ["whk_restrictions"]);
  });

  const tooMany = Array.from({ length: 101 }, (_, i) => `10.0.${i}.1`).join("\n");

  it.each<[string, RestrictionsInput, string]>([
    ["a bad line (line 2)", input({ allowedIps: "10.0.0.1\n10.0.0.0/33", rateLimit: 5, per: "minute" }), "Line 2 is not an IP address or CIDR range."],
    ["a bad line after blank lines (line 4)", input({ allowedIps: "\n10.0.0.1\n\nexample.com" }), "Line 4 is not an IP address or CIDR range."],
    ["a zone", input({ allowedIps: "fe80::1%eth0" }), "Line 1 is not an IP address or CIDR range."],
    ["101 ranges", input({ allowedIps: tooMany }), "At most 100 addresses or ranges."],
    ["a rate limit of 0", input({ rateLimit: 0, per: "minute" }), "Rate limit must be a whole number from 1 to 1,000,000."],
    ["a rate limit of 1,000,001", input({ rateLimit: 1_000_001, per: "minute" }), "Rate limit must be a whole number from 1 to 1,000,000."],
    ["a fractional rate limit", input({ rateLimit: 2.5, per: "minute" }), "Rate limit must be a whole number from 1 to 1,000,000."],
    ["a rate limit without Per", input({ allowedIps: "10.0.0.1", rateLimit: 5 }), "Choose per second, minute or hour."],
  ])("refuses %s with BAD_REQUEST naming the problem, and saves nothing (not even the good part)", async (_label, given, message) => {
    const keyId = await newKey(accountA);
    unwrap(await setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "192.0.2.1", rateLimit: 10, per: "hour" }), DASHBOARD, at(HOUR)));
    const [stateA, stateB, revisionBefore] = [await accountState(accountA), await accountState(accountB), await revision()];
    expect(await setApiKeyRestrictions(accountA, keyId, given, DASHBOARD, at(2 * HOUR))).toEqual({ ok: false, code: "BAD_REQUEST", message });
    expect(await accountState(accountA)).toEqual(stateA);
    expect(await accountState(accountB)).toEqual(stateB);
    expect(await revision()).toBe(revisionBefore);
  });

  it("an unknown key is NOT_FOUND and writes nothing", async () => {
    const count = await countRows("audit_log");
    expect(await setApiKeyRestrictions(accountA, "key_nosuchkey00000", input({ allowedIps: "10.0.0.1" }), DASHBOARD, at(HOUR))).toEqual({
      ok: false,
      code: "NOT_FOUND",
      message: "API key not found.",
    });
    expect(await countRows("audit_log")).toBe(count);
  });
});

describe("cross-account denial: account B on account A's key", () => {
  it.each<[string, RestrictionsInput]>([
    ["setting an allowlist and a limit", input({ allowedIps: "0.0.0.0/0\n::/0", rateLimit: 1_000_000, per: "second" })],
    ["clearing both", input()],
    ["saving what A's key has", input({ allowedIps: "192.0.2.1", rateLimit: 10, per: "hour" })],
  ])("%s is NOT_FOUND and leaves both accounts byte-for-byte as they were", async (_label, given) => {
    const keyId = await newKey(accountA);
    unwrap(await setApiKeyRestrictions(accountA, keyId, input({ allowedIps: "192.0.2.1", rateLimit: 10, per: "hour" }), DASHBOARD, at(HOUR)));
    const [stateA, stateB, count, revisionBefore] = [await accountState(accountA), await accountState(accountB), await countRows("audit_log"), await revision()];
    const dto = await getApiKey(accountA, keyId, at(2 * HOUR));

    expect(await setApiKeyRestrictions(accountB, keyId, given, DASHBOARD, at(2 * HOUR))).toEqual({ ok: false, code: "NOT_FOUND", message: "API key not found." });

    expect(await accountState(accountA)).toEqual(stateA);
    expect(await accountState(accountB)).toEqual(stateB);
    expect(await countRows("audit_log")).toBe(count);
    expect(await revision()).toBe(revisionBefore);
    expect(await getApiKey(accountA, keyId, at(2 * HOUR))).toEqual(dto);
    expect(await getApiKey(accountB, keyId, at(2 * HOUR))).toBeNull();
  });
});

describe("database state", () => {
  it("no DTO or audit entry of this file carried a secret", async () => {
    const audit = JSON.stringify(await rawRows("SELECT * FROM audit_log"));
    for (const secret of secrets) expect(audit).not.toContain(secret);
    for (const key of await listApiKeys(accountA)) expectNoSecrets(key);
  });
});
