import { countRows, rawRows, removeTestDatabase, runJustBeforeNextBatch, testDatabaseUrl, uniqueEmail, type RawRow } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDb, openDatabaseHandle, type DatabaseHandle } from "@/db/handle";
import { formatDisplayHint, parsePresentedKey } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { ELEVATION_DURATIONS, GRACE_IDS, type ElevationDuration, type GraceChoice } from "@/lib/core/lifecycle/choices";
import { createEmptyScopes, type KeyScopes } from "@/lib/core/scopes/evaluate";
import type { LegacyPermission, RequiredLevel } from "@/lib/core/scopes/levels";
import { createAccount } from "./accounts";
import { createScopedApiKey, deleteApiKey, getApiKey, importLegacyApiKeys, listApiKeys, type ApiKeyDto } from "./api-keys";
import { listAuditLog, type AuditActor } from "./audit-log";
import { createEndpoint, deleteEndpoint } from "./endpoints";
import {
  elevateApiKey,
  endElevation,
  endGraceOnFirstUse,
  expirePreviousKey,
  recordLifecycleEnds,
  rollApiKey,
  setApiKeyExpiration,
  type ElevationInput,
} from "./key-lifecycle";
import type { DalResult } from "./result";

afterAll(removeTestDatabase);

// Every time here is counted from T0, when the keys are created; each function gets its `now`.
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.parse("2025-06-01T10:00:00.000Z");
const at = (offset: number) => new Date(T0 + offset);

const DASHBOARD: AuditActor = { type: "dashboard" };
const refused = (code: "NOT_FOUND" | "BAD_REQUEST" | "CONFLICT") => ({ ok: false, code, message: expect.any(String) });

// Every plaintext and hash this file sees: none may reach a DTO or the audit log.
const secrets: string[] = [];

let accountA = "";
let accountB = "";
let endpointA1 = "";
let endpointA2 = "";
let endpointB1 = "";

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

async function newEndpoint(accountId: string, name: string): Promise<string> {
  const result = await createEndpoint(accountId, name, DASHBOARD, at(0));
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

function remember(plaintext: string) {
  secrets.push(plaintext, hashKey(plaintext));
}

/** A scoped key created at T0 (GraphQL none, all endpoints read, one override up and one down by default). */
async function newKey(accountId: string, options: { scopes?: KeyScopes; name?: string; expiresAt?: Date | null } = {}) {
  const scopes = options.scopes ?? (accountId === accountA ? defaultScopesA() : createEmptyScopes());
  const created = unwrap(await createScopedApiKey(accountId, { name: options.name ?? "lifecycle key", scopes, expiresAt: options.expiresAt }, DASHBOARD, at(0)));
  remember(created.plaintext);
  return created;
}

const defaultScopesA = (): KeyScopes => ({ graphql: "none", endpointsAll: "read", endpoints: { [endpointA1]: "none", [endpointA2]: "read_write" } });

function legacyPlaintext(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
}

async function newLegacyKey(accountId: string, permission: LegacyPermission) {
  const plaintext = legacyPlaintext();
  remember(plaintext);
  const hint = formatDisplayHint(plaintext, "legacy");
  const imported = unwrap(await importLegacyApiKeys(accountId, [{ line: 1, name: `legacy ${permission}`, permission, keyHash: hashKey(plaintext), hint }], DASHBOARD, at(0)));
  const id = imported.ids[0];
  if (!id) throw new Error("setup failed");
  return { id, plaintext, hint };
}

async function roll(accountId: string, keyId: string, grace: GraceChoice, now: Date) {
  const rolled = unwrap(await rollApiKey(accountId, keyId, grace, DASHBOARD, now));
  remember(rolled.plaintext);
  return rolled;
}

const elevation = (target: ElevationInput["target"], level: RequiredLevel, duration: ElevationDuration = "1h", reason = "incident 42"): ElevationInput => ({
  target,
  level,
  duration,
  reason,
});
const GRAPHQL = { resource: "graphql" } as const;
const ALL_ENDPOINTS = { resource: "endpoints" } as const;
const endpointTarget = (endpointId: string) => ({ resource: "endpoint", endpointId }) as const;

async function elevate(accountId: string, keyId: string, input: ElevationInput, now: Date): Promise<string> {
  const key = unwrap(await elevateApiKey(accountId, keyId, input, DASHBOARD, now));
  const row = (await elevationRows(keyId)).find((r) => r.created_at === now.getTime() && r.target === targetKeyOf(input.target));
  if (!row) throw new Error("elevation row missing");
  expect(key.elevations.map((e) => e.id)).toContain(row.id);
  return String(row.id);
}

const targetKeyOf = (target: ElevationInput["target"]) => (target.resource === "endpoint" ? `endpoint:${target.endpointId}` : target.resource);

async function keyRow(keyId: string): Promise<RawRow | undefined> {
  const [row] = await rawRows("SELECT * FROM api_keys WHERE id = ?", [keyId]);
  return row;
}

async function elevationRows(keyId: string): Promise<RawRow[]> {
  return rawRows("SELECT * FROM api_key_elevations WHERE key_id = ? ORDER BY created_at, id", [keyId]);
}

/** Everything stored about a key, to compare before and after an operation. */
async function snapshot(keyId: string) {
  return {
    key: await keyRow(keyId),
    overrides: await rawRows("SELECT * FROM api_key_endpoint_scopes WHERE key_id = ? ORDER BY endpoint_id", [keyId]),
    elevations: await elevationRows(keyId),
  };
}

/** Everything stored for an account: its keys, overrides, elevations, endpoints and audit entries. */
async function accountState(accountId: string) {
  const of = (table: string, order: string) => rawRows(`SELECT * FROM ${table} WHERE account_id = ? ORDER BY ${order}`, [accountId]);
  return {
    keys: await of("api_keys", "id"),
    overrides: await of("api_key_endpoint_scopes", "key_id, endpoint_id"),
    elevations: await of("api_key_elevations", "id"),
    endpoints: await of("endpoints", "id"),
    audit: await of("audit_log", "id"),
  };
}

type AuditRow = {
  id: number;
  account_id: string;
  created_at: number;
  action: string;
  target_type: string;
  target_id: string | null;
  target_name: string | null;
  details: Record<string, unknown>;
  actor: Record<string, unknown> | null;
};

/** Runs `change`; answers its result and every audit row it wrote, for any account. */
async function audited<T>(change: () => Promise<T>): Promise<[T, AuditRow[]]> {
  const [last] = await rawRows("SELECT coalesce(max(id), 0) AS id FROM audit_log");
  const result = await change();
  const rows = await rawRows("SELECT * FROM audit_log WHERE id > ? ORDER BY id", [Number(last?.id)]);
  for (const row of rows) for (const secret of secrets) expect(JSON.stringify(row)).not.toContain(secret);
  return [
    result,
    rows.map((row) => ({ ...row, details: JSON.parse(String(row.details)), actor: row.actor === null ? null : JSON.parse(String(row.actor)) }) as AuditRow),
  ];
}

const auditCount = () => countRows("audit_log");

/** A DTO never carries a hash (current or previous) or a plaintext. */
function expectNoSecrets(dto: unknown) {
  const text = JSON.stringify(dto);
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/keyHash|key_hash|previousKeyHash|plaintext/);
}

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
  endpointA1 = await newEndpoint(accountA, "a-one");
  endpointA2 = await newEndpoint(accountA, "a-two");
  endpointB1 = await newEndpoint(accountB, "b-one");
});

