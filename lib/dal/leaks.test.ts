import { countRows, rawRows, removeTestDatabase, runJustBeforeNextBatch, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import { createAccount } from "./accounts";
import { createScopedApiKey, getApiKey, importLegacyApiKeys, listApiKeys, setApiKeyEnabled } from "./api-keys";
import { listAuditLog, type AuditActor } from "./audit-log";
import { rollApiKey } from "./key-lifecycle";
import { dismissLeakBanner, reportLeaks, type LeakReport } from "./leaks";

afterAll(removeTestDatabase);

const HOUR = 3_600_000;
const T0 = Date.parse("2025-06-01T10:00:00.000Z");
const at = (offset: number) => new Date(T0 + offset);
const DASHBOARD: AuditActor = { type: "dashboard" };

// Every plaintext and hash this file sees: none may reach a DTO, the audit log or a webhook payload.
const secrets: string[] = [];

let accountA = "";
let accountB = "";

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup: account");
  return result.value.id;
}

async function newKey(accountId: string, name = "ci") {
  const created = await createScopedApiKey(accountId, { name, scopes: createEmptyScopes() }, DASHBOARD, at(0));
  if (!created.ok) throw new Error("setup: key");
  secrets.push(created.value.plaintext, hashKey(created.value.plaintext));
  return { id: created.value.key.id, plaintext: created.value.plaintext, hash: hashKey(created.value.plaintext) };
}

const report = (hash: string, url = "https://github.com/o/r/blob/main/.env", extra: Partial<LeakReport> = {}): LeakReport => ({
  hash,
  url,
  source: "commit",
  type: "keyscope_api_key",
  ...extra,
});

const keyRow = async (id: string) =>
  (await rawRows("SELECT enabled, leaked_at, leak_url, leak_source, leak_dismissed_at FROM api_keys WHERE id = ?", [id]))[0];

const leakEntries = async (keyId: string) =>
  rawRows("SELECT account_id, created_at, target_id, target_name, details, actor FROM audit_log WHERE action = 'api_key.leaked' AND target_id = ? ORDER BY id", [keyId]);

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("leak-a"), newAccount("leak-b")]);
});

describe("rolling a key reported leaked", () => {
  it.each(["1h", "7d", "first_use", "now"] as const)("with %s: the leaked secret stops at once, the report is cleared, the key stays off", async (grace) => {
    const key = await newKey(accountA, `rolled-${grace}`);
    await reportLeaks([report(key.hash)], at(HOUR));
    const rolled = await rollApiKey(accountA, key.id, grace, DASHBOARD, at(2 * HOUR));
    if (!rolled.ok) throw new Error(rolled.message);
    expect(rolled.value.key.previous).toBeNull();
    expect(rolled.value.key.leak).toBeNull();
    expect(rolled.value.key.enabled).toBe(false);
    const [row] = await rawRows("SELECT previous_key_hash, previous_valid_until, previous_until_first_use, leaked_at, leak_url FROM api_keys WHERE id = ?", [key.id]);
    expect(row).toEqual({ previous_key_hash: null, previous_valid_until: null, previous_until_first_use: 0, leaked_at: null, leak_url: null });
    const [entry] = await rawRows("SELECT details FROM audit_log WHERE action = 'api_key.rolled' AND target_id = ?", [key.id]);
    expect(JSON.parse(String(entry!.details))).toMatchObject({ grace, previousValidUntil: null, untilFirstUse: false, leaked: true });
  });

  it("a key never reported keeps the grace period chosen", async () => {
    const key = await newKey(accountA, "not-leaked");
    const rolled = await rollApiKey(accountA, key.id, "1h", DASHBOARD, at(0));
    if (!rolled.ok) throw new Error(rolled.message);
    expect(rolled.value.key.previous).toMatchObject({ validUntil: at(HOUR) });
    const [entry] = await rawRows("SELECT details FROM audit_log WHERE action = 'api_key.rolled' AND target_id = ?", [key.id]);
    expect(JSON.parse(String(entry!.details))).toMatchObject({ previousValidUntil: T0 + HOUR, leaked: false });
  });
});

