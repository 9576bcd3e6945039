import "server-only";
import { count, desc, eq, getTableName, is, SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { z } from "zod";
import { getDb } from "@/db/handle";
import { apiKeys, auditLog } from "@/db/schema";
import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES } from "@/db/schema/audit-log";
import { APPROVAL_KINDS } from "@/db/schema/teams";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import { ACCESS_LEVELS, LEGACY_PERMISSIONS } from "@/lib/core/scopes/levels";
import { RATE_WINDOWS } from "@/lib/core/restrictions/rate-limit";
import { TEAM_ROLES } from "@/lib/core/teams/roles";

// Entries are written by the key and endpoint DAL functions, inside the same BEGIN IMMEDIATE
// batch as the change, mostly as INSERT … SELECT over the row being changed: the entry exists
// exactly when the change happened, and names the row as the transaction saw it. What an entry
// holds is limited to names, ids, kinds and levels: never a key, a hash or a hint.

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number];

// ---------------------------------------------------------------------------------------------
// Writing (for lib/dal only)

/**
 * Who made a change, as the caller asserts it: the dashboard (a signed-in member, SPEC §11: the
 * user's id; their email is read in the same transaction), an API key (the verified key's id; its
 * name is read likewise), a CLI command, the server itself, or a secret scanner's signed leak
 * report (SPEC §9). A dashboard actor without a user is for tests and scripts only.
 */
export type AuditActor =
  | { type: "dashboard"; userId?: string }
  | { type: "api_key"; keyId: string }
  | { type: "cli"; command: string }
  | { type: "system" }
  | { type: "scanner" };

/** The actor as stored: JSON text with ids and names only. */
export function actorJson(accountId: string, actor: AuditActor): SQL<string> {
  switch (actor.type) {
    case "dashboard":
      if (actor.userId === undefined) return sql<string>`json_object('type', 'dashboard')`;
      // The email as it is when the change commits, so the entry still names the user after
      // they leave the team.
      return sql<string>`json_object('type', 'dashboard', 'userId', ${actor.userId}, 'email', (
        SELECT u.email FROM users u WHERE u.id = ${actor.userId}
      ))`;
    case "api_key":
      return sql<string>`json_object('type', 'api_key', 'keyId', ${actor.keyId}, 'keyName', (
        SELECT k.name FROM api_keys k WHERE k.account_id = ${accountId} AND k.id = ${actor.keyId}
      ))`;
    case "cli":
      return sql<string>`json_object('type', 'cli', 'command', ${actor.command})`;
    // Nobody acted: the server noticed an elevation or a grace period had run out (SPEC §8).
    case "system":
      return sql<string>`json_object('type', 'system')`;
    // A leak report (lib/http/leaks-api.ts): no account acted, and the scanner has no identity
    // beyond holding LEAK_REPORT_SECRET.
    case "scanner":
      return sql<string>`json_object('type', 'scanner')`;
    default:
      throw new Error(`Unknown audit actor: ${JSON.stringify(actor satisfies never)}`);
  }
}

type AuditColumns = {
  accountId: AnySQLiteColumn;
  targetId: AnySQLiteColumn;
  /** A column, or the name the change sets (a rename records the new name). */
  targetName: AnySQLiteColumn | SQL<string>;
  details: SQL<string>;
  actor: SQL<string>;
};

/**
 * The select list of an `INSERT INTO audit_log … SELECT`, in the table's column order: one entry
 * per row the select finds, none when it finds none (an unknown or another account's target).
 */
export function auditSelection(now: Date | SQL<number>, action: AuditAction, targetType: AuditTargetType, columns: AuditColumns) {
  return {
    id: sql<number>`null`.as("id"),
    accountId: columns.accountId,
    // A time, or (for an end noticed after the fact) the column that says when it happened.
    createdAt: (now instanceof Date ? sql<number>`${now.getTime()}` : now).as("created_at"),
    action: sql<AuditAction>`${action}`.as("action"),
    targetType: sql<AuditTargetType>`${targetType}`.as("target_type"),
    targetId: columns.targetId,
    targetName: is(columns.targetName, SQL) ? columns.targetName.as("target_name") : columns.targetName,
    details: columns.details.as("details"),
    actor: columns.actor.as("actor"),
  };
}