describe("setApiKeyExpiration", () => {
  it.each(["scoped", "legacy"] as const)("sets, changes and clears a %s key's expiry, each with one entry holding before and after", async (kind) => {
    const keyId = kind === "scoped" ? (await newKey(accountA)).key.id : (await newLegacyKey(accountA, "read")).id;
    const name = kind === "scoped" ? "lifecycle key" : "legacy read";
    const before = await snapshot(keyId);
    const steps: [Date | null, number | null, number | null][] = [
      [at(30 * DAY), null, T0 + 30 * DAY],
      [at(60 * DAY), T0 + 30 * DAY, T0 + 60 * DAY],
      [null, T0 + 60 * DAY, null],
    ];
    for (const [i, [expiresAt, was, becomes]] of steps.entries()) {
      const now = at(HOUR + i);
      const [result, entries] = await audited(() => setApiKeyExpiration(accountA, keyId, expiresAt, DASHBOARD, now));
      const dto = unwrap(result);
      expect(dto.expiresAt).toEqual(expiresAt);
      expect(dto.kind).toBe(kind);
      expectNoSecrets(dto);
      expect(await getApiKey(accountA, keyId, now)).toEqual(dto);
      // Only the expiry moved.
      expect(await snapshot(keyId)).toEqual({ ...before, key: { ...before.key, expires_at: becomes } });
      expect(entries).toEqual([
        {
          id: expect.any(Number),
          account_id: accountA,
          created_at: now.getTime(),
          action: "api_key.expiration_changed",
          target_type: "api_key",
          target_id: keyId,
          target_name: name,
          details: { kind, before: was, after: becomes },
          actor: { type: "dashboard" },
        },
      ]);
    }
  });

  it("setting the expiry it already has (a date, or none) succeeds and records nothing", async () => {
    const { key } = await newKey(accountA, { expiresAt: at(10 * DAY) });
    const [same, entries] = await audited(() => setApiKeyExpiration(accountA, key.id, at(10 * DAY), DASHBOARD, at(HOUR)));
    expect(unwrap(same).expiresAt).toEqual(at(10 * DAY));
    expect(entries).toEqual([]);

    unwrap(await setApiKeyExpiration(accountA, key.id, null, DASHBOARD, at(HOUR)));
    const [none, noEntries] = await audited(() => setApiKeyExpiration(accountA, key.id, null, DASHBOARD, at(2 * HOUR)));
    expect(unwrap(none).expiresAt).toBeNull();
    expect(noEntries).toEqual([]);
  });

  it.each<[string, number]>([
    ["a millisecond ago", -1],
    ["now exactly", 0],
    ["a year ago", -365 * DAY],
  ])("refuses an expiry %s with BAD_REQUEST and writes nothing", async (_label, offset) => {
    const now = at(DAY);
    for (const keyId of [(await newKey(accountA, { expiresAt: at(10 * DAY) })).key.id, (await newLegacyKey(accountA, "read_write")).id]) {
      const before = await snapshot(keyId);
      const count = await auditCount();
      expect(await setApiKeyExpiration(accountA, keyId, new Date(now.getTime() + offset), DASHBOARD, now)).toEqual(refused("BAD_REQUEST"));
      expect(await snapshot(keyId)).toEqual(before);
      expect(await auditCount()).toBe(count);
    }
  });

  it("a millisecond ahead is accepted", async () => {
    const { key } = await newKey(accountA);
    expect(unwrap(await setApiKeyExpiration(accountA, key.id, at(DAY + 1), DASHBOARD, at(DAY))).expiresAt).toEqual(at(DAY + 1));
  });

  it("an unknown key is NOT_FOUND and writes nothing", async () => {
    const count = await auditCount();
    expect(await setApiKeyExpiration(accountA, "key_nosuchkey00000", at(DAY), DASHBOARD, at(0))).toEqual(refused("NOT_FOUND"));
    expect(await auditCount()).toBe(count);
  });
});

