import { countRows, rawRows, readDatabaseFiles, removeTestDatabase, uniqueEmail, type RawRow, runJustBeforeNextBatch } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/handle";
import { formatDisplayHint, parsePresentedKey } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { createEmptyScopes, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { createAccount } from "./accounts";
import {
  createScopedApiKey,
  deleteApiKey,
  getApiKey,
  importLegacyApiKeys,
  listApiKeys,
  setApiKeyEnabled,
  updateApiKeyScopes,
  type ApiKeyDto,
  type LegacyKeyImport,
} from "./api-keys";
import type { AuditActor } from "./audit-log";
import { createEndpoint } from "./endpoints";
import { elevateApiKey, rollApiKey } from "./key-lifecycle";

afterAll(removeTestDatabase);

const DTO_FIELDS = ["createdAt", "createdBy", "elevations", "enabled", "expiresAt", "hint", "id", "kind", "lastUsedAt", "leak", "name", "previous", "restrictions", "scopes"];

// Every plaintext this file sees, checked against the raw database files at the end.
const plaintexts: string[] = [];

let accountA = "";
let accountB = "";
// The user who owns team A (SPEC §11), and their email.
let userA = "";
let emailA = "";
let endpointA1 = "";
let endpointA2 = "";
let endpointB1 = "";

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  if (label === "a") [userA, emailA] = [result.value.userId, result.value.email];
  return result.value.id;
}

async function newEndpoint(accountId: string, name: string): Promise<string> {
  const result = await createEndpoint(accountId, name, { type: "dashboard" });
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
  endpointA1 = await newEndpoint(accountA, "a-one");
  endpointA2 = await newEndpoint(accountA, "a-two");
  endpointB1 = await newEndpoint(accountB, "b-one");
});

async function newKey(accountId: string, scopes: unknown = createEmptyScopes(), name = "test key", now?: Date, actor: AuditActor = { type: "dashboard" }) {
  const result = await createScopedApiKey(accountId, { name, scopes }, actor, now);
  if (!result.ok) throw new Error(`createScopedApiKey failed: ${result.code} ${result.message}`);
  plaintexts.push(result.value.plaintext);
  return result.value;
}

/** A random legacy key: 32 characters of [A-Z0-9]. */
function legacyPlaintext(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
}

let legacyLine = 0;

