import "server-only";
import { and, desc, eq, gt, inArray, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import { getDb, type Database } from "@/db/handle";
import { apiKeyElevations, apiKeyEndpointScopes, apiKeys, auditLog, endpoints, users } from "@/db/schema";
import { formatDisplayHint, type KeyKind } from "@/lib/core/keys/format";
import { generateScopedKey } from "@/lib/core/keys/generate";
import { hashKey } from "@/lib/core/keys/hash";
import { normalizeScopes, scopesForLegacyPermission, type KeyScopes } from "@/lib/core/scopes/evaluate";
import type { LegacyPermission, RequiredLevel } from "@/lib/core/scopes/levels";
import { normalizeName } from "@/lib/core/names";
import { storedRestrictions, type Restrictions } from "@/lib/core/restrictions/restrictions";
import type { SuggestionWindow } from "@/lib/core/usage/suggest";
import { checkKeyLifetime, needsGraphqlApproval } from "@/lib/core/teams/policies";
import { actorJson, auditSelection, outer, requestedScopesJson, storedScopesJson, type AuditAction, type AuditActor } from "./audit-log";
import { newId } from "./ids";
import { approvalRequestWrites, policyContext } from "./policies";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

/** What the dashboard sees of a key: never its hash, never its plaintext. */
export type ApiKeyDto = {
  id: string;
  name: string;
  kind: KeyKind;
  hint: string;
  enabled: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
  scopes: KeyScopes;
  /** SPEC §8: null when the key never expires. */
  expiresAt: Date | null;
  /** The secret before the last roll while it still verifies (its grace period), else null. */
  previous: { hint: string; validUntil: Date; untilFirstUse: boolean } | null;
  /** Elevations in force when read, soonest end first. */
  elevations: ElevationDto[];
  /** SPEC §9: the last leak report that named this key (lib/dal/leaks.ts), else null. */
  leak: { at: Date; url: string; source: string; dismissed: boolean } | null;
  /** SPEC §9: the allowlist (null: any address) and rate limit (null: none), lib/dal/key-restrictions.ts. */
  restrictions: Restrictions;
  /** SPEC §11 `Created by`: the member who created the key; null for an imported key (or once that user is gone). */
  createdBy: { userId: string; email: string } | null;
};

/** A time-boxed elevation (SPEC §8); `target` is `graphql`, `endpoints` or `endpoint:<id>`. */
export type ElevationDto = {
  id: string;
  target: string;
  /** `GraphQL`, `All endpoints`, or the endpoint's name. */
  targetName: string;
  level: RequiredLevel;
  reason: string;
  createdAt: Date;
  endsAt: Date;
};

const keyColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  kind: apiKeys.kind,
  hint: apiKeys.hint,
  enabled: apiKeys.enabled,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  graphqlLevel: apiKeys.graphqlLevel,
  endpointsAllLevel: apiKeys.endpointsAllLevel,
  expiresAt: apiKeys.expiresAt,
  previousKeyHash: apiKeys.previousKeyHash,
  previousHint: apiKeys.previousHint,
  previousValidUntil: apiKeys.previousValidUntil,
  previousUntilFirstUse: apiKeys.previousUntilFirstUse,
  leakedAt: apiKeys.leakedAt,
  leakUrl: apiKeys.leakUrl,
  leakSource: apiKeys.leakSource,
  leakDismissedAt: apiKeys.leakDismissedAt,
  allowedIps: apiKeys.allowedIps,
  rateLimit: apiKeys.rateLimit,
  rateLimitPer: apiKeys.rateLimitPer,
  createdBy: apiKeys.createdBy,
};

// With the creator's email (a left join on users: a key's creator may be gone, or none).
const keyListColumns = { ...keyColumns, createdByEmail: users.email };

type KeyRow = { [K in keyof typeof keyColumns]: (typeof apiKeys.$inferSelect)[K] } & { createdByEmail: string | null };

const NOT_FOUND = "API key not found.";