describe("rollApiKey", () => {
  /** A key with everything a roll must keep: overrides, an expiry, an elevation and a last use. */
  async function fullKey() {
    const created = await newKey(accountA, { expiresAt: at(90 * DAY), name: "rolled key" });
    await elevate(accountA, created.key.id, elevation(GRAPHQL, "read", "24h"), at(HOUR));
    await rawRows("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [T0 + 30 * MINUTE, created.key.id]);
    return created;
  }

  it.each<[GraceChoice, number | null, boolean]>([
    ["now", null, false],
    ["1h", HOUR, false],
    ["24h", DAY, false],
    ["7d", 7 * DAY, false],
    ["first_use", 7 * DAY, true],
  ])("grace %s: a new secret, the old one kept for the grace period, everything else as it was", async (grace, graceMs, untilFirstUse) => {
    const { key, plaintext: oldPlaintext } = await fullKey();
    const now = at(2 * HOUR);
    const before = await snapshot(key.id);
    const dtoBefore = await getApiKey(accountA, key.id, now);
    expect(dtoBefore?.elevations).toHaveLength(1);

    const [result, entries] = await audited(() => roll(accountA, key.id, grace, now));
    const { key: dto, plaintext } = result;

    expect(parsePresentedKey(plaintext)).toEqual({ ok: true, kind: "scoped", key: plaintext });
    expect(plaintext).not.toBe(oldPlaintext);
    const validUntil = graceMs === null ? null : T0 + 2 * HOUR + graceMs;
    expect(await snapshot(key.id)).toEqual({
      ...before,
      key: {
        ...before.key,
        key_hash: hashKey(plaintext),
        hint: formatDisplayHint(plaintext, "scoped"),
        previous_key_hash: graceMs === null ? null : hashKey(oldPlaintext),
        previous_hint: graceMs === null ? null : key.hint,
        previous_valid_until: validUntil,
        previous_until_first_use: untilFirstUse ? 1 : 0,
      },
    });
    // Same id, name, scopes, expiry, elevations and last use; a new hint, and the previous secret's.
    expect(dto).toEqual({
      ...dtoBefore,
      hint: formatDisplayHint(plaintext, "scoped"),
      previous: validUntil === null ? null : { hint: key.hint, validUntil: new Date(validUntil), untilFirstUse },
    });
    expect(dto.lastUsedAt).toEqual(at(30 * MINUTE));
    expectNoSecrets(dto);
    expect(entries).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "api_key.rolled",
        target_type: "api_key",
        target_id: key.id,
        target_name: "rolled key",
        details: { fromKind: "scoped", grace, previousValidUntil: validUntil, untilFirstUse, endedEarlierGrace: false, leaked: false },
        actor: { type: "dashboard" },
      },
    ]);
  });

  it.each<[GraceChoice, number | null]>([
    ["1h", HOUR],
    ["now", null],
  ])("rolling again (grace %s) while a grace period runs replaces the previous secret and ends that grace", async (grace, graceMs) => {
    const { key, plaintext: first } = await newKey(accountA);
    const { plaintext: second } = await roll(accountA, key.id, "24h", at(HOUR));
    const now = at(2 * HOUR);
    const [{ plaintext: third }, entries] = await audited(() => roll(accountA, key.id, grace, now));

    const row = await keyRow(key.id);
    expect(row).toMatchObject({
      key_hash: hashKey(third),
      previous_key_hash: graceMs === null ? null : hashKey(second),
      previous_valid_until: graceMs === null ? null : now.getTime() + graceMs,
    });
    // The first secret is gone from the table for good.
    expect(await countRows("api_keys", "key_hash = ? OR previous_key_hash = ?", [hashKey(first), hashKey(first)])).toBe(0);
    expect(entries).toEqual([expect.objectContaining({ action: "api_key.rolled", details: expect.objectContaining({ grace, endedEarlierGrace: true }) })]);
  });

  it("rolling after the earlier grace period ran out (not yet recorded) records that end at its time, not as ended by the roll", async () => {
    const { key } = await newKey(accountA, { name: "late roll" });
    await roll(accountA, key.id, "1h", at(HOUR));
    const now = at(5 * HOUR);
    const [, entries] = await audited(() => roll(accountA, key.id, "24h", now));
    expect(entries).toEqual([
      expect.objectContaining({
        action: "api_key.previous_expired",
        created_at: T0 + 2 * HOUR,
        target_id: key.id,
        target_name: "late roll",
        details: { validUntil: T0 + 2 * HOUR, cause: "time" },
        actor: { type: "system" },
      }),
      expect.objectContaining({ action: "api_key.rolled", created_at: now.getTime(), details: expect.objectContaining({ endedEarlierGrace: false }) }),
    ]);
    // …and recordLifecycleEnds finds nothing more to say about that key.
    const [, later] = await audited(() => recordLifecycleEnds(at(6 * HOUR)));
    expect(later.filter((entry) => entry.target_id === key.id)).toEqual([]);
  });

  it.each(["read", "read_write"] as const)("rolling a legacy %s key makes it a scoped rpa_ key with the same levels; its legacy secret gets the grace", async (permission) => {
    const legacy = await newLegacyKey(accountA, permission);
    const before = await snapshot(legacy.id);
    const now = at(HOUR);
    const [{ key: dto, plaintext }, entries] = await audited(() => roll(accountA, legacy.id, "7d", now));

    expect(plaintext.startsWith("rpa_")).toBe(true);
    expect(parsePresentedKey(plaintext)).toEqual({ ok: true, kind: "scoped", key: plaintext });
    expect(await snapshot(legacy.id)).toEqual({
      ...before,
      key: {
        ...before.key,
        kind: "scoped",
        key_hash: hashKey(plaintext),
        hint: formatDisplayHint(plaintext, "scoped"),
        previous_key_hash: hashKey(legacy.plaintext),
        previous_hint: legacy.hint,
        previous_valid_until: now.getTime() + 7 * DAY,
        previous_until_first_use: 0,
      },
    });
    expect(before.key).toMatchObject({ kind: "legacy", graphql_level: permission, endpoints_all_level: permission });
    expect(dto).toMatchObject({ kind: "scoped", scopes: { graphql: permission, endpointsAll: permission, endpoints: {} } });
    expect(entries).toEqual([expect.objectContaining({ action: "api_key.rolled", details: expect.objectContaining({ fromKind: "legacy", grace: "7d" }) })]);
  });

  it("an unknown key is NOT_FOUND and writes nothing", async () => {
    const count = await auditCount();
    const keys = await rawRows("SELECT * FROM api_keys ORDER BY id");
    expect(await rollApiKey(accountA, "key_nosuchkey00000", "24h", DASHBOARD, at(0))).toEqual(refused("NOT_FOUND"));
    expect(await auditCount()).toBe(count);
    expect(await rawRows("SELECT * FROM api_keys ORDER BY id")).toEqual(keys);
  });
});

describe("expirePreviousKey", () => {
  it("clears the previous secret at once and records it as manual", async () => {
    const { key } = await newKey(accountA, { name: "expire me" });
    const { plaintext } = await roll(accountA, key.id, "24h", at(HOUR));
    const before = await snapshot(key.id);
    const now = at(3 * HOUR);
    const [result, entries] = await audited(() => expirePreviousKey(accountA, key.id, DASHBOARD, now));
    expect(unwrap(result).previous).toBeNull();
    expect(await snapshot(key.id)).toEqual({
      ...before,
      key: { ...before.key, key_hash: hashKey(plaintext), previous_key_hash: null, previous_hint: null, previous_valid_until: null, previous_until_first_use: 0 },
    });
    expect(entries).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "api_key.previous_expired",
        target_type: "api_key",
        target_id: key.id,
        target_name: "expire me",
        details: { validUntil: now.getTime(), cause: "manual" },
        actor: { type: "dashboard" },
      },
    ]);
  });

  it("clears a first-use grace period too", async () => {
    const { key } = await newKey(accountA);
    await roll(accountA, key.id, "first_use", at(HOUR));
    unwrap(await expirePreviousKey(accountA, key.id, DASHBOARD, at(2 * HOUR)));
    expect(await keyRow(key.id)).toMatchObject({ previous_key_hash: null, previous_until_first_use: 0 });
  });

  it.each<[string, (keyId: string) => Promise<unknown>]>([
    ["never rolled", async () => {}],
    ["rolled with Expire now", (keyId) => roll(accountA, keyId, "now", at(HOUR))],
    ["grace period already over (not yet recorded)", (keyId) => roll(accountA, keyId, "1h", at(0))],
    ["previous key already expired by hand", async (keyId) => {
      await roll(accountA, keyId, "24h", at(0));
      unwrap(await expirePreviousKey(accountA, keyId, DASHBOARD, at(HOUR)));
    }],
  ])("with no grace period running (%s) is BAD_REQUEST and writes nothing", async (_label, setup) => {
    const { key } = await newKey(accountA);
    await setup(key.id);
    const before = await snapshot(key.id);
    const count = await auditCount();
    expect(await expirePreviousKey(accountA, key.id, DASHBOARD, at(2 * HOUR))).toEqual(refused("BAD_REQUEST"));
    expect(await snapshot(key.id)).toEqual(before);
    expect(await auditCount()).toBe(count);
  });

  it("an unknown key is NOT_FOUND", async () => {
    const count = await auditCount();
    expect(await expirePreviousKey(accountA, "key_nosuchkey00000", DASHBOARD, at(0))).toEqual(refused("NOT_FOUND"));
    expect(await auditCount()).toBe(count);
  });
});