function legacyEntry(name: string, permission: LegacyKeyImport["permission"], plaintext = legacyPlaintext()): LegacyKeyImport {
  plaintexts.push(plaintext);
  legacyLine += 1;
  return { line: legacyLine, name, permission, keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") };
}

async function importOne(accountId: string, permission: LegacyKeyImport["permission"] = "read"): Promise<string> {
  const result = await importLegacyApiKeys(accountId, [legacyEntry("legacy", permission)], { type: "dashboard" });
  if (!result.ok || !result.value.ids[0]) throw new Error("setup failed");
  return result.value.ids[0];
}

async function keyRow(keyId: string): Promise<RawRow | undefined> {
  const [row] = await rawRows("SELECT * FROM api_keys WHERE id = ?", [keyId]);
  return row;
}

async function overrideRows(keyId: string): Promise<RawRow[]> {
  return rawRows("SELECT * FROM api_key_endpoint_scopes WHERE key_id = ? ORDER BY endpoint_id", [keyId]);
}

/** Everything stored about a key, to compare before and after an operation. */
async function snapshot(keyId: string) {
  return { key: await keyRow(keyId), overrides: await overrideRows(keyId) };
}

async function tableCounts() {
  return { keys: await countRows("api_keys"), overrides: await countRows("api_key_endpoint_scopes") };
}

function expectNoSecretFields(dto: ApiKeyDto) {
  expect(Object.keys(dto).sort()).toEqual(DTO_FIELDS);
  expect(dto).not.toHaveProperty("keyHash");
  expect(dto).not.toHaveProperty("key_hash");
  expect(dto).not.toHaveProperty("plaintext");
  // The secret before a roll shows as its hint and end only, never its hash.
  if (dto.previous !== null) expect(Object.keys(dto.previous).sort()).toEqual(["hint", "untilFirstUse", "validUntil"]);
  for (const elevation of dto.elevations) {
    expect(Object.keys(elevation).sort()).toEqual(["createdAt", "endsAt", "id", "level", "reason", "target", "targetName"]);
  }
  const serialized = JSON.stringify(dto);
  for (const plaintext of plaintexts) {
    expect(serialized).not.toContain(plaintext);
    expect(serialized).not.toContain(hashKey(plaintext));
  }
}

describe("createScopedApiKey", () => {
  it("returns a well-formed plaintext once, and stores only its sha256 and hint", async () => {
    const now = new Date("2024-04-01T12:00:00.250Z");
    // Made by team A's owner on the dashboard: its `Created by` (SPEC §11).
    const { key, plaintext } = await newKey(accountA, createEmptyScopes(), "deploy bot", now, { type: "dashboard", userId: userA });

    expect(parsePresentedKey(plaintext)).toEqual({ ok: true, kind: "scoped", key: plaintext });
    expect(key).toEqual({
      id: expect.stringMatching(/^key_[0-9a-z]{16}$/),
      name: "deploy bot",
      kind: "scoped",
      hint: formatDisplayHint(plaintext, "scoped"),
      enabled: true,
      createdAt: now,
      lastUsedAt: null,
      scopes: createEmptyScopes(),
      expiresAt: null,
      previous: null,
      elevations: [],
      leak: null,
      restrictions: { allowedIps: null, rateLimit: null },
      createdBy: { userId: userA, email: emailA },
    });
    expectNoSecretFields(key);
    expect(await getApiKey(accountA, key.id)).toEqual(key);

    expect(await keyRow(key.id)).toEqual({
      id: key.id,
      account_id: accountA,
      name: "deploy bot",
      kind: "scoped",
      key_hash: hashKey(plaintext),
      hint: `rpa_${plaintext.slice(4, 8)}\u2026${plaintext.slice(-4)}`,
      enabled: 1,
      graphql_level: "none",
      endpoints_all_level: "none",
      created_at: now.getTime(),
      last_used_at: null,
      expires_at: null,
      previous_key_hash: null,
      previous_hint: null,
      previous_valid_until: null,
      previous_until_first_use: 0,
      // SPEC §9: no restrictions, no leak report, no expiry event sent yet.
      allowed_ips: null,
      rate_limit: null,
      rate_limit_per: null,
      leaked_at: null,
      leak_url: null,
      leak_source: null,
      leak_dismissed_at: null,
      expiring_notified: 0,
      expired_notified: 0,
      created_by: userA,
    });
  });

  it("stores no part of the plaintext beyond the hint in any column", async () => {
    const { key, plaintext } = await newKey(accountA, {
      graphql: "read",
      endpointsAll: "none",
      endpoints: { [endpointA1]: "read_write" },
    });
    const rows = [await keyRow(key.id), ...(await overrideRows(key.id))];
    const randomPart = plaintext.slice(4, 34);
    // Any 9-character window of the key would already be more than the hint shows.
    const windows = Array.from({ length: plaintext.length - 8 }, (_, i) => plaintext.slice(i, i + 9));
    for (const row of rows) {
      for (const [column, value] of Object.entries(row ?? {})) {
        const text = String(value);
        expect(text, column).not.toContain(plaintext);
        expect(text, column).not.toContain(randomPart);
        for (const window of windows) expect(text, column).not.toContain(window);
      }
    }
  });

  it("gives every key its own secret, hash and id", async () => {
    const created = await Promise.all(Array.from({ length: 5 }, () => newKey(accountA)));
    expect(new Set(created.map((c) => c.plaintext)).size).toBe(5);
    expect(new Set(created.map((c) => hashKey(c.plaintext))).size).toBe(5);
    expect(new Set(created.map((c) => c.key.id)).size).toBe(5);
  });

  it("a new key with createEmptyScopes has no access anywhere and no override rows", async () => {
    const { key } = await newKey(accountA, createEmptyScopes());
    const stored = await getApiKey(accountA, key.id);
    expect(stored?.scopes).toEqual({ graphql: "none", endpointsAll: "none", endpoints: {} });
    expect(await overrideRows(key.id)).toEqual([]);
  });

  it.each<[string, () => KeyScopes]>([
    ["everything none", () => createEmptyScopes()],
    ["graphql only", () => ({ graphql: "read_write", endpointsAll: "none", endpoints: {} })],
    ["all endpoints read", () => ({ graphql: "none", endpointsAll: "read", endpoints: {} })],
    ["override up", () => ({ graphql: "none", endpointsAll: "none", endpoints: { [endpointA1]: "read_write" } })],
    ["override down to none", () => ({ graphql: "read", endpointsAll: "read_write", endpoints: { [endpointA1]: "none" } })],
    ["override equal to all (pinned)", () => ({ graphql: "read", endpointsAll: "read", endpoints: { [endpointA2]: "read" } })],
    [
      "two overrides",
      () => ({ graphql: "read", endpointsAll: "read", endpoints: { [endpointA1]: "none", [endpointA2]: "read_write" } }),
    ],
  ])("scopes round-trip: %s", async (_label, scopesOf) => {
    const scopes = scopesOf();
    const { key } = await newKey(accountA, scopes);
    expect(key.scopes).toEqual(scopes);
    expect((await getApiKey(accountA, key.id))?.scopes).toEqual(scopes);
    expect((await listApiKeys(accountA)).find((k) => k.id === key.id)?.scopes).toEqual(scopes);

    const row = await keyRow(key.id);
    expect([row?.graphql_level, row?.endpoints_all_level]).toEqual([scopes.graphql, scopes.endpointsAll]);
    const overrides = await overrideRows(key.id);
    expect(overrides).toEqual(
      Object.entries(scopes.endpoints)
        .map(([endpointId, level]) => ({ account_id: accountA, key_id: key.id, endpoint_id: endpointId, level }))
        .sort((x, y) => x.endpoint_id.localeCompare(y.endpoint_id)),
    );
  });

  it.each<[string, () => unknown]>([
    ["an override naming another account's endpoint", () => ({ graphql: "none", endpointsAll: "none", endpoints: { [endpointB1]: "read" } })],
    [
      "one own and one foreign endpoint",
      () => ({ graphql: "read", endpointsAll: "read", endpoints: { [endpointA1]: "read", [endpointB1]: "read_write" } }),
    ],
    ["an unknown endpoint id", () => ({ graphql: "none", endpointsAll: "none", endpoints: { nosuchendpoint00: "read" } })],
    ["an invalid level", () => ({ graphql: "admin", endpointsAll: "none", endpoints: {} })],
    ["an invalid override level", () => ({ graphql: "none", endpointsAll: "none", endpoints: { [endpointA1]: "write" } })],
    ["an unexpected field", () => ({ ...createEmptyScopes(), pods: "read_write" })],
    ["missing endpoints", () => ({ graphql: "none", endpointsAll: "none" })],
    ["not an object", () => "read_write"],
    ["null", () => null],
  ])("refuses %s with BAD_REQUEST and writes nothing", async (_label, scopesOf) => {
    const before = await tableCounts();
    const result = await createScopedApiKey(accountA, { name: "bad", scopes: scopesOf() }, { type: "dashboard" });
    expect(result).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.any(String) });
    expect(await tableCounts()).toEqual(before);
  });

  it("an endpoint deleted between validation and the write refuses the key whole (BAD_REQUEST)", async () => {
    const endpoint = await newEndpoint(accountA, "racing");
    const before = await tableCounts();
    // Another request deletes the endpoint at the worst moment: after the scopes were checked,
    // just before the key and its overrides are written.
    const restore = runJustBeforeNextBatch("DELETE FROM endpoints WHERE id = ?", [endpoint]);
    try {
      const created = await createScopedApiKey(accountA, {
        name: "racer",
        scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointA1]: "read", [endpoint]: "read" } },
      }, { type: "dashboard" });
      expect(created).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.any(String) });
    } finally {
      await restore();
    }
    // Neither the key row nor the valid override was written.
    expect(await tableCounts()).toEqual({ keys: before.keys, overrides: before.overrides });
    expect(await countRows("endpoints", "id = ?", [endpoint])).toBe(0);
  });
});