describe("reportLeaks", () => {
  it("disables the key, records where it leaked, and writes one entry naming the url and source", async () => {
    const key = await newKey(accountA, "ci");
    const matched = await reportLeaks([report(key.hash)], at(HOUR));
    expect([...matched]).toEqual([key.hash]);
    expect(await keyRow(key.id)).toEqual({ enabled: 0, leaked_at: T0 + HOUR, leak_url: "https://github.com/o/r/blob/main/.env", leak_source: "commit", leak_dismissed_at: null });
    const entries = await leakEntries(key.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ account_id: accountA, created_at: T0 + HOUR, target_name: "ci", actor: '{"type":"scanner"}' });
    expect(JSON.parse(String(entries[0]!.details))).toEqual({
      kind: "scoped",
      secret: "current",
      url: "https://github.com/o/r/blob/main/.env",
      source: "commit",
      type: "keyscope_api_key",
      previouslyEnabled: true,
    });
    // The log reads it back (its schema, its actor), and the DTO carries the leak.
    const log = await listAuditLog(accountA, { page: 1 });
    expect(log.entries.find((entry) => entry.target.id === key.id && entry.action === "api_key.leaked")).toMatchObject({
      action: "api_key.leaked",
      actor: { type: "scanner" },
      details: { url: "https://github.com/o/r/blob/main/.env", previouslyEnabled: true },
    });
    expect((await getApiKey(accountA, key.id))?.leak).toEqual({ at: at(HOUR), url: "https://github.com/o/r/blob/main/.env", source: "commit", dismissed: false });
    expect((await getApiKey(accountA, key.id))?.enabled).toBe(false);
  });

  it("a key already disabled is still marked leaked and audited, saying it was disabled before", async () => {
    const key = await newKey(accountA, "off");
    expect((await setApiKeyEnabled(accountA, key.id, false, DASHBOARD, at(0))).ok).toBe(true);
    expect([...(await reportLeaks([report(key.hash)], at(HOUR)))]).toEqual([key.hash]);
    expect(await keyRow(key.id)).toMatchObject({ enabled: 0, leaked_at: T0 + HOUR });
    const [entry] = await leakEntries(key.id);
    expect(JSON.parse(String(entry!.details))).toMatchObject({ previouslyEnabled: false });
  });

  it("any account's key: the scanner is not an account, and a leak is a leak", async () => {
    const a = await newKey(accountA, "mine");
    const b = await newKey(accountB, "theirs");
    const matched = await reportLeaks([report(a.hash), report(b.hash)], at(HOUR));
    expect(matched).toEqual(new Set([a.hash, b.hash]));
    expect(await keyRow(b.id)).toMatchObject({ enabled: 0 });
    // Each entry is in its own account's log, and only there.
    expect((await leakEntries(b.id))[0]).toMatchObject({ account_id: accountB });
    expect((await listAuditLog(accountA, { page: 1 })).entries.some((entry) => entry.target.id === b.id)).toBe(false);
    expect((await listAuditLog(accountB, { page: 1 })).entries.some((entry) => entry.target.id === b.id && entry.action === "api_key.leaked")).toBe(true);
  });

  it("a key named twice, or by both its secrets, is changed and audited once, for its first report", async () => {
    const key = await newKey(accountA, "twice");
    const rolled = await rollApiKey(accountA, key.id, "24h", DASHBOARD, at(1));
    if (!rolled.ok) throw new Error("setup: roll");
    const current = hashKey(rolled.value.plaintext);
    secrets.push(rolled.value.plaintext, current);
    const matched = await reportLeaks([report(key.hash, "https://first"), report(key.hash, "https://second"), report(current, "https://third")], at(HOUR));
    expect(matched).toEqual(new Set([key.hash, current]));
    expect(await keyRow(key.id)).toMatchObject({ enabled: 0, leak_url: "https://first" });
    const entries = await leakEntries(key.id);
    expect(entries).toHaveLength(1);
    expect(JSON.parse(String(entries[0]!.details))).toMatchObject({ secret: "previous", url: "https://first" });
  });

  it("a previous secret counts while it still verifies, not after its grace period", async () => {
    const key = await newKey(accountA, "rolled");
    const rolled = await rollApiKey(accountA, key.id, "1h", DASHBOARD, at(0));
    if (!rolled.ok) throw new Error("setup: roll");
    secrets.push(rolled.value.plaintext, hashKey(rolled.value.plaintext));
    // Past the grace period: the old secret is no key any more (even before the sweep clears it).
    expect(await reportLeaks([report(key.hash)], at(HOUR))).toEqual(new Set());
    expect(await keyRow(key.id)).toMatchObject({ enabled: 1, leaked_at: null });
    expect(await leakEntries(key.id)).toEqual([]);
    // Within it: the key is disabled, both secrets with it.
    expect(await reportLeaks([report(key.hash)], at(HOUR - 1))).toEqual(new Set([key.hash]));
    expect(await keyRow(key.id)).toMatchObject({ enabled: 0, leaked_at: T0 + HOUR - 1 });
  });

  it("legacy keys alike", async () => {
    const plaintext = "LEAKEDLEGACYKEY0123456789ABCDEFG";
    secrets.push(plaintext, hashKey(plaintext));
    const imported = await importLegacyApiKeys(
      accountA,
      [{ line: 1, name: "old", permission: "read", keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }],
      DASHBOARD,
      at(0),
    );
    if (!imported.ok) throw new Error("setup: legacy");
    const id = imported.value.ids[0]!;
    expect(await reportLeaks([report(hashKey(plaintext))], at(HOUR))).toEqual(new Set([hashKey(plaintext)]));
    expect(await keyRow(id)).toMatchObject({ enabled: 0 });
    expect(JSON.parse(String((await leakEntries(id))[0]!.details))).toMatchObject({ kind: "legacy", secret: "current" });
  });

  it("unknown hashes change nothing and match nothing", async () => {
    const before = await countRows("audit_log");
    expect(await reportLeaks([report(hashKey("rpa_not_a_key")), report("0".repeat(64))], at(HOUR))).toEqual(new Set());
    expect(await reportLeaks([], at(HOUR))).toEqual(new Set());
    expect(await countRows("audit_log")).toBe(before);
  });

  it("a key deleted between the read and the write is left alone: no entry, no match", async () => {
    const key = await newKey(accountA, "gone");
    const restore = runJustBeforeNextBatch("DELETE FROM api_keys WHERE id = ?", [key.id]);
    try {
      expect(await reportLeaks([report(key.hash)], at(HOUR))).toEqual(new Set());
    } finally {
      await restore();
    }
    expect(await leakEntries(key.id)).toEqual([]);
  });

  it("a new report shows the banner again after a dismissal, with the new url", async () => {
    const key = await newKey(accountA, "again");
    await reportLeaks([report(key.hash, "https://one")], at(HOUR));
    expect((await dismissLeakBanner(accountA, key.id, at(2 * HOUR))).ok).toBe(true);
    expect((await getApiKey(accountA, key.id))?.leak).toMatchObject({ url: "https://one", dismissed: true });
    await reportLeaks([report(key.hash, "https://two")], at(3 * HOUR));
    expect((await getApiKey(accountA, key.id))?.leak).toEqual({ at: at(3 * HOUR), url: "https://two", source: "commit", dismissed: false });
    expect(await leakEntries(key.id)).toHaveLength(2);
  });

  it("becomes a key.leaked webhook delivery (the outbox trigger), naming the url and never the token", async () => {
    const account = await newAccount("leak-hook");
    await rawRows("INSERT INTO webhooks (id, account_id, url, secret, created_at) VALUES ('whk_leaks', ?, 'https://hooks.example/k', 'whsec', 0)", [account]);
    const key = await newKey(account, "hooked");
    await reportLeaks([report(key.hash)], at(HOUR));
    const deliveries = await rawRows("SELECT event, payload FROM webhook_deliveries WHERE account_id = ? AND event = 'key.leaked'", [account]);
    expect(deliveries).toHaveLength(1);
    expect(JSON.parse(String(deliveries[0]!.payload))).toMatchObject({
      type: "key.leaked",
      key: { id: key.id, name: "hooked" },
      details: { url: "https://github.com/o/r/blob/main/.env", source: "commit", previouslyEnabled: true },
      actor: { type: "scanner" },
    });
  });

  it("stores what it is given for url, source and type (the route cleans them), never a secret", async () => {
    const rows = JSON.stringify([
      ...(await rawRows("SELECT details, actor FROM audit_log")),
      ...(await rawRows("SELECT payload FROM webhook_deliveries")),
      ...(await listApiKeys(accountA)),
    ]);
    for (const secret of secrets) expect(rows).not.toContain(secret);
  });
});

