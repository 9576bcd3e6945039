import "server-only";
import { and, eq, gt, isNotNull, isNull, lte, or, sql, type SQL } from "drizzle-orm";
import { getDb, type Database } from "@/db/handle";
import { apiKeyElevations, apiKeys, auditLog, endpoints } from "@/db/schema";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { generateScopedKey } from "@/lib/core/keys/generate";
import { hashKey } from "@/lib/core/keys/hash";
import {
  elevationEnd,
  elevationTargetKey,
  EXPIRING_SOON_MS,
  resolveGrace,
  type ElevationDuration,
  type ElevationTarget,
  type GraceChoice,
} from "@/lib/core/lifecycle/choices";
import { normalizeReason } from "@/lib/core/names";
import { resolveEndpointLevel } from "@/lib/core/scopes/evaluate";
import { higherLevel, LEVEL_LABELS, levelAllows, type AccessLevel, type RequiredLevel } from "@/lib/core/scopes/levels";
import { needsGraphqlApproval } from "@/lib/core/teams/policies";
import { actorUserId, auditKey, findKeyCreator, getApiKey, type ApiKeyDto } from "./api-keys";
import { actorJson, auditSelection, outer, type AuditActor } from "./audit-log";
import { newId } from "./ids";
import { approvalRequestWrites, checkExpiryPolicy, policyContext } from "./policies";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

// SPEC §8: a key's expiry, its rolls with a grace period for the secret before, and time-boxed
// elevations. Every change here is one write batch with its audit entry, scoped by account. The
// decisions themselves read these columns at request time (lib/core/verify/verifier.ts), so
// nothing here has to run when an expiry, a grace period or an elevation ends; what runs later
// (`recordLifecycleEnds`) only writes those ends into the audit log, and clears a spent secret.

const NOT_FOUND = "API key not found.";

function inAccount(accountId: string, keyId: string) {
  return and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId));
}