describe("createScopedApiKey with an expiry", () => {
  const now = new Date("2025-02-01T08:00:00.000Z");

  it.each<[string, number]>([
    ["a millisecond ago", -1],
    ["now exactly", 0],
    ["a day ago", -86_400_000],
  ])("refuses an expiry %s with BAD_REQUEST and writes nothing", async (_label, offset) => {
    const before = { ...(await tableCounts()), audit: await countRows("audit_log") };
    const result = await createScopedApiKey(accountA, { name: "expired at birth", scopes: createEmptyScopes(), expiresAt: new Date(now.getTime() + offset) }, { type: "dashboard" }, now);
    expect(result).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.any(String) });
    expect({ ...(await tableCounts()), audit: await countRows("audit_log") }).toEqual(before);
  });

  it.each<[string, Date | null | undefined, number | null]>([
    ["a future expiry", new Date("2025-05-02T08:00:00.000Z"), Date.parse("2025-05-02T08:00:00.000Z")],
    ["a millisecond ahead", new Date(now.getTime() + 1), now.getTime() + 1],
    ["no expiry (null)", null, null],
    ["no expiry (omitted)", undefined, null],
  ])("stores %s, shows it in the DTO and records it in the entry", async (_label, expiresAt, stored) => {
    const result = await createScopedApiKey(accountA, { name: "expiring", scopes: createEmptyScopes(), ...(expiresAt === undefined ? {} : { expiresAt }) }, { type: "dashboard" }, now);
    if (!result.ok) throw new Error(result.message);
    plaintexts.push(result.value.plaintext);
    const { key } = result.value;
    expect(key.expiresAt).toEqual(stored === null ? null : new Date(stored));
    expect((await keyRow(key.id))?.expires_at).toBe(stored);
    expect(await getApiKey(accountA, key.id, now)).toEqual(key);
    const entries = await rawRows("SELECT action, created_at, details FROM audit_log WHERE target_id = ?", [key.id]);
    expect(entries.map((entry) => ({ ...entry, details: JSON.parse(String(entry.details)) }))).toEqual([
      { action: "api_key.created", created_at: now.getTime(), details: expect.objectContaining({ kind: "scoped", expiresAt: stored }) },
    ]);
  });
});