describe("dismissLeakBanner", () => {
  it("hides the banner once, keeping the first dismissal's time; the key stays leaked and disabled", async () => {
    const key = await newKey(accountA, "dismiss");
    await reportLeaks([report(key.hash)], at(HOUR));
    expect(await dismissLeakBanner(accountA, key.id, at(2 * HOUR))).toEqual({ ok: true, value: { id: key.id } });
    expect(await dismissLeakBanner(accountA, key.id, at(3 * HOUR))).toEqual({ ok: true, value: { id: key.id } });
    expect(await keyRow(key.id)).toMatchObject({ enabled: 0, leaked_at: T0 + HOUR, leak_dismissed_at: T0 + 2 * HOUR });
  });

  it("a key never reported: succeeds and changes nothing", async () => {
    const key = await newKey(accountA, "clean");
    expect((await dismissLeakBanner(accountA, key.id, at(HOUR))).ok).toBe(true);
    expect(await keyRow(key.id)).toMatchObject({ leaked_at: null, leak_dismissed_at: null });
    expect((await getApiKey(accountA, key.id))?.leak).toBeNull();
  });

  it("another account's key, or an unknown one, is NOT_FOUND and changes nothing", async () => {
    const key = await newKey(accountB, "not yours");
    await reportLeaks([report(key.hash)], at(HOUR));
    const before = await keyRow(key.id);
    expect(await dismissLeakBanner(accountA, key.id, at(2 * HOUR))).toEqual({ ok: false, code: "NOT_FOUND", message: "API key not found." });
    expect(await dismissLeakBanner(accountA, "key_missing", at(2 * HOUR))).toEqual({ ok: false, code: "NOT_FOUND", message: "API key not found." });
    expect(await keyRow(key.id)).toEqual(before);
  });
});