/** Sets (or clears, with null) a key's expiry, legacy keys included. Setting the same one records nothing. */
export async function setApiKeyExpiration(
  accountId: string,
  keyId: string,
  expiresAt: Date | null,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<ApiKeyDto>> {
  if (expiresAt !== null && !(expiresAt.getTime() > now.getTime())) return fail("BAD_REQUEST", "The expiry must be in the future.");
  // SPEC §11 `Maximum key lifetime`, whoever changes it; an unknown key is refused as such first.
  if (!(await findKeyCreator(accountId, keyId))) return fail("NOT_FOUND", NOT_FOUND);
  const lifetime = await checkExpiryPolicy(accountId, expiresAt, now);
  if (!lifetime.ok) return lifetime;
  const db = await getDb();
  const after = expiresAt?.getTime() ?? null;
  const [, updated] = await runWriteBatch(db, [
    // Before the update, to record what it replaces.
    auditKey(
      db,
      now,
      actor,
      "api_key.expiration_changed",
      accountId,
      keyId,
      sql<string>`json_object('kind', ${outer(apiKeys.kind)}, 'before', ${outer(apiKeys.expiresAt)}, 'after', ${after})`,
      sql`${apiKeys.expiresAt} IS NOT ${after}`,
    ),
    db
      .update(apiKeys)
      .set({
        expiresAt,
        // A different expiry is announced afresh: its "expiring" and "expired" events are sent again.
        expiringNotified: sql`CASE WHEN ${apiKeys.expiresAt} IS ${after} THEN ${apiKeys.expiringNotified} ELSE 0 END`,
        expiredNotified: sql`CASE WHEN ${apiKeys.expiresAt} IS ${after} THEN ${apiKeys.expiredNotified} ELSE 0 END`,
      })
      .where(inAccount(accountId, keyId)),
  ]);
  if (!updated) return fail("NOT_FOUND", NOT_FOUND);
  const key = await getApiKey(accountId, keyId, now);
  return key ? ok(key) : fail("NOT_FOUND", NOT_FOUND);
}

/**
 * Gives a key a new secret (SPEC §8): same id, name, scopes, expiry, elevations and history. The
 * old secret keeps verifying for the grace period chosen (none for `now`); a grace period still
 * running from an earlier roll ends at once. A legacy key becomes a scoped `rpa_` key with the
 * levels it had, which its stored levels already are. The plaintext is in the result only.
 */
export async function rollApiKey(
  accountId: string,
  keyId: string,
  grace: GraceChoice,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<{ key: ApiKeyDto; plaintext: string }>> {
  const db = await getDb();
  const plaintext = generateScopedKey();
  const { validUntil, untilFirstUse } = resolveGrace(grace, now);
  const keep = validUntil !== null;
  const earlierGraceRunning = and(isNotNull(apiKeys.previousKeyHash), gt(apiKeys.previousValidUntil, now));
  const rolledBy = actorUserId(actor);
  const [, , updated] = await runWriteBatch(db, [
    // An earlier grace period that ran out but is not yet in the audit log: the roll overwrites
    // its secret, so its end is recorded here, at its time, as recordLifecycleEnds would have.
    recordGraceEndedByTime(db, and(inAccount(accountId, keyId), graceEndedBy(now))),
    auditKey(
      db,
      now,
      actor,
      "api_key.rolled",
      accountId,
      keyId,
      sql<string>`json_object(
        'fromKind', ${outer(apiKeys.kind)}, 'grace', ${grace},
        'previousValidUntil', CASE WHEN ${outer(apiKeys.leakedAt)} IS NULL THEN ${validUntil?.getTime() ?? null} END,
        'untilFirstUse', json(CASE WHEN ${outer(apiKeys.leakedAt)} IS NULL AND ${untilFirstUse ? 1 : 0} THEN 'true' ELSE 'false' END),
        'endedEarlierGrace', json(CASE WHEN ${earlierGraceRunning} THEN 'true' ELSE 'false' END),
        'leaked', json(CASE WHEN ${outer(apiKeys.leakedAt)} IS NULL THEN 'false' ELSE 'true' END))`,
    ),
    // SET expressions read the row as it was: the previous secret is the one being replaced. A key
    // reported leaked (SPEC §9) keeps no grace period whatever was chosen — its old secret is the
    // leaked one — and the roll is what clears the report; the key stays disabled until enabled.
    db
      .update(apiKeys)
      .set({
        previousKeyHash: keep ? sql`CASE WHEN ${apiKeys.leakedAt} IS NULL THEN ${apiKeys.keyHash} END` : null,
        previousHint: keep ? sql`CASE WHEN ${apiKeys.leakedAt} IS NULL THEN ${apiKeys.hint} END` : null,
        previousValidUntil: keep ? sql`CASE WHEN ${apiKeys.leakedAt} IS NULL THEN ${validUntil!.getTime()} END` : null,
        previousUntilFirstUse: keep && untilFirstUse ? sql`${apiKeys.leakedAt} IS NULL` : false,
        keyHash: hashKey(plaintext),
        hint: formatDisplayHint(plaintext, "scoped"),
        kind: "scoped",
        leakedAt: null,
        leakUrl: null,
        leakSource: null,
        leakDismissedAt: null,
        // SPEC §11: a key keeps its creator; an imported legacy key rolled into a scoped one
        // (it had none) gets the member who rolled it.
        ...(rolledBy === null ? {} : { createdBy: sql`coalesce(${apiKeys.createdBy}, ${rolledBy})` }),
      })
      .where(inAccount(accountId, keyId)),
  ]);
  if (!updated) return fail("NOT_FOUND", NOT_FOUND);
  const key = await getApiKey(accountId, keyId, now);
  return key ? ok({ key, plaintext }) : fail("NOT_FOUND", NOT_FOUND);
}

/** A previous secret whose grace period is over by `now` and not yet cleared (nor its end recorded). */
function graceEndedBy(now: Date) {
  return and(isNotNull(apiKeys.previousKeyHash), lte(apiKeys.previousValidUntil, now));
}

/** The `previous_expired` entry of each key `where` finds, at the time its grace period ended. */
function recordGraceEndedByTime(db: Database, where: SQL | undefined) {
  return db.insert(auditLog).select(
    db
      .select(
        auditSelection(sql<number>`${outer(apiKeys.previousValidUntil)}`, "api_key.previous_expired", "api_key", {
          accountId: apiKeys.accountId,
          targetId: apiKeys.id,
          targetName: apiKeys.name,
          details: sql<string>`json_object('validUntil', ${outer(apiKeys.previousValidUntil)}, 'cause', 'time')`,
          actor: sql<string>`json_object('type', 'system')`,
        }),
      )
      .from(apiKeys)
      .where(where),
  );
}

/** Only a previous secret still in its grace period is ended (and cleared) by these batches. */
function graceRunning(now: Date) {
  return and(isNotNull(apiKeys.previousKeyHash), gt(apiKeys.previousValidUntil, now));
}

const CLEAR_PREVIOUS = { previousKeyHash: null, previousHint: null, previousValidUntil: null, previousUntilFirstUse: false };

/** `Expire previous key now`: the secret before the last roll stops verifying at once. */
export async function expirePreviousKey(accountId: string, keyId: string, actor: AuditActor, now = new Date()): Promise<DalResult<ApiKeyDto>> {
  const db = await getDb();
  const [, updated] = await runWriteBatch(db, [
    auditKey(
      db,
      now,
      actor,
      "api_key.previous_expired",
      accountId,
      keyId,
      sql<string>`json_object('validUntil', ${now.getTime()}, 'cause', 'manual')`,
      graceRunning(now),
    ),
    db
      .update(apiKeys)
      .set(CLEAR_PREVIOUS)
      .where(and(inAccount(accountId, keyId), graceRunning(now))),
  ]);
  const key = await getApiKey(accountId, keyId, now);
  if (!key) return fail("NOT_FOUND", NOT_FOUND);
  if (!updated) return fail("BAD_REQUEST", "This key has no previous key that is still valid.");
  return ok(key);
}

/**
 * The new secret of a key rolled `Until the new key is first used` was used at `at`: the old one
 * stops verifying. Called by the verifier's store with a key id it has just looked up (not a
 * caller's input); writes nothing when the grace period is already over.
 */
export async function endGraceOnFirstUse(keyId: string, at: number): Promise<void> {
  const db = await getDb();
  const when = new Date(at);
  const open = and(eq(apiKeys.id, keyId), eq(apiKeys.previousUntilFirstUse, true), graceRunning(when));
  await runWriteBatch(db, [
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(when, "api_key.previous_expired", "api_key", {
            accountId: apiKeys.accountId,
            targetId: apiKeys.id,
            targetName: apiKeys.name,
            details: sql<string>`json_object('validUntil', ${at}, 'cause', 'first_use')`,
            actor: sql<string>`json_object('type', 'system')`,
          }),
        )
        .from(apiKeys)
        .where(open),
    ),
    db.update(apiKeys).set(CLEAR_PREVIOUS).where(open),
  ]);
}