describe("Created by (SPEC §11)", () => {
  const member: () => AuditActor = () => ({ type: "dashboard", userId: userA });

  it.each<[string, () => AuditActor, () => string | null]>([
    ["a member on the dashboard is the creator", member, () => userA],
    ["a dashboard actor naming no user (scripts) leaves none", () => ({ type: "dashboard" }), () => null],
    ["an API key leaves none", () => ({ type: "api_key", keyId: "key_x" }), () => null],
    ["a CLI command leaves none", () => ({ type: "cli", command: "seed" }), () => null],
  ])("%s", async (_label, actor, expected) => {
    const { key } = await newKey(accountA, createEmptyScopes(), "made", undefined, actor());
    expect((await keyRow(key.id))?.created_by).toBe(expected());
    expect((await getApiKey(accountA, key.id))?.createdBy).toEqual(expected() === null ? null : { userId: userA, email: emailA });
  });

  it("a roll keeps the key's creator; a legacy key rolled into a scoped one gets the member who rolled it", async () => {
    const { key } = await newKey(accountA, createEmptyScopes(), "kept", undefined, { type: "dashboard" });
    await rawRows("UPDATE api_keys SET created_by = ? WHERE id = ?", [userA, key.id]);
    const other = await createAccount(uniqueEmail("roller"), "password-roller-123");
    if (!other.ok) throw new Error("setup failed");
    const roller: AuditActor = { type: "dashboard", userId: other.value.userId };
    expect((await rollApiKey(accountA, key.id, "now", roller)).ok).toBe(true);
    expect((await keyRow(key.id))?.created_by).toBe(userA);

    const legacyId = await importOne(accountA);
    expect((await keyRow(legacyId))?.created_by).toBeNull();
    const rolled = await rollApiKey(accountA, legacyId, "now", roller);
    if (!rolled.ok) throw new Error(rolled.message);
    expect((await keyRow(legacyId))?.created_by).toBe(other.value.userId);
    expect(rolled.value.key.createdBy).toEqual({ userId: other.value.userId, email: other.value.email });
  });

  it("a key outlives its creator's user: `Created by` becomes none", async () => {
    const gone = await createAccount(uniqueEmail("gone-creator"), "password-gone-123");
    if (!gone.ok) throw new Error("setup failed");
    const { key } = await newKey(accountA, createEmptyScopes(), "orphan", undefined, { type: "dashboard", userId: gone.value.userId });
    expect((await getApiKey(accountA, key.id))?.createdBy).toEqual({ userId: gone.value.userId, email: gone.value.email });
    await rawRows("DELETE FROM users WHERE id = ?", [gone.value.userId]);
    expect((await keyRow(key.id))?.created_by).toBeNull();
    expect((await getApiKey(accountA, key.id))?.createdBy).toBeNull();
  });
});

describe("the DTO of a rolled and elevated key", () => {
  it("shows the previous secret's hint and end and the elevations in force, never a hash or plaintext", async () => {
    const created = new Date("2025-03-01T00:00:00.000Z");
    const { key, plaintext: oldPlaintext } = await newKey(accountA, { graphql: "none", endpointsAll: "read", endpoints: { [endpointA1]: "none" } }, "rolled", created);
    const rolledAt = new Date(created.getTime() + 3_600_000);
    const rolled = await rollApiKey(accountA, key.id, "24h", { type: "dashboard" }, rolledAt);
    if (!rolled.ok) throw new Error(rolled.message);
    plaintexts.push(rolled.value.plaintext);
    const elevated = await elevateApiKey(accountA, key.id, { target: { resource: "endpoint", endpointId: endpointA1 }, level: "read", duration: "1h", reason: "debugging" }, { type: "dashboard" }, rolledAt);
    if (!elevated.ok) throw new Error(elevated.message);

    const row = await keyRow(key.id);
    expect(row?.previous_key_hash).toBe(hashKey(oldPlaintext));
    const validUntil = new Date(rolledAt.getTime() + 86_400_000);
    const dto = await getApiKey(accountA, key.id, rolledAt);
    expect(dto).toEqual({
      ...key,
      hint: formatDisplayHint(rolled.value.plaintext, "scoped"),
      previous: { hint: key.hint, validUntil, untilFirstUse: false },
      elevations: [
        {
          id: expect.stringMatching(/^elv_/),
          target: `endpoint:${endpointA1}`,
          targetName: "a-one",
          level: "read",
          reason: "debugging",
          createdAt: rolledAt,
          endsAt: new Date(rolledAt.getTime() + 3_600_000),
        },
      ],
    });
    // The roll came before the elevation.
    expect(rolled.value.key).toEqual({ ...dto, elevations: [] });
    expect(elevated.value).toEqual(dto);
    const listed = (await listApiKeys(accountA, rolledAt)).find((k) => k.id === key.id);
    expect(listed).toEqual(dto);
    for (const shown of [dto, listed, rolled.value.key, elevated.value]) {
      if (!shown) throw new Error("missing");
      expectNoSecretFields(shown);
      const serialized = JSON.stringify(shown);
      for (const value of [row?.key_hash, row?.previous_key_hash, oldPlaintext, rolled.value.plaintext]) expect(serialized).not.toContain(String(value));
    }

    // Once both are over the DTO drops them, whether or not anything has cleared them yet.
    const later = await getApiKey(accountA, key.id, validUntil);
    expect(later).toMatchObject({ previous: null, elevations: [] });
    expect((await keyRow(key.id))?.previous_key_hash).toBe(hashKey(oldPlaintext));
  });
});