/**
 * A column spelled with its table, for correlated subqueries: drizzle writes a single-table
 * select's columns bare, and a bare `account_id` inside a subquery would bind to the subquery's
 * own tables instead of the row being audited.
 */
export function outer(column: AnySQLiteColumn): SQL {
  return sql.raw(`"${getTableName(column.table)}"."${column.name}"`);
}

/** A key's scopes as stored at this point of the transaction, each override with its endpoint's name. */
export function storedScopesJson(): SQL<string> {
  return sql<string>`json_object(
    'graphql', ${outer(apiKeys.graphqlLevel)},
    'endpointsAll', ${outer(apiKeys.endpointsAllLevel)},
    'endpoints', json((
      SELECT json_group_array(json_object('id', e.id, 'name', e.name, 'level', s.level) ORDER BY e.name, e.id)
      FROM api_key_endpoint_scopes s JOIN endpoints e ON e.account_id = s.account_id AND e.id = s.endpoint_id
      WHERE s.account_id = ${outer(apiKeys.accountId)} AND s.key_id = ${outer(apiKeys.id)}
    ))
  )`;
}

/**
 * Validated scopes about to be written, in the same shape as storedScopesJson (so that the two
 * compare as text), with endpoint names read in the same transaction. An endpoint deleted in
 * the meantime drops out here, but then the override insert fails and nothing commits.
 */
export function requestedScopesJson(scopes: KeyScopes): SQL<string> {
  return sql<string>`json_object(
    'graphql', ${scopes.graphql},
    'endpointsAll', ${scopes.endpointsAll},
    'endpoints', json((
      SELECT json_group_array(json_object('id', e.id, 'name', e.name, 'level', j.value) ORDER BY e.name, e.id)
      FROM json_each(${JSON.stringify(scopes.endpoints)}) j JOIN endpoints e ON e.account_id = ${outer(apiKeys.accountId)} AND e.id = j.key
    ))
  )`;
}

// ---------------------------------------------------------------------------------------------
// Reading

const level = z.enum(ACCESS_LEVELS);
const keyKind = z.enum(["scoped", "legacy"]);
const scopesSnapshot = z.object({
  graphql: level,
  endpointsAll: level,
  endpoints: z.array(z.object({ id: z.string(), name: z.string(), level })),
});
const kindOnly = z.object({ kind: keyKind });
const teamRole = z.enum(TEAM_ROLES);
const elevationDetails = z.object({
  target: z.string(),
  targetName: z.string(),
  level: z.enum(ACCESS_LEVELS),
  reason: z.string(),
  endsAt: z.number(),
});

// SPEC §9: a key's allowlist (null: any address) and rate limit (both null: none).
const restrictionsSnapshot = z.object({
  allowedIps: z.array(z.string()).nullable(),
  rateLimit: z.number().int().positive().nullable(),
  per: z.enum(RATE_WINDOWS).nullable(),
});

const policiesSnapshot = z.object({ maxKeyLifetimeDays: z.number().int().positive().nullable(), graphqlWriteNeedsApproval: z.boolean() });
const approvalDetails = z.object({
  requestId: z.string(),
  kind: z.enum(APPROVAL_KINDS),
  resource: z.literal("graphql"),
  level: z.literal("read_write"),
  duration: z.string().optional(),
  reason: z.string().optional(),
});