export type ElevationInput = { target: ElevationTarget; level: RequiredLevel; duration: ElevationDuration; reason: string };

const TARGET_LABELS = { graphql: "GraphQL", endpoints: "All endpoints" } as const;

/** An elevation that passed every check, ready for a write batch (elevationWrites). */
export type PreparedElevation = {
  id: string;
  target: ElevationTarget;
  targetKey: string;
  targetName: string;
  level: RequiredLevel;
  reason: string;
  endsAt: Date;
  /** The key's own level on the target. */
  own: AccessLevel;
  /** An elevation of the same key and target in force at `now`. */
  inForce: SQL | undefined;
};

/**
 * The checks of `Elevate access`, without writing: an unknown or another account's key or
 * endpoint, a level the key already has there, a second elevation in force on the same target, a
 * reason outside the rule are refused. The elevation would run from `now` for its duration.
 */
export async function prepareElevation(accountId: string, keyId: string, input: ElevationInput, now: Date): Promise<DalResult<PreparedElevation>> {
  const reason = normalizeReason(input.reason);
  if (!reason.ok) return fail("BAD_REQUEST", reason.message);
  if (!levelAllows(input.level, "read")) return fail("BAD_REQUEST", "Choose Read or Read / Write.");
  const key = await getApiKey(accountId, keyId, now);
  if (!key) return fail("NOT_FOUND", NOT_FOUND);

  const db = await getDb();
  let targetName: string;
  let own: AccessLevel;
  const { target } = input;
  if (target.resource === "endpoint") {
    const [endpoint] = await db
      .select({ name: endpoints.name })
      .from(endpoints)
      .where(and(eq(endpoints.accountId, accountId), eq(endpoints.id, target.endpointId)))
      .limit(1);
    if (!endpoint) return fail("BAD_REQUEST", "That endpoint does not exist.");
    targetName = endpoint.name;
    own = resolveEndpointLevel(key.scopes, target.endpointId);
  } else {
    targetName = TARGET_LABELS[target.resource];
    own = target.resource === "graphql" ? key.scopes.graphql : key.scopes.endpointsAll;
  }
  if (higherLevel(own, input.level) === own) {
    return fail("BAD_REQUEST", `This key already has ${LEVEL_LABELS[own]} on ${target.resource === "endpoint" ? `endpoint "${targetName}"` : targetName}.`);
  }

  const targetKey = elevationTargetKey(target);
  const inForce = and(
    eq(apiKeyElevations.accountId, accountId),
    eq(apiKeyElevations.keyId, keyId),
    eq(apiKeyElevations.target, targetKey),
    isNull(apiKeyElevations.endedAt),
    gt(apiKeyElevations.endsAt, now),
  );
  const existing = await db.select({ endsAt: apiKeyElevations.endsAt }).from(apiKeyElevations).where(inForce).limit(1);
  if (existing[0]) return fail("CONFLICT", `This key already has an elevation on ${targetName}. End it before starting another.`);
  const id = `elv_${newId()}`;
  return ok({ id, target, targetKey, targetName, level: input.level, reason: reason.name, endsAt: elevationEnd(input.duration, now), own, inForce });
}