describe("listApiKeys", () => {
  it("lists the account's own keys, newest first, as DTOs without hash or plaintext", async () => {
    const account = await newAccount("list");
    const endpoint = await newEndpoint(account, "listed");
    const old = await newKey(account, createEmptyScopes(), "old", new Date("2024-01-01T00:00:00Z"));
    const recent = await newKey(account, { graphql: "read", endpointsAll: "none", endpoints: { [endpoint]: "read" } }, "recent", new Date("2024-03-01T00:00:00Z"));
    const legacyId = await importOne(account, "read_write");

    const listed = await listApiKeys(account);
    expect(listed.map((k) => k.id)).toEqual([legacyId, recent.key.id, old.key.id]);
    expect(listed[1]).toEqual(recent.key);
    expect(listed[2]).toEqual(old.key);
    for (const dto of listed) expectNoSecretFields(dto);

    const serialized = JSON.stringify(listed);
    const hashes = (await rawRows("SELECT key_hash FROM api_keys WHERE account_id = ?", [account])).map((r) => String(r.key_hash));
    for (const hash of hashes) expect(serialized).not.toContain(hash);
    for (const plaintext of [old.plaintext, recent.plaintext]) expect(serialized).not.toContain(plaintext);
  });

  it("returns an empty list for an account without keys, or an unknown account", async () => {
    expect(await listApiKeys(await newAccount("nokeys"))).toEqual([]);
    expect(await listApiKeys("nosuchaccount000")).toEqual([]);
  });
});

describe("getApiKey", () => {
  it("returns the DTO of an own key, and null for an unknown one", async () => {
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "read", endpoints: { [endpointA2]: "none" } });
    const found = await getApiKey(accountA, key.id);
    expect(found).toEqual(key);
    if (found) expectNoSecretFields(found);
    expect(await getApiKey(accountA, "key_nosuchkey00000")).toBeNull();
  });
});

describe("setApiKeyEnabled", () => {
  it.each([["scoped"], ["legacy"]] as const)("switches a %s key off and on again with the same hash and scopes", async (kind) => {
    const keyId =
      kind === "scoped"
        ? (await newKey(accountA, { graphql: "read", endpointsAll: "none", endpoints: { [endpointA1]: "read_write" } })).key.id
        : await importOne(accountA, "read");
    const before = await snapshot(keyId);
    expect(before.key?.enabled).toBe(1);

    expect(await setApiKeyEnabled(accountA, keyId, false, { type: "dashboard" })).toEqual({ ok: true, value: { id: keyId, enabled: false } });
    const disabled = await snapshot(keyId);
    expect(disabled).toEqual({ key: { ...before.key, enabled: 0 }, overrides: before.overrides });
    expect((await getApiKey(accountA, keyId))?.enabled).toBe(false);

    // Idempotent.
    expect(await setApiKeyEnabled(accountA, keyId, false, { type: "dashboard" })).toEqual({ ok: true, value: { id: keyId, enabled: false } });

    expect(await setApiKeyEnabled(accountA, keyId, true, { type: "dashboard" })).toEqual({ ok: true, value: { id: keyId, enabled: true } });
    expect(await snapshot(keyId)).toEqual(before);
  });

  it("returns NOT_FOUND for an unknown key", async () => {
    expect(await setApiKeyEnabled(accountA, "key_nosuchkey00000", false, { type: "dashboard" })).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
  });
});