describe("endGraceOnFirstUse", () => {
  it("ends a running first-use grace period at the given time, once", async () => {
    const { key } = await newKey(accountA, { name: "first use" });
    const { plaintext } = await roll(accountA, key.id, "first_use", at(HOUR));
    const before = await snapshot(key.id);
    const usedAt = T0 + 3 * HOUR + 17;

    const [, entries] = await audited(() => endGraceOnFirstUse(key.id, usedAt));
    expect(await snapshot(key.id)).toEqual({
      ...before,
      key: { ...before.key, key_hash: hashKey(plaintext), previous_key_hash: null, previous_hint: null, previous_valid_until: null, previous_until_first_use: 0 },
    });
    expect(entries).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: usedAt,
        action: "api_key.previous_expired",
        target_type: "api_key",
        target_id: key.id,
        target_name: "first use",
        details: { validUntil: usedAt, cause: "first_use" },
        actor: { type: "system" },
      },
    ]);

    // The verifier may report the same first use twice (two requests at once): one entry.
    const [, again] = await audited(() => endGraceOnFirstUse(key.id, usedAt + 1));
    expect(again).toEqual([]);
  });

  it.each<[string, GraceChoice, number]>([
    ["a 1 hour grace period", "1h", 10 * MINUTE],
    ["a 7 day grace period", "7d", HOUR],
    ["a first-use grace period already over by time", "first_use", 7 * DAY + 1],
    ["a first-use grace period at its last instant", "first_use", 7 * DAY],
  ])("leaves %s alone", async (_label, grace, afterRoll) => {
    const { key } = await newKey(accountA);
    await roll(accountA, key.id, grace, at(HOUR));
    const before = await snapshot(key.id);
    const [, entries] = await audited(() => endGraceOnFirstUse(key.id, T0 + HOUR + afterRoll));
    expect(entries).toEqual([]);
    expect(await snapshot(key.id)).toEqual(before);
  });

  it("does nothing for a key never rolled, or an unknown id", async () => {
    const { key } = await newKey(accountA);
    const before = await snapshot(key.id);
    const [, entries] = await audited(async () => {
      await endGraceOnFirstUse(key.id, T0 + HOUR);
      await endGraceOnFirstUse("key_nosuchkey00000", T0 + HOUR);
    });
    expect(entries).toEqual([]);
    expect(await snapshot(key.id)).toEqual(before);
  });
});