/**
 * The elevation's row and its `api_key.elevated` entry, for one write batch. The insert re-checks
 * inside the write transaction that the key is there, that no elevation of the target came into
 * force in the meantime, and `condition` (an approval still pending): otherwise it inserts
 * nothing, and the entry (which selects the inserted row) is not written either.
 */
export function elevationWrites(db: Database, accountId: string, keyId: string, elevation: PreparedElevation, actor: AuditActor, now: Date, condition?: SQL) {
  const { id, target, targetKey, targetName, level, reason, endsAt, inForce } = elevation;
  return [
    db.insert(apiKeyElevations).select(
      db
        .select({
          id: sql<string>`${id}`.as("id"),
          accountId: apiKeys.accountId,
          keyId: apiKeys.id,
          target: sql<string>`${targetKey}`.as("target"),
          endpointId: sql<string | null>`${target.resource === "endpoint" ? target.endpointId : null}`.as("endpoint_id"),
          level: sql<RequiredLevel>`${level}`.as("level"),
          reason: sql<string>`${reason}`.as("reason"),
          createdAt: sql<number>`${now.getTime()}`.as("created_at"),
          endsAt: sql<number>`${endsAt.getTime()}`.as("ends_at"),
          endedAt: sql<number | null>`null`.as("ended_at"),
          endRecorded: sql<number>`0`.as("end_recorded"),
        })
        .from(apiKeys)
        .where(and(inAccount(accountId, keyId), sql`NOT EXISTS (SELECT 1 FROM ${apiKeyElevations} WHERE ${inForce})`, condition)),
    ),
    auditKey(
      db,
      now,
      actor,
      "api_key.elevated",
      accountId,
      keyId,
      sql<string>`json_object('target', ${targetKey}, 'targetName', ${targetName}, 'level', ${level}, 'reason', ${reason}, 'endsAt', ${endsAt.getTime()})`,
      sql`EXISTS (SELECT 1 FROM ${apiKeyElevations} WHERE ${apiKeyElevations.id} = ${id})`,
    ),
  ];
}

/**
 * `Elevate access` (SPEC §8): until `duration` from now, decisions use the higher of the key's own
 * level and `level` on the target. The caller has checked the user's password. Refused as
 * prepareElevation says. SPEC §11: a Member asking for GraphQL `Read / Write` under the team's
 * approval policy starts nothing: the elevation waits as a request (with its duration and reason)
 * that starts it from its approval on, and the result says so (`pendingApproval`).
 */