function toDto(row: KeyRow, overrides: KeyScopes["endpoints"], elevations: ElevationDto[], now: Date): ApiKeyDto {
  const { graphqlLevel, endpointsAllLevel, previousKeyHash, previousHint, previousValidUntil, previousUntilFirstUse, ...rest } = row;
  const { leakedAt, leakUrl, leakSource, leakDismissedAt, allowedIps, rateLimit, rateLimitPer, createdBy: creatorId, createdByEmail, ...fields } = rest;
  const createdBy = creatorId !== null && createdByEmail !== null ? { userId: creatorId, email: createdByEmail } : null;
  const leak = leakedAt === null ? null : { at: leakedAt, url: leakUrl ?? "", source: leakSource ?? "", dismissed: leakDismissedAt !== null };
  const restrictions = storedRestrictions(allowedIps, rateLimit, rateLimitPer);
  // A grace period that has ended but is not yet cleared (lib/dal/key-lifecycle.ts) is over all the same.
  const previous =
    previousKeyHash !== null && previousHint !== null && previousValidUntil !== null && previousValidUntil.getTime() > now.getTime()
      ? { hint: previousHint, validUntil: previousValidUntil, untilFirstUse: previousUntilFirstUse }
      : null;
  return { ...fields, scopes: { graphql: graphqlLevel, endpointsAll: endpointsAllLevel, endpoints: overrides }, previous, elevations, leak, restrictions, createdBy };
}

/** The elevations in force at `now` of the account's keys `keyIds`, by key. */
export async function loadElevations(accountId: string, keyIds: string[], now: Date): Promise<Map<string, ElevationDto[]>> {
  const byKey = new Map<string, ElevationDto[]>(keyIds.map((id) => [id, []]));
  if (keyIds.length === 0) return byKey;
  const db = await getDb();
  const rows = await db
    .select({
      id: apiKeyElevations.id,
      keyId: apiKeyElevations.keyId,
      target: apiKeyElevations.target,
      endpointName: endpoints.name,
      level: apiKeyElevations.level,
      reason: apiKeyElevations.reason,
      createdAt: apiKeyElevations.createdAt,
      endsAt: apiKeyElevations.endsAt,
    })
    .from(apiKeyElevations)
    .leftJoin(endpoints, and(eq(endpoints.accountId, apiKeyElevations.accountId), eq(endpoints.id, apiKeyElevations.endpointId)))
    .where(
      and(
        eq(apiKeyElevations.accountId, accountId),
        inArray(apiKeyElevations.keyId, keyIds),
        isNull(apiKeyElevations.endedAt),
        gt(apiKeyElevations.endsAt, now),
      ),
    )
    .orderBy(apiKeyElevations.endsAt, apiKeyElevations.id);
  for (const { keyId, endpointName, ...row } of rows) {
    byKey.get(keyId)?.push({ ...row, targetName: elevationTargetName(row.target, endpointName) });
  }
  return byKey;
}

export function elevationTargetName(target: string, endpointName: string | null): string {
  if (target === "graphql") return "GraphQL";
  if (target === "endpoints") return "All endpoints";
  return endpointName ?? target.slice("endpoint:".length);
}

async function loadOverrides(accountId: string, keyIds: string[]): Promise<Map<string, KeyScopes["endpoints"]>> {
  const byKey = new Map<string, KeyScopes["endpoints"]>(keyIds.map((id) => [id, {}]));
  if (keyIds.length === 0) return byKey;
  const db = await getDb();
  const rows = await db
    .select({ keyId: apiKeyEndpointScopes.keyId, endpointId: apiKeyEndpointScopes.endpointId, level: apiKeyEndpointScopes.level })
    .from(apiKeyEndpointScopes)
    .where(and(eq(apiKeyEndpointScopes.accountId, accountId), inArray(apiKeyEndpointScopes.keyId, keyIds)));
  for (const row of rows) {
    const overrides = byKey.get(row.keyId);
    if (overrides) overrides[row.endpointId] = row.level;
  }
  return byKey;
}

async function accountEndpointIds(accountId: string): Promise<Set<string>> {
  const db = await getDb();
  const rows = await db.select({ id: endpoints.id }).from(endpoints).where(eq(endpoints.accountId, accountId));
  return new Set(rows.map((row) => row.id));
}

async function validateScopes(accountId: string, input: unknown): Promise<DalResult<KeyScopes>> {
  const normalized = normalizeScopes(input, await accountEndpointIds(accountId));
  return normalized.ok ? ok(normalized.scopes) : fail("BAD_REQUEST", normalized.reason);
}

// A composite foreign key refuses an override whose endpoint was deleted (or whose key was)
// between validation and the write; the whole batch then rolls back.
function isForeignKeyFailure(error: unknown): boolean {
  return error instanceof Error && /FOREIGN KEY constraint failed/i.test(`${error.message} ${String(error.cause ?? "")}`);
}

/**
 * `INSERT INTO audit_log … SELECT` over the account's key `keyId`, for the same write batch as
 * the change: no entry unless the key is there (and `where` holds) at that point of the batch.
 */