describe("elevateApiKey", () => {
  // Key of A by default: GraphQL none, all endpoints read, a-one overridden to none, a-two to read / write.
  it.each<[string, () => ElevationInput, string, string, number]>([
    ["GraphQL to read for 15 minutes", () => elevation(GRAPHQL, "read", "15m"), "graphql", "GraphQL", 15 * MINUTE],
    ["GraphQL to read / write for 1 hour", () => elevation(GRAPHQL, "read_write", "1h"), "graphql", "GraphQL", HOUR],
    ["all endpoints to read / write for 4 hours", () => elevation(ALL_ENDPOINTS, "read_write", "4h"), "endpoints", "All endpoints", 4 * HOUR],
    ["an endpoint overridden to none, to read, for 24 hours", () => elevation(endpointTarget(endpointA1), "read", "24h"), "endpoint:A1", "a-one", DAY],
  ])("elevates %s: the row, the DTO and one entry", async (_label, inputOf, targetKey, targetName, durationMs) => {
    const { key } = await newKey(accountA, { name: "elevated key" });
    const before = await snapshot(key.id);
    const input = inputOf();
    const target = targetKey.replace("A1", endpointA1);
    const now = at(HOUR);
    const [result, entries] = await audited(() => elevateApiKey(accountA, key.id, input, DASHBOARD, now));
    const dto = unwrap(result);
    const endsAt = now.getTime() + durationMs;

    const rows = await elevationRows(key.id);
    expect(rows).toEqual([
      {
        id: expect.stringMatching(/^elv_[0-9a-z]{16}$/),
        account_id: accountA,
        key_id: key.id,
        target,
        endpoint_id: input.target.resource === "endpoint" ? endpointA1 : null,
        level: input.level,
        reason: "incident 42",
        created_at: now.getTime(),
        ends_at: endsAt,
        ended_at: null,
        end_recorded: 0,
      },
    ]);
    // The key's own scopes and secret are untouched.
    expect((await snapshot(key.id)).key).toEqual(before.key);
    expect(dto.scopes).toEqual(defaultScopesA());
    expect(dto.elevations).toEqual([
      { id: rows[0]?.id, target, targetName, level: input.level, reason: "incident 42", createdAt: now, endsAt: new Date(endsAt) },
    ]);
    expect(await getApiKey(accountA, key.id, now)).toEqual(dto);
    expectNoSecrets(dto);
    expect(entries).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "api_key.elevated",
        target_type: "api_key",
        target_id: key.id,
        target_name: "elevated key",
        details: { target, targetName, level: input.level, reason: "incident 42", endsAt },
        actor: { type: "dashboard" },
      },
    ]);
  });

  it.each(ELEVATION_DURATIONS.map((duration) => [duration.id, duration.ms] as [ElevationDuration, number]))("a %s elevation ends that long after now", async (duration, ms) => {
    const { key } = await newKey(accountA);
    const dto = unwrap(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read", duration), DASHBOARD, at(HOUR)));
    expect(dto.elevations.map((e) => e.endsAt)).toEqual([at(HOUR + ms)]);
    expect((await elevationRows(key.id)).map((row) => row.ends_at)).toEqual([T0 + HOUR + ms]);
  });

  it.each<[string, string]>([
    ["empty", ""],
    ["whitespace only", "    "],
    ["201 characters", "r".repeat(201)],
    ["a control character", "deploy\u0007now"],
    ["a tab", "deploy\tnow"],
    ["a newline", "deploy\nnow"],
    ["a line separator", "deploy\u2028now"],
    ["a right-to-left override", "deploy\u202Ewon"],
    ["a bidi isolate", "\u2066deploy\u2069"],
    ["a zero-width space only", "\u200B"],
  ])("refuses a reason that is %s with BAD_REQUEST and writes nothing", async (_label, reason) => {
    const { key } = await newKey(accountA);
    const before = await snapshot(key.id);
    const count = await auditCount();
    expect(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read", "1h", reason), DASHBOARD, at(HOUR))).toEqual(refused("BAD_REQUEST"));
    expect(await snapshot(key.id)).toEqual(before);
    expect(await auditCount()).toBe(count);
  });

  it.each<[string, string, string]>([
    ["200 characters", "r".repeat(200), "r".repeat(200)],
    ["padded with spaces (stored trimmed)", "  on call: rotate DB creds  ", "on call: rotate DB creds"],
    ["one character", "x", "x"],
  ])("accepts a reason of %s", async (_label, reason, stored) => {
    const { key } = await newKey(accountA);
    const dto = unwrap(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read", "1h", reason), DASHBOARD, at(HOUR)));
    expect(dto.elevations.map((e) => e.reason)).toEqual([stored]);
    expect((await elevationRows(key.id)).map((row) => row.reason)).toEqual([stored]);
  });

  it.each<[string, KeyScopes | null, () => ElevationInput]>([
    ["GraphQL read on a key with GraphQL read", { graphql: "read", endpointsAll: "none", endpoints: {} }, () => elevation(GRAPHQL, "read")],
    ["GraphQL read on a key with GraphQL read / write", { graphql: "read_write", endpointsAll: "none", endpoints: {} }, () => elevation(GRAPHQL, "read")],
    ["all endpoints read on a key with all endpoints read", null, () => elevation(ALL_ENDPOINTS, "read")],
    ["an endpoint overridden to read / write, to read / write", null, () => elevation(endpointTarget(endpointA2), "read_write")],
    ["an endpoint overridden to read / write, to read", null, () => elevation(endpointTarget(endpointA2), "read")],
    ["an endpoint inheriting read from all endpoints, to read", { graphql: "none", endpointsAll: "read", endpoints: {} }, () => elevation(endpointTarget(endpointA1), "read")],
    ["level none", null, () => elevation(GRAPHQL, "none" as RequiredLevel)],
  ])("refuses %s with BAD_REQUEST and writes nothing", async (_label, scopes, inputOf) => {
    const { key } = await newKey(accountA, { scopes: scopes ?? undefined });
    const before = await snapshot(key.id);
    const count = await auditCount();
    expect(await elevateApiKey(accountA, key.id, inputOf(), DASHBOARD, at(HOUR))).toEqual(refused("BAD_REQUEST"));
    expect(await snapshot(key.id)).toEqual(before);
    expect(await auditCount()).toBe(count);
  });

  it.each(["read", "read_write"] as const)("a legacy read key can be elevated on GraphQL to read / write, not to %s twice", async (second) => {
    const legacy = await newLegacyKey(accountA, "read");
    unwrap(await elevateApiKey(accountA, legacy.id, elevation(GRAPHQL, "read_write"), DASHBOARD, at(HOUR)));
    expect(await elevateApiKey(accountA, legacy.id, elevation(GRAPHQL, second), DASHBOARD, at(HOUR))).toEqual(refused(second === "read" ? "BAD_REQUEST" : "CONFLICT"));
  });

  it("a second elevation of the same target while one is in force is CONFLICT and writes nothing; another target is fine", async () => {
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read", "1h"), at(HOUR));
    const before = await snapshot(key.id);
    const count = await auditCount();
    for (const [input, now] of [
      [elevation(GRAPHQL, "read", "1h"), at(HOUR)],
      [elevation(GRAPHQL, "read_write", "24h", "other reason"), at(HOUR + 30 * MINUTE)],
      // Its last millisecond in force.
      [elevation(GRAPHQL, "read", "15m"), at(2 * HOUR - 1)],
    ] as const) {
      expect(await elevateApiKey(accountA, key.id, input, DASHBOARD, now)).toEqual(refused("CONFLICT"));
    }
    expect(await snapshot(key.id)).toEqual(before);
    expect(await auditCount()).toBe(count);

    const dto = unwrap(await elevateApiKey(accountA, key.id, elevation(ALL_ENDPOINTS, "read_write"), DASHBOARD, at(HOUR + 1)));
    expect(dto.elevations.map((e) => e.target)).toEqual(["graphql", "endpoints"]);
  });

  it("a new elevation of the target is allowed once the first has been ended by hand", async () => {
    const { key } = await newKey(accountA);
    const first = await elevate(accountA, key.id, elevation(GRAPHQL, "read", "4h"), at(HOUR));
    unwrap(await endElevation(accountA, key.id, first, DASHBOARD, at(2 * HOUR)));
    const dto = unwrap(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read_write"), DASHBOARD, at(2 * HOUR)));
    expect(dto.elevations).toEqual([expect.objectContaining({ level: "read_write", createdAt: at(2 * HOUR) })]);
    expect(await elevationRows(key.id)).toHaveLength(2);
  });

  it("a new elevation of the target is allowed from the first one's end on, without anything having run", async () => {
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read", "15m"), at(HOUR));
    const dto = unwrap(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read"), DASHBOARD, at(HOUR + 15 * MINUTE)));
    expect(dto.elevations).toEqual([expect.objectContaining({ createdAt: at(HOUR + 15 * MINUTE) })]);
    // The first one is over but its end is not yet in the audit log.
    expect((await elevationRows(key.id)).map((row) => [row.ended_at, row.end_recorded])).toEqual([
      [null, 0],
      [null, 0],
    ]);
  });

  it.each<[string, () => ElevationInput]>([
    ["another account's endpoint", () => elevation(endpointTarget(endpointB1), "read")],
    ["an unknown endpoint", () => elevation(endpointTarget("nosuchendpoint00"), "read")],
  ])("refuses %s and writes nothing", async (_label, inputOf) => {
    const { key } = await newKey(accountA);
    const [stateA, stateB] = [await accountState(accountA), await accountState(accountB)];
    const count = await auditCount();
    expect(await elevateApiKey(accountA, key.id, inputOf(), DASHBOARD, at(HOUR))).toEqual(refused("BAD_REQUEST"));
    expect([await accountState(accountA), await accountState(accountB)]).toEqual([stateA, stateB]);
    expect(await auditCount()).toBe(count);
  });

  it("an unknown key is NOT_FOUND and writes nothing", async () => {
    const count = await auditCount();
    const elevations = await countRows("api_key_elevations");
    expect(await elevateApiKey(accountA, "key_nosuchkey00000", elevation(GRAPHQL, "read"), DASHBOARD, at(HOUR))).toEqual(refused("NOT_FOUND"));
    expect([await auditCount(), await countRows("api_key_elevations")]).toEqual([count, elevations]);
  });

  it("a conflicting elevation written between the check and the write: CONFLICT, one row, one entry", async () => {
    const { key } = await newKey(accountA);
    const count = await auditCount();
    // Another request elevates the same target at the worst moment.
    const restore = runJustBeforeNextBatch(
      "INSERT INTO api_key_elevations (id, account_id, key_id, target, endpoint_id, level, reason, created_at, ends_at) VALUES ('elv_racer', ?, ?, 'graphql', NULL, 'read', 'racer', ?, ?)",
      [accountA, key.id, T0 + HOUR, T0 + 2 * HOUR],
    );
    try {
      expect(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read_write"), DASHBOARD, at(HOUR))).toEqual(refused("CONFLICT"));
    } finally {
      await restore();
    }
    expect((await elevationRows(key.id)).map((row) => row.id)).toEqual(["elv_racer"]);
    expect(await auditCount()).toBe(count);
  });

  it("a key deleted between the check and the write: NOT_FOUND, no elevation, no entry", async () => {
    const { key } = await newKey(accountA);
    const count = await auditCount();
    const restore = runJustBeforeNextBatch("DELETE FROM api_keys WHERE id = ?", [key.id]);
    try {
      expect(await elevateApiKey(accountA, key.id, elevation(GRAPHQL, "read"), DASHBOARD, at(HOUR))).toEqual(refused("NOT_FOUND"));
    } finally {
      await restore();
    }
    expect(await elevationRows(key.id)).toEqual([]);
    expect(await auditCount()).toBe(count);
  });

  it("deleting the endpoint removes its elevations (and only those)", async () => {
    const endpoint = await newEndpoint(accountA, "short-lived");
    const { key } = await newKey(accountA, { scopes: { graphql: "none", endpointsAll: "none", endpoints: {} } });
    const other = await newKey(accountA, { scopes: { graphql: "none", endpointsAll: "none", endpoints: {} } });
    await elevate(accountA, key.id, elevation(endpointTarget(endpoint), "read"), at(HOUR));
    await elevate(accountA, other.key.id, elevation(endpointTarget(endpoint), "read_write"), at(HOUR));
    const kept = await elevate(accountA, key.id, elevation(GRAPHQL, "read"), at(HOUR));
    await elevate(accountA, key.id, elevation(endpointTarget(endpointA1), "read"), at(HOUR));
    expect(await countRows("api_key_elevations", "endpoint_id = ?", [endpoint])).toBe(2);

    unwrap(await deleteEndpoint(accountA, endpoint, DASHBOARD, at(2 * HOUR)));
    expect(await countRows("api_key_elevations", "endpoint_id = ?", [endpoint])).toBe(0);
    expect((await elevationRows(key.id)).map((row) => row.target).sort()).toEqual([`endpoint:${endpointA1}`, "graphql"].sort());
    expect((await getApiKey(accountA, key.id, at(HOUR + 1)))?.elevations.map((e) => e.id)).toContain(kept);
    expect(await elevationRows(other.key.id)).toEqual([]);
  });

  it("deleting the key removes its elevations", async () => {
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read"), at(HOUR));
    await elevate(accountA, key.id, elevation(endpointTarget(endpointA1), "read"), at(HOUR));
    unwrap(await deleteApiKey(accountA, key.id, DASHBOARD, at(2 * HOUR)));
    expect(await countRows("api_key_elevations", "key_id = ?", [key.id])).toBe(0);
  });

  it("the DTO lists only the elevations in force at its `now`, soonest end first", async () => {
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read", "24h"), at(HOUR));
    await elevate(accountA, key.id, elevation(ALL_ENDPOINTS, "read_write", "15m"), at(HOUR));
    const targetsAt = async (offset: number) => (await getApiKey(accountA, key.id, at(offset)))?.elevations.map((e) => e.target);
    expect(await targetsAt(HOUR)).toEqual(["endpoints", "graphql"]);
    expect(await targetsAt(HOUR + 15 * MINUTE)).toEqual(["graphql"]);
    expect(await targetsAt(HOUR + DAY)).toEqual([]);
    expect((await listApiKeys(accountA, at(HOUR))).find((k) => k.id === key.id)?.elevations.map((e) => e.target)).toEqual(["endpoints", "graphql"]);
  });
});

describe("endElevation", () => {
  it("ends it now: ended_at set, end recorded, one manual entry; the key's other elevations stay", async () => {
    const { key } = await newKey(accountA, { name: "ended key" });
    const ended = await elevate(accountA, key.id, elevation(endpointTarget(endpointA1), "read_write", "4h", "hotfix"), at(HOUR));
    const kept = await elevate(accountA, key.id, elevation(GRAPHQL, "read", "24h"), at(HOUR));
    const before = await snapshot(key.id);
    const now = at(2 * HOUR);

    const [result, entries] = await audited(() => endElevation(accountA, key.id, ended, DASHBOARD, now));
    expect(unwrap(result).elevations.map((e) => e.id)).toEqual([kept]);
    expect(await snapshot(key.id)).toEqual({
      ...before,
      elevations: before.elevations.map((row) => (row.id === ended ? { ...row, ended_at: now.getTime(), end_recorded: 1 } : row)),
    });
    expect(entries).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "api_key.elevation_ended",
        target_type: "api_key",
        target_id: key.id,
        target_name: "ended key",
        details: {
          target: `endpoint:${endpointA1}`,
          targetName: "a-one",
          level: "read_write",
          reason: "hotfix",
          endsAt: T0 + 5 * HOUR,
          endedAt: now.getTime(),
          cause: "manual",
        },
        actor: { type: "dashboard" },
      },
    ]);
  });

  it.each<[string, (keyId: string, elevationId: string) => Promise<[string, Date]>]>([
    ["already ended by hand", async (keyId, id) => {
      unwrap(await endElevation(accountA, keyId, id, DASHBOARD, at(90 * MINUTE)));
      return [id, at(2 * HOUR)];
    }],
    ["already over by time", async (_keyId, id) => [id, at(2 * HOUR)]],
    ["an unknown id", async () => ["elv_nosuchelevation", at(90 * MINUTE)]],
    ["another key's elevation, named with this key", async () => {
      const { key: other } = await newKey(accountA);
      return [await elevate(accountA, other.id, elevation(GRAPHQL, "read"), at(HOUR)), at(90 * MINUTE)];
    }],
  ])("refuses %s with NOT_FOUND and changes nothing", async (_label, setup) => {
    const { key } = await newKey(accountA);
    const id = await elevate(accountA, key.id, elevation(GRAPHQL, "read", "1h"), at(HOUR));
    const [target, now] = await setup(key.id, id);
    const [stateA, count] = [await accountState(accountA), await auditCount()];
    expect(await endElevation(accountA, key.id, target, DASHBOARD, now)).toEqual(refused("NOT_FOUND"));
    expect(await accountState(accountA)).toEqual(stateA);
    expect(await auditCount()).toBe(count);
  });

  it("an unknown key is NOT_FOUND", async () => {
    expect(await endElevation(accountA, "key_nosuchkey00000", "elv_nosuchelevation", DASHBOARD, at(0))).toEqual(refused("NOT_FOUND"));
  });
});

describe("recordLifecycleEnds", () => {
  // It looks at every account's keys: each test checks the entries of its own keys, and that the
  // count it returns is what it wrote.
  async function recorded(now: Date): Promise<[number, AuditRow[]]> {
    const [count, entries] = await audited(() => recordLifecycleEnds(now));
    expect(entries).toHaveLength(count);
    return [count, entries];
  }
  const about = (entries: AuditRow[], keyId: string) => entries.filter((entry) => entry.target_id === keyId);

  it("records an elevation that ran out once, at its end, by the system", async () => {
    const { key } = await newKey(accountA, { name: "timed" });
    const id = await elevate(accountA, key.id, elevation(ALL_ENDPOINTS, "read_write", "15m", "batch job"), at(HOUR));
    const endsAt = T0 + HOUR + 15 * MINUTE;

    // Not yet over one millisecond before its end.
    const [, early] = await recorded(new Date(endsAt - 1));
    expect(about(early, key.id)).toEqual([]);

    const [, entries] = await recorded(at(3 * HOUR));
    expect(about(entries, key.id)).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: endsAt,
        action: "api_key.elevation_ended",
        target_type: "api_key",
        target_id: key.id,
        target_name: "timed",
        details: { target: "endpoints", targetName: "All endpoints", level: "read_write", reason: "batch job", endsAt, endedAt: endsAt, cause: "time" },
        actor: { type: "system" },
      },
    ]);
    expect(await elevationRows(key.id)).toEqual([expect.objectContaining({ id, ended_at: null, end_recorded: 1 })]);

    const [, again] = await recorded(at(4 * HOUR));
    expect(about(again, key.id)).toEqual([]);
  });

  it("an elevation is over at its end exactly", async () => {
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read", "15m"), at(HOUR));
    const [, entries] = await recorded(at(HOUR + 15 * MINUTE));
    expect(about(entries, key.id)).toEqual([expect.objectContaining({ action: "api_key.elevation_ended", created_at: T0 + HOUR + 15 * MINUTE })]);
  });

  it.each<[GraceChoice, number]>([
    ["1h", HOUR],
    ["first_use", 7 * DAY],
  ])("records a %s grace period that ran out once, at its end, and clears the previous secret", async (grace, graceMs) => {
    const { key } = await newKey(accountA, { name: `grace ${grace}` });
    const { plaintext } = await roll(accountA, key.id, grace, at(HOUR));
    const before = await snapshot(key.id);
    const validUntil = T0 + HOUR + graceMs;

    const [, early] = await recorded(new Date(validUntil - 1));
    expect(about(early, key.id)).toEqual([]);
    expect(await snapshot(key.id)).toEqual(before);

    const [, entries] = await recorded(new Date(validUntil + DAY));
    expect(about(entries, key.id)).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: validUntil,
        action: "api_key.previous_expired",
        target_type: "api_key",
        target_id: key.id,
        target_name: `grace ${grace}`,
        details: { validUntil, cause: "time" },
        actor: { type: "system" },
      },
    ]);
    expect(await snapshot(key.id)).toEqual({
      ...before,
      key: { ...before.key, key_hash: hashKey(plaintext), previous_key_hash: null, previous_hint: null, previous_valid_until: null, previous_until_first_use: 0 },
    });

    const [, again] = await recorded(new Date(validUntil + 2 * DAY));
    expect(about(again, key.id)).toEqual([]);
  });

  it("does not record again what was ended by hand, or a grace period expired by hand", async () => {
    const { key } = await newKey(accountA);
    const id = await elevate(accountA, key.id, elevation(GRAPHQL, "read", "15m"), at(HOUR));
    unwrap(await endElevation(accountA, key.id, id, DASHBOARD, at(HOUR + MINUTE)));
    await roll(accountA, key.id, "1h", at(HOUR));
    unwrap(await expirePreviousKey(accountA, key.id, DASHBOARD, at(HOUR + MINUTE)));
    const [, entries] = await recorded(at(DAY));
    expect(about(entries, key.id)).toEqual([]);
  });

  it("two calls at once record each end once", async () => {
    const keys = await Promise.all([newKey(accountA), newKey(accountA), newKey(accountB)]);
    for (const { key } of keys) {
      const account = key === keys[2]?.key ? accountB : accountA;
      await elevate(account, key.id, elevation(GRAPHQL, "read", "15m"), at(HOUR));
      await roll(account, key.id, "1h", at(HOUR));
    }
    const [[first, second], entries] = await audited(() => Promise.all([recordLifecycleEnds(at(DAY)), recordLifecycleEnds(at(DAY))]));
    expect(first + second).toBe(entries.length);
    for (const { key } of keys) {
      expect(about(entries, key.id).map((entry) => entry.action).sort()).toEqual(["api_key.elevation_ended", "api_key.previous_expired"]);
    }
    expect(entries.filter((entry) => entry.account_id === accountB).map((entry) => entry.target_id)).toEqual([keys[2]?.key.id, keys[2]?.key.id]);
  });

  it("a call from a second handle (as another process) at the same time records each end once", async () => {
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read", "15m"), at(HOUR));
    await roll(accountA, key.id, "1h", at(HOUR));
    const second = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 5_000 });
    let secondCommits = 0;
    second.onCommittedWrite(() => {
      secondCommits += 1;
    });
    try {
      const [[one, other], entries] = await audited(() => Promise.all([recordLifecycleEnds(at(DAY)), onHandle(second, () => recordLifecycleEnds(at(DAY)))]));
      expect(one + other).toBe(entries.length);
      expect(about(entries, key.id).map((entry) => entry.action).sort()).toEqual(["api_key.elevation_ended", "api_key.previous_expired"]);
      // The second call did run on the second handle.
      expect(secondCommits).toBeGreaterThan(0);
    } finally {
      second.close();
    }
  });

  it("when nothing has ended it returns 0, writes nothing and takes no write lock", async () => {
    const now = at(400 * DAY);
    await recordLifecycleEnds(now);
    // Running, not over: an elevation and a grace period ending after `now`.
    const { key } = await newKey(accountA);
    await elevate(accountA, key.id, elevation(GRAPHQL, "read", "24h"), new Date(now.getTime() - HOUR));
    await roll(accountA, key.id, "7d", new Date(now.getTime() - HOUR));
    const everything = async () => ({ audit: await rawRows("SELECT * FROM audit_log ORDER BY id"), keys: await rawRows("SELECT * FROM api_keys ORDER BY id"), elevations: await rawRows("SELECT * FROM api_key_elevations ORDER BY id") });
    const before = await everything();
    const client = (await getDb()).$client;
    const batch = vi.spyOn(client, "batch");
    try {
      expect(await recordLifecycleEnds(now)).toBe(0);
      expect(batch).not.toHaveBeenCalled();
    } finally {
      batch.mockRestore();
    }
    expect(await everything()).toEqual(before);
  });
});