describe("updateApiKeyScopes", () => {
  it("replaces the scopes as a whole: old overrides go, new ones come", async () => {
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "read", endpoints: { [endpointA1]: "none" } });
    const before = await keyRow(key.id);
    const next: KeyScopes = { graphql: "read_write", endpointsAll: "none", endpoints: { [endpointA2]: "read" } };

    const result = await updateApiKeyScopes(accountA, key.id, next, { type: "dashboard" });
    expect(result).toEqual({ ok: true, value: { ...key, scopes: next } });
    expect(await overrideRows(key.id)).toEqual([{ account_id: accountA, key_id: key.id, endpoint_id: endpointA2, level: "read" }]);
    // Only the levels changed: the secret, hint, state and dates did not.
    expect(await keyRow(key.id)).toEqual({ ...before, graphql_level: "read_write", endpoints_all_level: "none" });
  });

  it("can clear every override", async () => {
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "read", endpoints: { [endpointA1]: "none", [endpointA2]: "read_write" } });
    const result = await updateApiKeyScopes(accountA, key.id, createEmptyScopes(), { type: "dashboard" });
    expect(result.ok && result.value.scopes).toEqual(createEmptyScopes());
    expect(await overrideRows(key.id)).toEqual([]);
  });

  it.each<[string, () => unknown]>([
    ["another account's endpoint", () => ({ graphql: "none", endpointsAll: "none", endpoints: { [endpointB1]: "read" } })],
    ["an unknown endpoint id", () => ({ graphql: "none", endpointsAll: "none", endpoints: { nosuchendpoint00: "read" } })],
    ["an invalid level", () => ({ graphql: "everything", endpointsAll: "none", endpoints: {} })],
    ["not an object", () => []],
  ])("refuses %s with BAD_REQUEST and leaves the key unchanged", async (_label, scopesOf) => {
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "none", endpoints: { [endpointA1]: "read" } });
    const before = await snapshot(key.id);
    expect(await updateApiKeyScopes(accountA, key.id, scopesOf(), { type: "dashboard" })).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.any(String) });
    expect(await snapshot(key.id)).toEqual(before);
  });

  it("refuses to edit a legacy key's scopes", async () => {
    const keyId = await importOne(accountA, "read");
    const before = await snapshot(keyId);
    const result = await updateApiKeyScopes(accountA, keyId, { graphql: "read_write", endpointsAll: "read_write", endpoints: {} }, { type: "dashboard" });
    expect(result).toEqual({ ok: false, code: "BAD_REQUEST", message: expect.any(String) });
    expect(await snapshot(keyId)).toEqual(before);
  });

  it.each([
    ["an endpoint in the new scopes", "endpoint"],
    ["the key itself", "key"],
  ] as const)("rolls back whole when %s is deleted between validation and the write", async (_label, deleted) => {
    const endpoint = await newEndpoint(accountA, "racing-update");
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "read", endpoints: { [endpointA1]: "none" } });
    const before = await snapshot(key.id);
    const restore =
      deleted === "endpoint"
        ? runJustBeforeNextBatch("DELETE FROM endpoints WHERE id = ?", [endpoint])
        : runJustBeforeNextBatch("DELETE FROM api_keys WHERE id = ?", [key.id]);
    try {
      const result = await updateApiKeyScopes(accountA, key.id, {
        graphql: "read_write",
        endpointsAll: "none",
        endpoints: { [endpointA2]: "read", [endpoint]: "read_write" },
      }, { type: "dashboard" });
      expect(result).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
    } finally {
      await restore();
    }
    // The key keeps its old levels and overrides, or is simply gone: never half-updated.
    expect(await snapshot(key.id)).toEqual(deleted === "endpoint" ? before : { key: undefined, overrides: [] });
  });

  it("returns NOT_FOUND for an unknown key", async () => {
    expect(await updateApiKeyScopes(accountA, "key_nosuchkey00000", createEmptyScopes(), { type: "dashboard" })).toEqual({
      ok: false,
      code: "NOT_FOUND",
      message: expect.any(String),
    });
  });
});

describe("deleteApiKey", () => {
  it("removes the key and its override rows, and nothing else", async () => {
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "none", endpoints: { [endpointA1]: "read", [endpointA2]: "none" } });
    const bystander = await newKey(accountA, { graphql: "read", endpointsAll: "none", endpoints: { [endpointA1]: "read" } });
    const bystanderBefore = await snapshot(bystander.key.id);
    expect(await overrideRows(key.id)).toHaveLength(2);

    expect(await deleteApiKey(accountA, key.id, { type: "dashboard" })).toEqual({ ok: true, value: { id: key.id } });

    expect(await keyRow(key.id)).toBeUndefined();
    expect(await overrideRows(key.id)).toEqual([]);
    expect(await getApiKey(accountA, key.id)).toBeNull();
    expect(await snapshot(bystander.key.id)).toEqual(bystanderBefore);
    expect(await deleteApiKey(accountA, key.id, { type: "dashboard" })).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
  });

  it("deletes a legacy key too", async () => {
    const keyId = await importOne(accountA, "read_write");
    expect(await deleteApiKey(accountA, keyId, { type: "dashboard" })).toEqual({ ok: true, value: { id: keyId } });
    expect(await keyRow(keyId)).toBeUndefined();
  });
});