export function auditKey(
  db: Database,
  now: Date,
  actor: AuditActor,
  action: AuditAction,
  accountId: string,
  keyId: string,
  details: SQL<string>,
  where?: SQL,
) {
  return db.insert(auditLog).select(
    db
      .select(
        auditSelection(now, action, "api_key", {
          accountId: apiKeys.accountId,
          targetId: apiKeys.id,
          targetName: apiKeys.name,
          details,
          actor: actorJson(accountId, actor),
        }),
      )
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId), where)),
  );
}

export async function listApiKeys(accountId: string, now = new Date()): Promise<ApiKeyDto[]> {
  const db = await getDb();
  const rows = await db
    .select(keyListColumns)
    .from(apiKeys)
    .leftJoin(users, eq(users.id, apiKeys.createdBy))
    .where(eq(apiKeys.accountId, accountId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  const ids = rows.map((row) => row.id);
  const [overrides, elevations] = await Promise.all([loadOverrides(accountId, ids), loadElevations(accountId, ids, now)]);
  return rows.map((row) => toDto(row, overrides.get(row.id) ?? {}, elevations.get(row.id) ?? [], now));
}

export async function getApiKey(accountId: string, keyId: string, now = new Date()): Promise<ApiKeyDto | null> {
  const db = await getDb();
  const [row] = await db
    .select(keyListColumns)
    .from(apiKeys)
    .leftJoin(users, eq(users.id, apiKeys.createdBy))
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId)))
    .limit(1);
  if (!row) return null;
  const [overrides, elevations] = await Promise.all([loadOverrides(accountId, [row.id]), loadElevations(accountId, [row.id], now)]);
  return toDto(row, overrides.get(row.id) ?? {}, elevations.get(row.id) ?? [], now);
}

/**
 * Who created the team's key `keyId` (null: imported, or that user is gone), or null when the team
 * has no such key: what lib/action-result.ts keyAction decides a member's change by (canChangeKey).
 */
export async function findKeyCreator(accountId: string, keyId: string): Promise<{ createdBy: string | null } | null> {
  const db = await getDb();
  const [row] = await db
    .select({ createdBy: apiKeys.createdBy })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId)))
    .limit(1);
  return row ?? null;
}

/** The user a dashboard actor names (SPEC §11): the creator of a key it creates. */
export function actorUserId(actor: AuditActor): string | null {
  return actor.type === "dashboard" ? (actor.userId ?? null) : null;
}

function overrideRows(accountId: string, keyId: string, scopes: KeyScopes) {
  return Object.entries(scopes.endpoints).map(([endpointId, level]) => ({ accountId, keyId, endpointId, level }));
}

/**
 * Creates a scoped key. The plaintext is in the result only: it is not stored or logged, and
 * no later call can return it. The key row and all its overrides commit together. The name is
 * stored as lib/core/names.ts normalises it, or refused. A dashboard actor's user is its creator.
 */
export async function createScopedApiKey(
  accountId: string,
  input: { name: string; scopes: unknown; expiresAt?: Date | null },
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<{ key: ApiKeyDto; plaintext: string; pendingApproval?: true }>> {
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > now.getTime())) return fail("BAD_REQUEST", "The expiry must be in the future.");
  const name = normalizeName(input.name);
  if (!name.ok) return fail("BAD_REQUEST", name.message);
  const asked = await validateScopes(accountId, input.scopes);
  if (!asked.ok) return asked;
  // SPEC §11: the team's `Maximum key lifetime`, and a Member's GraphQL `Read / Write` waiting
  // for approval under its policy: the key gets the rest now, and GraphQL `None` until then.
  const { policies, requester } = await policyContext(accountId, actor);
  const lifetime = checkKeyLifetime(expiresAt, policies.maxKeyLifetimeDays, now);
  if (!lifetime.ok) return fail("BAD_REQUEST", lifetime.message);
  const pending = requester !== null && needsGraphqlApproval(policies, requester.role, asked.value.graphql, "none");
  const scopes = pending ? ok<KeyScopes>({ ...asked.value, graphql: "none" }) : asked;
  if (!scopes.ok) return scopes;
  const db = await getDb();
  const creatorId = actorUserId(actor);
  const [creator] = creatorId === null ? [] : await db.select({ userId: users.id, email: users.email }).from(users).where(eq(users.id, creatorId)).limit(1);
  const plaintext = generateScopedKey();
  const id = `key_${newId()}`;
  const row = {
    id,
    accountId,
    name: name.name,
    kind: "scoped" as const,
    keyHash: hashKey(plaintext),
    hint: formatDisplayHint(plaintext, "scoped"),
    enabled: true,
    graphqlLevel: scopes.value.graphql,
    endpointsAllLevel: scopes.value.endpointsAll,
    createdAt: now,
    expiresAt,
    createdBy: creatorId,
  };
  const overrides = overrideRows(accountId, id, scopes.value);
  try {
    await runWriteBatch(db, [
      db.insert(apiKeys).values(row),
      ...(overrides.length > 0 ? [db.insert(apiKeyEndpointScopes).values(overrides)] : []),
      // After the inserts: the entry records the scopes as written, with endpoint names.
      auditKey(db, now, actor, "api_key.created", accountId, id, sql<string>`json_object('kind', ${outer(apiKeys.kind)}, 'scopes', json(${storedScopesJson()}), 'expiresAt', ${outer(apiKeys.expiresAt)})`),
      ...(pending && requester ? approvalRequestWrites(db, { teamId: accountId, keyId: id, kind: "created", requester }, actor, now) : []),
    ]);
  } catch (error) {
    if (isForeignKeyFailure(error)) return fail("BAD_REQUEST", "An endpoint in these scopes no longer exists.");
    throw error;
  }
  const key: ApiKeyDto = {
    id,
    name: row.name,
    kind: "scoped",
    hint: row.hint,
    enabled: true,
    createdAt: now,
    lastUsedAt: null,
    scopes: scopes.value,
    expiresAt,
    previous: null,
    elevations: [],
    leak: null,
    restrictions: { allowedIps: null, rateLimit: null },
    createdBy: creator ?? null,
  };
  return ok({ key, plaintext, ...(pending ? { pendingApproval: true as const } : {}) });
}