/**
 * Runs `call` with `handle` as the process's database handle: the DAL takes its handle
 * synchronously when called, so only that call uses it.
 */
function onHandle<T>(handle: DatabaseHandle, call: () => Promise<T>): Promise<T> {
  const globalForDb = globalThis as unknown as { keyscopeDb?: { url: string; handle: DatabaseHandle; ready: Promise<void> } };
  const own = globalForDb.keyscopeDb;
  if (!own) throw new Error("the test's handle is not open");
  globalForDb.keyscopeDb = { url: own.url, handle, ready: Promise.resolve() };
  try {
    return call();
  } finally {
    globalForDb.keyscopeDb = own;
  }
}

describe("listAuditLog reads every lifecycle entry", () => {
  it("parses each new action with its details and actor, none as unknown", async () => {
    const account = await newAccount("log");
    const endpoint = await newEndpoint(account, "logged");
    const { key } = await newKey(account, { name: "logged key", scopes: { graphql: "none", endpointsAll: "none", endpoints: {} } });
    unwrap(await setApiKeyExpiration(account, key.id, at(30 * DAY), DASHBOARD, at(MINUTE)));
    await roll(account, key.id, "24h", at(2 * MINUTE));
    unwrap(await expirePreviousKey(account, key.id, DASHBOARD, at(3 * MINUTE)));
    await roll(account, key.id, "first_use", at(4 * MINUTE));
    await endGraceOnFirstUse(key.id, T0 + 5 * MINUTE);
    await roll(account, key.id, "1h", at(6 * MINUTE));
    const manual = await elevate(account, key.id, elevation(endpointTarget(endpoint), "read", "1h", "check logs"), at(7 * MINUTE));
    unwrap(await endElevation(account, key.id, manual, DASHBOARD, at(8 * MINUTE)));
    await elevate(account, key.id, elevation(GRAPHQL, "read_write", "15m", "migration"), at(9 * MINUTE));
    await recordLifecycleEnds(at(2 * HOUR));

    const { entries } = await listAuditLog(account, { page: 1 });
    expect(entries.map((entry) => [entry.action, entry.createdAt.getTime() - T0])).toEqual([
      // Newest first; the ends noticed later sit at the time they happened.
      ["api_key.previous_expired", 6 * MINUTE + HOUR],
      ["api_key.elevation_ended", 24 * MINUTE],
      ["api_key.elevated", 9 * MINUTE],
      ["api_key.elevation_ended", 8 * MINUTE],
      ["api_key.elevated", 7 * MINUTE],
      ["api_key.rolled", 6 * MINUTE],
      ["api_key.previous_expired", 5 * MINUTE],
      ["api_key.rolled", 4 * MINUTE],
      ["api_key.previous_expired", 3 * MINUTE],
      ["api_key.rolled", 2 * MINUTE],
      ["api_key.expiration_changed", MINUTE],
      ["api_key.created", 0],
      ["endpoint.created", 0],
    ]);
    const byTime = (offset: number, action: string) => entries.find((entry) => entry.createdAt.getTime() === T0 + offset && entry.action === action);
    expect(byTime(MINUTE, "api_key.expiration_changed")).toMatchObject({ details: { kind: "scoped", before: null, after: T0 + 30 * DAY }, actor: { type: "dashboard" } });
    expect(byTime(2 * MINUTE, "api_key.rolled")).toMatchObject({
      details: { fromKind: "scoped", grace: "24h", previousValidUntil: T0 + 2 * MINUTE + DAY, untilFirstUse: false, endedEarlierGrace: false, leaked: false },
    });
    expect(byTime(3 * MINUTE, "api_key.previous_expired")).toMatchObject({ details: { validUntil: T0 + 3 * MINUTE, cause: "manual" }, actor: { type: "dashboard" } });
    expect(byTime(5 * MINUTE, "api_key.previous_expired")).toMatchObject({ details: { validUntil: T0 + 5 * MINUTE, cause: "first_use" }, actor: { type: "system" } });
    expect(byTime(6 * MINUTE + HOUR, "api_key.previous_expired")).toMatchObject({ details: { validUntil: T0 + 6 * MINUTE + HOUR, cause: "time" }, actor: { type: "system" } });
    expect(byTime(7 * MINUTE, "api_key.elevated")).toMatchObject({
      details: { target: `endpoint:${endpoint}`, targetName: "logged", level: "read", reason: "check logs", endsAt: T0 + 67 * MINUTE },
    });
    expect(byTime(8 * MINUTE, "api_key.elevation_ended")).toMatchObject({ details: { cause: "manual", endedAt: T0 + 8 * MINUTE }, actor: { type: "dashboard" } });
    expect(byTime(24 * MINUTE, "api_key.elevation_ended")).toMatchObject({
      details: { target: "graphql", targetName: "GraphQL", level: "read_write", reason: "migration", cause: "time", endedAt: T0 + 24 * MINUTE },
      actor: { type: "system" },
      target: { type: "api_key", id: key.id, name: "logged key" },
    });
  });
});