describe("cross-account denial: account B on account A's key", () => {
  // Each case runs against a fresh key of A's with an override, and must leave A's data
  // byte-for-byte as it was.
  it.each<[string, (keyId: string) => Promise<unknown>, unknown]>([
    ["getApiKey", (keyId) => getApiKey(accountB, keyId), null],
    ["listApiKeys", async (keyId) => (await listApiKeys(accountB)).filter((k) => k.id === keyId), []],
    ["setApiKeyEnabled(false)", (keyId) => setApiKeyEnabled(accountB, keyId, false, { type: "dashboard" }), { ok: false, code: "NOT_FOUND", message: expect.any(String) }],
    ["setApiKeyEnabled(true)", (keyId) => setApiKeyEnabled(accountB, keyId, true, { type: "dashboard" }), { ok: false, code: "NOT_FOUND", message: expect.any(String) }],
    [
      "updateApiKeyScopes with B's own endpoint",
      (keyId) => updateApiKeyScopes(accountB, keyId, { graphql: "read_write", endpointsAll: "read_write", endpoints: { [endpointB1]: "read_write" } }, { type: "dashboard" }),
      { ok: false, code: "NOT_FOUND", message: expect.any(String) },
    ],
    [
      "updateApiKeyScopes with A's endpoint",
      (keyId) => updateApiKeyScopes(accountB, keyId, { graphql: "none", endpointsAll: "none", endpoints: { [endpointA1]: "read_write" } }, { type: "dashboard" }),
      { ok: false, code: "NOT_FOUND", message: expect.any(String) },
    ],
    ["updateApiKeyScopes to empty", (keyId) => updateApiKeyScopes(accountB, keyId, createEmptyScopes(), { type: "dashboard" }), { ok: false, code: "NOT_FOUND", message: expect.any(String) }],
    ["deleteApiKey", (keyId) => deleteApiKey(accountB, keyId, { type: "dashboard" }), { ok: false, code: "NOT_FOUND", message: expect.any(String) }],
  ])("%s is denied and A's key is unchanged", async (_label, attempt, expected) => {
    await newKey(accountB, { graphql: "read", endpointsAll: "read", endpoints: { [endpointB1]: "none" } }, "b's own key");
    const { key } = await newKey(accountA, { graphql: "read", endpointsAll: "none", endpoints: { [endpointA1]: "read" } });
    const before = await snapshot(key.id);
    expect(before.overrides).toHaveLength(1);

    expect(await attempt(key.id)).toEqual(expected);

    expect(await snapshot(key.id)).toEqual(before);
    expect(await getApiKey(accountA, key.id)).toEqual(key);
  });

  it("listApiKeys for B contains only B's keys", async () => {
    const idsOfA = new Set((await rawRows("SELECT id FROM api_keys WHERE account_id = ?", [accountA])).map((r) => String(r.id)));
    expect(idsOfA.size).toBeGreaterThan(0);
    const listedForB = await listApiKeys(accountB);
    expect(listedForB.length).toBeGreaterThan(0);
    expect(listedForB.filter((k) => idsOfA.has(k.id))).toEqual([]);
    const idsOfB = new Set((await rawRows("SELECT id FROM api_keys WHERE account_id = ?", [accountB])).map((r) => String(r.id)));
    expect(new Set(listedForB.map((k) => k.id))).toEqual(idsOfB);
  });

  it("importLegacyApiKeys for B with a hash A already uses is CONFLICT and A's key is unchanged", async () => {
    const entry = legacyEntry("a's legacy", "read");
    const imported = await importLegacyApiKeys(accountA, [entry], { type: "dashboard" });
    if (!imported.ok || !imported.value.ids[0]) throw new Error("setup failed");
    const before = await snapshot(imported.value.ids[0]);
    const counts = await tableCounts();

    expect(await importLegacyApiKeys(accountB, [{ ...entry, name: "stolen" }], { type: "dashboard" })).toEqual({
      ok: false,
      code: "CONFLICT",
      message: expect.any(String),
    });
    expect(await tableCounts()).toEqual(counts);
    expect(await snapshot(imported.value.ids[0])).toEqual(before);
  });
});