export async function elevateApiKey(
  accountId: string,
  keyId: string,
  input: ElevationInput,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<ApiKeyDto & { pendingApproval?: true }>> {
  const prepared = await prepareElevation(accountId, keyId, input, now);
  if (!prepared.ok) return prepared;
  const elevation = prepared.value;
  const db = await getDb();

  const { policies, requester } = await policyContext(accountId, actor);
  if (requester !== null && input.target.resource === "graphql" && needsGraphqlApproval(policies, requester.role, input.level, elevation.own)) {
    const details = { duration: input.duration, reason: elevation.reason };
    await runWriteBatch(db, approvalRequestWrites(db, { teamId: accountId, keyId, kind: "elevated", requester, details }, actor, now));
    const key = await getApiKey(accountId, keyId, now);
    return key ? ok({ ...key, pendingApproval: true as const }) : fail("NOT_FOUND", NOT_FOUND);
  }

  const [inserted] = await runWriteBatch(db, elevationWrites(db, accountId, keyId, elevation, actor, now));
  if (!inserted) {
    const still = await getApiKey(accountId, keyId, now);
    return still ? fail("CONFLICT", `This key already has an elevation on ${elevation.targetName}. End it before starting another.`) : fail("NOT_FOUND", NOT_FOUND);
  }
  const updated = await getApiKey(accountId, keyId, now);
  return updated ? ok(updated) : fail("NOT_FOUND", NOT_FOUND);
}

function elevationDetails(cause: "manual" | "time", endedAt: Date | typeof apiKeyElevations.endsAt) {
  const ended = endedAt instanceof Date ? sql`${endedAt.getTime()}` : sql`${outer(endedAt)}`;
  return sql<string>`json_object(
    'target', ${outer(apiKeyElevations.target)},
    'targetName', CASE ${outer(apiKeyElevations.target)} WHEN 'graphql' THEN 'GraphQL' WHEN 'endpoints' THEN 'All endpoints'
      ELSE coalesce((SELECT e.name FROM endpoints e WHERE e.account_id = ${outer(apiKeyElevations.accountId)} AND e.id = ${outer(apiKeyElevations.endpointId)}), substr(${outer(apiKeyElevations.target)}, 10)) END,
    'level', ${outer(apiKeyElevations.level)}, 'reason', ${outer(apiKeyElevations.reason)}, 'endsAt', ${outer(apiKeyElevations.endsAt)},
    'endedAt', ${ended}, 'cause', ${cause})`;
}

/** The name of the key an audited elevation row belongs to (the entry's target). */
function elevatedKeyName() {
  return sql<string>`(SELECT k.name FROM api_keys k WHERE k.account_id = ${outer(apiKeyElevations.accountId)} AND k.id = ${outer(apiKeyElevations.keyId)})`;
}

/** `End elevation`: the key's own level applies again from now. */
export async function endElevation(
  accountId: string,
  keyId: string,
  elevationId: string,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<ApiKeyDto>> {
  const db = await getDb();
  const target = and(
    eq(apiKeyElevations.id, elevationId),
    eq(apiKeyElevations.keyId, keyId),
    eq(apiKeyElevations.accountId, accountId),
    isNull(apiKeyElevations.endedAt),
    gt(apiKeyElevations.endsAt, now),
  );
  const [, updated] = await runWriteBatch(db, [
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "api_key.elevation_ended", "api_key", {
            accountId: apiKeyElevations.accountId,
            targetId: apiKeyElevations.keyId,
            targetName: elevatedKeyName(),
            details: elevationDetails("manual", now),
            actor: actorJson(accountId, actor),
          }),
        )
        .from(apiKeyElevations)
        .where(target),
    ),
    db.update(apiKeyElevations).set({ endedAt: now, endRecorded: true }).where(target),
  ]);
  const key = await getApiKey(accountId, keyId, now);
  if (!key) return fail("NOT_FOUND", NOT_FOUND);
  if (!updated) return fail("NOT_FOUND", "That elevation has already ended.");
  return ok(key);
}

/**
 * Writes into the audit log the elevations and grace periods that ran out by `now`, each at the
 * time it ended, and clears spent previous secrets. Any process may call it at any time: one
 * write transaction marks what it records, so each end is recorded once, by whichever process
 * gets there first. Answers how many ends it recorded. A cheap read first: no write lock unless
 * something has ended.
 */