describe("cross-account denial: account B on account A's key", () => {
  let keyB = "";

  beforeAll(async () => {
    keyB = (await newKey(accountB, { name: "b's own key" })).key.id;
  });

  // Each case runs against a fresh key of A's with an override, an expiry, a grace period running
  // and an elevation in force, and must leave A's rows (and B's) byte-for-byte as they were.
  it.each<[string, (keyId: string, elevationId: string) => Promise<unknown>, unknown]>([
    ["setApiKeyExpiration to a date", (keyId) => setApiKeyExpiration(accountB, keyId, at(400 * DAY), DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["setApiKeyExpiration to none", (keyId) => setApiKeyExpiration(accountB, keyId, null, DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ...GRACE_IDS.map((grace): [string, (keyId: string) => Promise<unknown>, unknown] => [
      `rollApiKey (${grace})`,
      (keyId) => rollApiKey(accountB, keyId, grace, DASHBOARD, at(2 * HOUR)),
      refused("NOT_FOUND"),
    ]),
    ["expirePreviousKey", (keyId) => expirePreviousKey(accountB, keyId, DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["elevateApiKey on GraphQL", (keyId) => elevateApiKey(accountB, keyId, elevation(GRAPHQL, "read_write"), DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["elevateApiKey on B's endpoint", (keyId) => elevateApiKey(accountB, keyId, elevation(endpointTarget(endpointB1), "read"), DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["elevateApiKey on A's endpoint", (keyId) => elevateApiKey(accountB, keyId, elevation(endpointTarget(endpointA1), "read"), DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["elevateApiKey of B's own key on A's endpoint", () => elevateApiKey(accountB, keyB, elevation(endpointTarget(endpointA1), "read"), DASHBOARD, at(2 * HOUR)), refused("BAD_REQUEST")],
    ["endElevation of A's elevation on A's key", (keyId, id) => endElevation(accountB, keyId, id, DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["endElevation of A's elevation named with B's key", (_keyId, id) => endElevation(accountB, keyB, id, DASHBOARD, at(2 * HOUR)), refused("NOT_FOUND")],
    ["getApiKey", (keyId) => getApiKey(accountB, keyId, at(2 * HOUR)), null],
  ])("%s is denied and nothing changes", async (_label, attempt, expected) => {
    const { key } = await newKey(accountA, { expiresAt: at(90 * DAY) });
    const elevationId = await elevate(accountA, key.id, elevation(GRAPHQL, "read", "24h"), at(HOUR));
    await roll(accountA, key.id, "24h", at(HOUR));
    const [stateA, stateB, count] = [await accountState(accountA), await accountState(accountB), await auditCount()];
    const dto = await getApiKey(accountA, key.id, at(2 * HOUR));

    expect(await attempt(key.id, elevationId)).toEqual(expected);

    expect(await accountState(accountA)).toEqual(stateA);
    expect(await accountState(accountB)).toEqual(stateB);
    expect(await auditCount()).toBe(count);
    expect(await getApiKey(accountA, key.id, at(2 * HOUR))).toEqual(dto);
  });

  it("B's list shows none of A's keys, elevations or previous secrets", async () => {
    const listed = await listApiKeys(accountB, at(2 * HOUR));
    const idsOfA = new Set((await rawRows("SELECT id FROM api_keys WHERE account_id = ?", [accountA])).map((row) => String(row.id)));
    expect(listed.filter((dto) => idsOfA.has(dto.id))).toEqual([]);
    const elevationsOfA = new Set((await rawRows("SELECT id FROM api_key_elevations WHERE account_id = ?", [accountA])).map((row) => String(row.id)));
    expect(elevationsOfA.size).toBeGreaterThan(0);
    expect(listed.flatMap((dto: ApiKeyDto) => dto.elevations).filter((e) => elevationsOfA.has(e.id))).toEqual([]);
  });
});

describe("database state", () => {
  it("nothing in this file left a dangling reference", async () => {
    expect(await rawRows("PRAGMA foreign_key_check")).toEqual([]);
  });

  it("no DTO or audit entry of this file carried a secret (checked as they were read); the audit log holds none", async () => {
    expect(secrets.length).toBeGreaterThan(50);
    const audit = JSON.stringify(await rawRows("SELECT * FROM audit_log"));
    for (const secret of secrets) expect(audit).not.toContain(secret);
    expectNoSecrets(await listApiKeys(accountA, at(2 * HOUR)));
  });
});