describe("importLegacyApiKeys", () => {
  it.each([
    ["read", { graphql: "read", endpointsAll: "read", endpoints: {} }],
    ["read_write", { graphql: "read_write", endpointsAll: "read_write", endpoints: {} }],
  ] as const)("maps permission %s to GraphQL and all endpoints alike", async (permission, scopes) => {
    const now = new Date("2023-12-31T23:59:59.999Z");
    const plaintext = legacyPlaintext();
    const entry = legacyEntry(`legacy ${permission}`, permission, plaintext);
    const result = await importLegacyApiKeys(accountA, [entry], { type: "dashboard" }, now);
    if (!result.ok) throw new Error(result.message);
    const [id] = result.value.ids;
    expect(id).toMatch(/^key_[0-9a-z]{16}$/);

    expect(await getApiKey(accountA, id ?? "")).toEqual({
      id,
      name: `legacy ${permission}`,
      kind: "legacy",
      hint: `\u2026${plaintext.slice(-4)}`,
      enabled: true,
      createdAt: now,
      lastUsedAt: null,
      scopes,
      expiresAt: null,
      previous: null,
      elevations: [],
      leak: null,
      restrictions: { allowedIps: null, rateLimit: null },
      // Imported by an operator: no member created it.
      createdBy: null,
    });
    const row = await keyRow(id ?? "");
    expect(row?.key_hash).toBe(hashKey(plaintext));
    expect(Object.values(row ?? {}).map(String).join("\n")).not.toContain(plaintext);
    expect(await overrideRows(id ?? "")).toEqual([]);
  });

  it("imports a whole batch and returns the ids in input order", async () => {
    const entries = [legacyEntry("one", "read"), legacyEntry("two", "read_write"), legacyEntry("three", "read")];
    const result = await importLegacyApiKeys(accountA, entries, { type: "dashboard" });
    if (!result.ok) throw new Error(result.message);
    expect(result.value.ids).toHaveLength(3);
    const rows = await Promise.all(result.value.ids.map((id) => keyRow(id)));
    expect(rows.map((row) => [row?.name, row?.key_hash, row?.kind, row?.account_id])).toEqual(
      entries.map((entry) => [entry.name, entry.keyHash, "legacy", accountA]),
    );
  });

  it("is all or nothing: one already-known hash refuses the whole batch with CONFLICT", async () => {
    const existing = legacyEntry("existing", "read");
    const first = await importLegacyApiKeys(accountA, [existing], { type: "dashboard" });
    expect(first.ok).toBe(true);
    const before = await rawRows("SELECT * FROM api_keys ORDER BY id");

    const fresh1 = legacyEntry("fresh 1", "read");
    const fresh2 = legacyEntry("fresh 2", "read_write");
    const clash = { ...existing, line: 902, name: "again" };
    const result = await importLegacyApiKeys(accountA, [fresh1, clash, fresh2], { type: "dashboard" });
    // The refusal points at the clashing entry.
    expect(result).toEqual({ ok: false, code: "CONFLICT", message: expect.stringContaining('"again"') });

    expect(await rawRows("SELECT * FROM api_keys ORDER BY id")).toEqual(before);
    expect(await countRows("api_keys", "key_hash IN (?, ?)", [fresh1.keyHash, fresh2.keyHash])).toBe(0);
  });

  it("refuses a batch that repeats a hash within itself, writing nothing", async () => {
    const counts = await tableCounts();
    const entry = legacyEntry("twice", "read");
    const result = await importLegacyApiKeys(accountA, [legacyEntry("before", "read"), entry, { ...entry, name: "twice again" }], { type: "dashboard" });
    expect(result).toEqual({ ok: false, code: "CONFLICT", message: expect.any(String) });
    expect(await tableCounts()).toEqual(counts);
  });

  it("refuses a hash that belongs to a scoped key", async () => {
    const { plaintext } = await newKey(accountA);
    const counts = await tableCounts();
    const result = await importLegacyApiKeys(accountA, [{ line: 1, name: "clash", permission: "read", keyHash: hashKey(plaintext), hint: "\u2026XXXX" }], { type: "dashboard" });
    expect(result).toEqual({ ok: false, code: "CONFLICT", message: expect.any(String) });
    expect(await tableCounts()).toEqual(counts);
  });

  it("refuses a hash still held as a rolled key's previous secret, in any account", async () => {
    const entry = legacyEntry("rolled legacy", "read");
    const imported = await importLegacyApiKeys(accountA, [entry], { type: "dashboard" });
    if (!imported.ok || !imported.value.ids[0]) throw new Error("setup failed");
    const rolled = await rollApiKey(accountA, imported.value.ids[0], "7d", { type: "dashboard" });
    if (!rolled.ok) throw new Error(rolled.message);
    plaintexts.push(rolled.value.plaintext);
    const counts = await tableCounts();
    for (const account of [accountA, accountB]) {
      expect(await importLegacyApiKeys(account, [{ ...entry, name: "again" }], { type: "dashboard" })).toEqual({ ok: false, code: "CONFLICT", message: expect.any(String) });
    }
    expect(await tableCounts()).toEqual(counts);
  });

  it("an empty import succeeds and writes nothing", async () => {
    const counts = await tableCounts();
    expect(await importLegacyApiKeys(accountA, [], { type: "dashboard" })).toEqual({ ok: true, value: { ids: [] } });
    expect(await tableCounts()).toEqual(counts);
  });
});

describe("database constraints", () => {
  it("the composite foreign key refuses an override that pairs A's key with B's endpoint", async () => {
    const db = await getDb();
    const { key } = await newKey(accountA);
    const insert = (accountId: string, endpointId: string) =>
      db.$client.execute({
        sql: "INSERT INTO api_key_endpoint_scopes (account_id, key_id, endpoint_id, level) VALUES (?, ?, ?, 'read')",
        args: [accountId, key.id, endpointId],
      });

    await expect(insert(accountA, endpointB1)).rejects.toThrow(/FOREIGN KEY constraint failed/);
    await expect(insert(accountB, endpointB1)).rejects.toThrow(/FOREIGN KEY constraint failed/);
    await expect(insert(accountA, "nosuchendpoint00")).rejects.toThrow(/FOREIGN KEY constraint failed/);
    expect(await overrideRows(key.id)).toEqual([]);

    // Control: the same insert with A's own endpoint is accepted.
    await insert(accountA, endpointA1);
    expect(await overrideRows(key.id)).toHaveLength(1);
  });

  it("the unique index refuses a second key with the same hash", async () => {
    const db = await getDb();
    const { plaintext } = await newKey(accountB);
    await expect(
      db.$client.execute({
        sql: "INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint) VALUES ('key_dup', ?, 'dup', 'scoped', ?, 'x')",
        args: [accountA, hashKey(plaintext)],
      }),
    ).rejects.toThrow(/UNIQUE constraint failed/);
  });

  it("nothing in this file left a dangling reference", async () => {
    expect(await rawRows("PRAGMA foreign_key_check")).toEqual([]);
  });

  it("no plaintext key appears anywhere in the database files", async () => {
    expect(plaintexts.length).toBeGreaterThan(20);
    const bytes = readDatabaseFiles();
    expect(bytes.length).toBeGreaterThan(0);
    for (const plaintext of plaintexts) {
      expect(bytes.includes(Buffer.from(plaintext, "utf8"))).toBe(false);
      // Nor the part of a scoped key that is not in its hint.
      if (plaintext.startsWith("rpa_")) expect(bytes.includes(Buffer.from(plaintext.slice(8, 36), "utf8"))).toBe(false);
    }
  });
});