const eventSchema = z.discriminatedUnion("action", [
  // `expiresAt` is absent on entries written before keys could expire.
  z.object({
    action: z.literal("api_key.created"),
    details: z.object({ kind: keyKind, scopes: scopesSnapshot, expiresAt: z.number().nullable().optional() }),
  }),
  z.object({ action: z.literal("api_key.enabled"), details: kindOnly }),
  // `reason` only when the key was disabled because its creator was removed from the team (SPEC §11), `member` their email.
  z.object({
    action: z.literal("api_key.disabled"),
    details: kindOnly.extend({ reason: z.literal("member_removed").optional(), member: z.string().nullable().optional() }),
  }),
  // `source` and `basedOn` only on a change made by `Apply suggestion` (SPEC §10): the window it was based on.
  z.object({
    action: z.literal("api_key.scopes_changed"),
    details: z.object({ before: scopesSnapshot, after: scopesSnapshot, source: z.literal("suggestion").optional(), basedOn: z.string().optional() }),
  }),
  z.object({ action: z.literal("api_key.deleted"), details: kindOnly }),
  z.object({
    action: z.literal("api_key.legacy_imported"),
    details: z.object({
      count: z.number().int().nonnegative(),
      keys: z.array(z.object({ id: z.string(), name: z.string(), permission: z.enum(LEGACY_PERMISSIONS) })),
    }),
  }),
  z.object({
    action: z.literal("api_key.expiration_changed"),
    details: z.object({ kind: keyKind, before: z.number().nullable(), after: z.number().nullable() }),
  }),
  z.object({
    action: z.literal("api_key.rolled"),
    details: z.object({
      fromKind: keyKind,
      grace: z.string(),
      previousValidUntil: z.number().nullable(),
      untilFirstUse: z.boolean(),
      endedEarlierGrace: z.boolean(),
      // A key reported leaked keeps no grace period (absent on entries from before leak reports).
      leaked: z.boolean().optional(),
    }),
  }),
  z.object({
    action: z.literal("api_key.previous_expired"),
    details: z.object({ validUntil: z.number(), cause: z.enum(["manual", "first_use", "time"]) }),
  }),
  z.object({ action: z.literal("api_key.elevated"), details: elevationDetails }),
  z.object({
    action: z.literal("api_key.elevation_ended"),
    details: elevationDetails.extend({ endedAt: z.number(), cause: z.enum(["manual", "time"]) }),
  }),
  // SPEC §9: where a scanner found the key; `secret` says which of its secrets (after a roll,
  // the previous one may still be valid). Never the token.
  z.object({
    action: z.literal("api_key.leaked"),
    details: z.object({
      kind: keyKind,
      secret: z.enum(["current", "previous"]),
      url: z.string(),
      source: z.string(),
      type: z.string(),
      previouslyEnabled: z.boolean(),
    }),
  }),
  z.object({ action: z.literal("api_key.restrictions_changed"), details: z.object({ before: restrictionsSnapshot, after: restrictionsSnapshot }) }),
  // SPEC §9 events noticed by the server's sweep (lib/dal/key-lifecycle.ts recordExpiryEvents).
  z.object({ action: z.literal("api_key.expiring"), details: z.object({ kind: keyKind, expiresAt: z.number() }) }),
  z.object({ action: z.literal("api_key.expired"), details: z.object({ kind: keyKind, expiresAt: z.number() }) }),
  // Webhooks are named by their URL's origin (the entry's target name), never by path or query.
  z.object({ action: z.literal("webhook.added"), details: z.object({}) }),
  z.object({ action: z.literal("webhook.deleted"), details: z.object({ pendingDropped: z.number().int().nonnegative() }) }),
  z.object({ action: z.literal("endpoint.created"), details: z.object({}) }),
  z.object({ action: z.literal("endpoint.renamed"), details: z.object({ from: z.string(), to: z.string() }) }),
  z.object({ action: z.literal("endpoint.deleted"), details: z.object({ keysWithOverride: z.array(z.string()) }) }),
  // SPEC §11 members (lib/dal/members.ts); the target names the member's email.
  z.object({ action: z.literal("member.invited"), details: z.object({ role: teamRole }) }),
  z.object({ action: z.literal("member.joined"), details: z.object({ role: teamRole }) }),
  z.object({ action: z.literal("member.role_changed"), details: z.object({ from: teamRole, to: teamRole }) }),
  // `left`: they removed themselves; `keysDisabled`: how many of their keys in the team were disabled.
  z.object({ action: z.literal("member.removed"), details: z.object({ role: teamRole, left: z.boolean(), keysDisabled: z.number().int().nonnegative() }) }),
  // SPEC §11 policies (lib/dal/policies.ts), on the team itself.
  z.object({ action: z.literal("policies.changed"), details: z.object({ before: policiesSnapshot, after: policiesSnapshot }) }),
  // SPEC §11 approvals (lib/dal/policies.ts, lib/dal/approvals.ts), on the key: what was asked
  // (always GraphQL Read / Write), and for an elevation its duration and reason.
  z.object({ action: z.literal("approval.requested"), details: approvalDetails }),
  z.object({ action: z.literal("approval.approved"), details: approvalDetails.extend({ requestedBy: z.string().nullable(), endsAt: z.number().optional() }) }),
  z.object({ action: z.literal("approval.declined"), details: approvalDetails.extend({ requestedBy: z.string().nullable() }) }),
]);