/** Switching to the state a key already has succeeds and records nothing: nothing changed. */
export async function setApiKeyEnabled(
  accountId: string,
  keyId: string,
  enabled: boolean,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<{ id: string; enabled: boolean }>> {
  const db = await getDb();
  const [, updated] = await runWriteBatch(db, [
    // Before the update, to see the state it changes from.
    auditKey(db, now, actor, enabled ? "api_key.enabled" : "api_key.disabled", accountId, keyId, sql<string>`json_object('kind', ${outer(apiKeys.kind)})`, ne(apiKeys.enabled, enabled)),
    db
      .update(apiKeys)
      .set({ enabled })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId))),
  ]);
  return updated ? ok({ id: keyId, enabled }) : fail("NOT_FOUND", NOT_FOUND);
}

/** Where a scope change came from when not the scope editor, recorded in its audit entry: `Apply suggestion` (SPEC §10). */
export type ScopeChangeOrigin = { source: "suggestion"; basedOn: SuggestionWindow };

/** Replaces a scoped key's scopes as a whole. Legacy keys keep the permission they were imported with. */
export async function updateApiKeyScopes(
  accountId: string,
  keyId: string,
  input: unknown,
  actor: AuditActor,
  now = new Date(),
  origin?: ScopeChangeOrigin,
): Promise<DalResult<ApiKeyDto & { pendingApproval?: true }>> {
  const db = await getDb();
  const [existing] = await db
    .select({ kind: apiKeys.kind, graphqlLevel: apiKeys.graphqlLevel })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId)))
    .limit(1);
  if (!existing) return fail("NOT_FOUND", NOT_FOUND);
  if (existing.kind !== "scoped") return fail("BAD_REQUEST", "A legacy key's scopes cannot be edited.");
  const scopes = await validateScopes(accountId, input);
  if (!scopes.ok) return scopes;
  // SPEC §11: a Member asking for GraphQL `Read / Write` under the approval policy gets the rest
  // now; GraphQL keeps what it has until an owner or admin approves the request written below.
  const { policies, requester } = await policyContext(accountId, actor);
  const pending = requester !== null && needsGraphqlApproval(policies, requester.role, scopes.value.graphql, existing.graphqlLevel);
  const overrides = overrideRows(accountId, keyId, scopes.value);
  // Before the writes, so the entry reads what they replace; saving the same scopes records nothing.
  const before = storedScopesJson();
  const after = pending ? sql<string>`json_set(${requestedScopesJson(scopes.value)}, '$.graphql', ${outer(apiKeys.graphqlLevel)})` : requestedScopesJson(scopes.value);
  let updated: number[];
  try {
    [, ...updated] = await runWriteBatch(db, [
      auditKey(
        db,
        now,
        actor,
        "api_key.scopes_changed",
        accountId,
        keyId,
        origin
          ? sql<string>`json_object('before', json(${before}), 'after', json(${after}), 'source', ${origin.source}, 'basedOn', ${origin.basedOn})`
          : sql<string>`json_object('before', json(${before}), 'after', json(${after}))`,
        and(eq(apiKeys.kind, "scoped"), sql`${before} IS NOT ${after}`),
      ),
      db
        .update(apiKeys)
        .set(pending ? { endpointsAllLevel: scopes.value.endpointsAll } : { graphqlLevel: scopes.value.graphql, endpointsAllLevel: scopes.value.endpointsAll })
        .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId), eq(apiKeys.kind, "scoped"))),
      db
        .delete(apiKeyEndpointScopes)
        .where(and(eq(apiKeyEndpointScopes.keyId, keyId), eq(apiKeyEndpointScopes.accountId, accountId))),
      ...(overrides.length > 0 ? [db.insert(apiKeyEndpointScopes).values(overrides)] : []),
      // Last: the indices above stay as they were.
      ...(pending && requester ? approvalRequestWrites(db, { teamId: accountId, keyId, kind: "scopes_changed", requester }, actor, now) : []),
    ]);
  } catch (error) {
    if (isForeignKeyFailure(error)) return fail("NOT_FOUND", "The key or an endpoint in these scopes no longer exists.");
    throw error;
  }
  if (updated[0] === 0) return fail("NOT_FOUND", NOT_FOUND);
  const key = await getApiKey(accountId, keyId);
  if (!key) return fail("NOT_FOUND", NOT_FOUND);
  return ok(pending ? { ...key, pendingApproval: true as const } : key);
}