export async function recordLifecycleEnds(now = new Date()): Promise<number> {
  const db = await getDb();
  const elevationsEnded = and(eq(apiKeyElevations.endRecorded, false), isNull(apiKeyElevations.endedAt), lte(apiKeyElevations.endsAt, now));
  const graceEnded = graceEndedBy(now);
  const [[elevation], [grace]] = await Promise.all([
    db.select({ id: apiKeyElevations.id }).from(apiKeyElevations).where(elevationsEnded).limit(1),
    db.select({ id: apiKeys.id }).from(apiKeys).where(graceEnded).limit(1),
  ]);
  if (!elevation && !grace) return 0;
  const [elevationEntries, , graceEntries] = await runWriteBatch(db, [
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(sql<number>`${outer(apiKeyElevations.endsAt)}`, "api_key.elevation_ended", "api_key", {
            accountId: apiKeyElevations.accountId,
            targetId: apiKeyElevations.keyId,
            targetName: elevatedKeyName(),
            details: elevationDetails("time", apiKeyElevations.endsAt),
            actor: sql<string>`json_object('type', 'system')`,
          }),
        )
        .from(apiKeyElevations)
        .where(elevationsEnded),
    ),
    db.update(apiKeyElevations).set({ endRecorded: true }).where(elevationsEnded),
    recordGraceEndedByTime(db, graceEnded),
    db.update(apiKeys).set(CLEAR_PREVIOUS).where(graceEnded),
  ]);
  return (elevationEntries ?? 0) + (graceEntries ?? 0);
}

/** The details of an `api_key.expiring` or `api_key.expired` entry. */
function expiryDetails() {
  return sql<string>`json_object('kind', ${outer(apiKeys.kind)}, 'expiresAt', ${outer(apiKeys.expiresAt)})`;
}

/**
 * Writes the events SPEC §9 sends about expiry, each once per key and expiry: `api_key.expiring`
 * when a key expires within 7 days (at the time it is noticed), `api_key.expired` once it has
 * (at its expiry; a key found already expired gets only that one). The audit trigger turns them
 * into webhook deliveries. Like recordLifecycleEnds, any process may call it at any time: the
 * entries and the flags that mark them sent are one write transaction, so two processes never
 * write the same event; a cheap read on api_keys_expiry_notice_idx first, no write lock when
 * nothing is due. A changed expiry clears the flags (setApiKeyExpiration). Answers how many
 * entries it wrote.
 */
export async function recordExpiryEvents(now = new Date()): Promise<number> {
  const db = await getDb();
  // `= 0` written out, not bound: the partial index's condition must appear in the query as it is.
  const unsent = sql`${apiKeys.expiredNotified} = 0 AND ${apiKeys.expiresAt} <= ${now.getTime() + EXPIRING_SOON_MS}`;
  const expired = and(unsent, lte(apiKeys.expiresAt, now));
  const expiring = and(unsent, gt(apiKeys.expiresAt, now), sql`${apiKeys.expiringNotified} = 0`);
  const [due] = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(unsent, or(sql`${apiKeys.expiringNotified} = 0`, lte(apiKeys.expiresAt, now))))
    .limit(1);
  if (!due) return 0;
  const system = sql<string>`json_object('type', 'system')`;
  const entry = (action: "api_key.expired" | "api_key.expiring", at: Date | SQL<number>, where: SQL | undefined) =>
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(at, action, "api_key", { accountId: apiKeys.accountId, targetId: apiKeys.id, targetName: apiKeys.name, details: expiryDetails(), actor: system }),
        )
        .from(apiKeys)
        .where(where),
    );
  const [expiredEntries, expiringEntries] = await runWriteBatch(db, [
    entry("api_key.expired", sql<number>`${outer(apiKeys.expiresAt)}`, expired),
    entry("api_key.expiring", now, expiring),
    // After the entries, which select on the flags these set.
    db.update(apiKeys).set({ expiringNotified: true, expiredNotified: true }).where(expired),
    db.update(apiKeys).set({ expiringNotified: true }).where(expiring),
  ]);
  return (expiredEntries ?? 0) + (expiringEntries ?? 0);
}