const actorSchema = z.discriminatedUnion("type", [
  // `userId` and `email` are absent on entries written before teams (SPEC §11).
  z.object({ type: z.literal("dashboard"), userId: z.string().optional(), email: z.string().nullable().optional() }),
  z.object({ type: z.literal("api_key"), keyId: z.string(), keyName: z.string().nullable() }),
  z.object({ type: z.literal("cli"), command: z.string() }),
  z.object({ type: z.literal("system") }),
  z.object({ type: z.literal("scanner") }),
]);

/** Who made the change, as recorded; `keyName` is the key's name, `email` the user's, when the change was made. */
export type AuditActorDto = z.infer<typeof actorSchema>;

export type AuditScopesSnapshot = z.infer<typeof scopesSnapshot>;

export type AuditRestrictionsSnapshot = z.infer<typeof restrictionsSnapshot>;

export type AuditPoliciesSnapshot = z.infer<typeof policiesSnapshot>;

export type AuditApprovalDetails = z.infer<typeof approvalDetails>;

/**
 * What happened, by action. `unknown` stands for an entry this version cannot read (written by
 * a newer version during a rolling deploy, say): it is still listed, with its target.
 */
export type AuditEvent = z.infer<typeof eventSchema> | { action: "unknown"; details: null };

export type AuditLogEntryDto = AuditEvent & {
  id: string;
  createdAt: Date;
  target: { type: AuditTargetType; id: string | null; name: string | null };
  /** Null when the entry predates actors, or its actor cannot be read by this version. */
  actor: AuditActorDto | null;
};

export type AuditLogPage = {
  entries: AuditLogEntryDto[];
  /** 1-based, as asked (after clamping junk to 1); may lie past the last page, then `entries` is empty. */
  page: number;
  pageSize: number;
  total: number;
  hasNext: boolean;
};

export const AUDIT_LOG_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 200;

function parseEvent(action: string, details: string): AuditEvent {
  let parsedDetails: unknown;
  try {
    parsedDetails = JSON.parse(details);
  } catch {
    return { action: "unknown", details: null };
  }
  const parsed = eventSchema.safeParse({ action, details: parsedDetails });
  return parsed.success ? parsed.data : { action: "unknown", details: null };
}

function parseActor(actor: string | null): AuditActorDto | null {
  if (actor === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(actor);
  } catch {
    return null;
  }
  const result = actorSchema.safeParse(parsed);
  return result.success ? result.data : null;
}

/** The account's audit log, newest first, one page at a time. Only this account's entries. */
export async function listAuditLog(accountId: string, options: { page: number; pageSize?: number }): Promise<AuditLogPage> {
  const pageSize =
    Number.isSafeInteger(options.pageSize) && (options.pageSize ?? 0) >= 1 ? Math.min(options.pageSize ?? 0, MAX_PAGE_SIZE) : AUDIT_LOG_PAGE_SIZE;
  const page = Number.isSafeInteger(options.page) && options.page >= 1 ? options.page : 1;
  const offset = (page - 1) * pageSize;
  const db = await getDb();
  const [rows, [counted]] = await Promise.all([
    Number.isSafeInteger(offset)
      ? db
          .select({
            id: auditLog.id,
            createdAt: auditLog.createdAt,
            action: auditLog.action,
            targetType: auditLog.targetType,
            targetId: auditLog.targetId,
            targetName: auditLog.targetName,
            details: auditLog.details,
            actor: auditLog.actor,
          })
          .from(auditLog)
          .where(eq(auditLog.accountId, accountId))
          .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
          // One more than a page tells whether there is an older page without a second count.
          .limit(pageSize + 1)
          .offset(offset)
      : Promise.resolve([]),
    db.select({ total: count() }).from(auditLog).where(eq(auditLog.accountId, accountId)),
  ]);
  const entries = rows.slice(0, pageSize).map(
    (row): AuditLogEntryDto => ({
      ...parseEvent(row.action, row.details),
      id: String(row.id),
      createdAt: row.createdAt,
      target: { type: row.targetType, id: row.targetId, name: row.targetName },
      actor: parseActor(row.actor),
    }),
  );
  return { entries, page, pageSize, total: counted?.total ?? 0, hasNext: rows.length > pageSize };
}