export async function deleteApiKey(accountId: string, keyId: string, actor: AuditActor, now = new Date()): Promise<DalResult<{ id: string }>> {
  const db = await getDb();
  const [, deleted] = await runWriteBatch(db, [
    auditKey(db, now, actor, "api_key.deleted", accountId, keyId, sql<string>`json_object('kind', ${outer(apiKeys.kind)})`),
    db.delete(apiKeys).where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId))),
  ]);
  return deleted ? ok({ id: keyId }) : fail("NOT_FOUND", NOT_FOUND);
}

/** `line` is where the entry came from, so that a refusal can point at it. */
export type LegacyKeyImport = { line: number; name: string; permission: LegacyPermission; keyHash: string; hint: string };

/**
 * Imports legacy keys all or nothing: one batch, refused whole if any hash is already known or
 * any name breaks the name rule (names are stored normalised).
 */
export async function importLegacyApiKeys(
  accountId: string,
  given: LegacyKeyImport[],
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<{ ids: string[] }>> {
  if (given.length === 0) return ok({ ids: [] });
  const entries: LegacyKeyImport[] = [];
  for (const entry of given) {
    const name = normalizeName(entry.name);
    if (!name.ok) return fail("BAD_REQUEST", `line ${entry.line}: ${name.message}`);
    entries.push({ ...entry, name: name.name });
  }
  const db = await getDb();
  const hashes = entries.map((entry) => entry.keyHash);
  // A secret still in its grace period after a roll is as taken as a current one.
  const known = await db
    .select({ keyHash: apiKeys.keyHash, previousKeyHash: apiKeys.previousKeyHash })
    .from(apiKeys)
    .where(or(inArray(apiKeys.keyHash, hashes), inArray(apiKeys.previousKeyHash, hashes)));
  if (known.length > 0) {
    const taken = new Set(known.flatMap((row) => [row.keyHash, row.previousKeyHash]));
    const clash = entries.find((entry) => taken.has(entry.keyHash));
    return fail("CONFLICT", `line ${clash?.line}: the key "${clash?.name}" already exists.`);
  }
  const rows = entries.map((entry) => {
    const scopes = scopesForLegacyPermission(entry.permission);
    return {
      id: `key_${newId()}`,
      accountId,
      name: entry.name,
      kind: "legacy" as const,
      keyHash: entry.keyHash,
      hint: entry.hint,
      enabled: true,
      graphqlLevel: scopes.graphql,
      endpointsAllLevel: scopes.endpointsAll,
      createdAt: now,
    };
  });
  try {
    await runWriteBatch(db, [
      db.insert(apiKeys).values(rows),
      // One entry per import, naming every key; it commits with the keys or not at all.
      db.insert(auditLog).values({
        accountId,
        createdAt: now,
        action: "api_key.legacy_imported",
        targetType: "api_key",
        targetId: null,
        targetName: null,
        details: JSON.stringify({
          count: rows.length,
          keys: rows.map((row, i) => ({ id: row.id, name: row.name, permission: entries[i]?.permission })),
        }),
        actor: actorJson(accountId, actor),
      }),
    ]);
  } catch (error) {
    if (error instanceof Error && /UNIQUE constraint failed/i.test(`${error.message} ${String(error.cause ?? "")}`)) {
      return fail("CONFLICT", "A key in this file already exists.");
    }
    throw error;
  }
  return ok({ ids: rows.map((row) => row.id) });
}
