import "server-only";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Database } from "@/db/handle";
import { accounts, apiKeys, approvalRequests, auditLog, teamPolicies } from "@/db/schema";
import type { APPROVAL_KINDS } from "@/db/schema/teams";
import { checkKeyLifetime, DEFAULT_POLICIES, KEY_LIFETIME_CHOICES, readLifetimeDays, type TeamPolicies } from "@/lib/core/teams/policies";
import type { TeamRole } from "@/lib/core/teams/roles";
import { actorJson, auditSelection, type AuditActor } from "./audit-log";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

// SPEC §11 policies: one row per team (none until an owner saves them: the defaults). The key
// DAL asks here before it writes an expiry (`Maximum key lifetime`) or a GraphQL `Read / Write`
// a Member asked for (`GraphQL Read / Write needs approval`), and adds the approval request this
// module builds to its own write batch, so a change and its request commit together.

export type { TeamPolicies } from "@/lib/core/teams/policies";

/** Who asked for a change, for the approval rule: the signed-in member's user id and role in the team. */
export type Requester = { userId: string; role: TeamRole };

export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

const policiesSchema = z.object({
  maxKeyLifetimeDays: z.union(KEY_LIFETIME_CHOICES.map((choice) => z.literal(choice.days)) as [z.ZodLiteral<null>, ...z.ZodLiteral<number | null>[]], {
    error: "Choose a maximum key lifetime.",
  }),
  graphqlWriteNeedsApproval: z.boolean({ error: "Choose whether GraphQL Read / Write needs approval." }),
});

/** The team's policies; a team that never saved any has the defaults (no limit, no approval). */
export async function getPolicies(teamId: string): Promise<TeamPolicies> {
  const db = await getDb();
  const [row] = await db
    .select({ maxKeyLifetimeDays: teamPolicies.maxKeyLifetimeDays, graphqlWriteNeedsApproval: teamPolicies.graphqlWriteNeedsApproval })
    .from(teamPolicies)
    .where(eq(teamPolicies.accountId, teamId))
    .limit(1);
  if (!row) return DEFAULT_POLICIES;
  return { maxKeyLifetimeDays: readLifetimeDays(row.maxKeyLifetimeDays), graphqlWriteNeedsApproval: row.graphqlWriteNeedsApproval };
}

/** The stored policies as JSON at this point of the batch (the defaults when there is no row). */
function storedPoliciesJson(teamId: string) {
  const stored = (column: "max_key_lifetime_days" | "graphql_write_needs_approval") =>
    sql`(SELECT p.${sql.raw(column)} FROM team_policies p WHERE p.account_id = ${teamId})`;
  return sql<string>`json_object(
    'maxKeyLifetimeDays', ${stored("max_key_lifetime_days")},
    'graphqlWriteNeedsApproval', json(CASE WHEN coalesce(${stored("graphql_write_needs_approval")}, 0) THEN 'true' ELSE 'false' END))`;
}

/**
 * `Save policies` (owners; the caller checks the role): both policies as a whole, upserted with
 * an audit entry (`policies.changed`, before and after) in one batch. Saving what is already in
 * force records nothing. Existing keys keep their expiry; the cap applies from the next change.
 */
export async function savePolicies(teamId: string, input: unknown, actor: AuditActor, now = new Date()): Promise<DalResult<TeamPolicies>> {
  const parsed = policiesSchema.safeParse(input);
  if (!parsed.success) return fail("BAD_REQUEST", parsed.error.issues[0]?.message ?? "Invalid policies.");
  const policies: TeamPolicies = { maxKeyLifetimeDays: readLifetimeDays(parsed.data.maxKeyLifetimeDays), graphqlWriteNeedsApproval: parsed.data.graphqlWriteNeedsApproval };
  const db = await getDb();
  const before = storedPoliciesJson(teamId);
  // Integers, not the reals the driver binds JS numbers as, so that before and after compare as text.
  const after = sql<string>`json_object('maxKeyLifetimeDays', CAST(${policies.maxKeyLifetimeDays} AS INTEGER), 'graphqlWriteNeedsApproval', json(${policies.graphqlWriteNeedsApproval ? "true" : "false"}))`;
  const [, saved] = await runWriteBatch(db, [
    // Before the upsert, to read what it replaces.
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "policies.changed", "team", {
            accountId: accounts.id,
            targetId: accounts.id,
            targetName: sql<string>`null`,
            details: sql<string>`json_object('before', json(${before}), 'after', json(${after}))`,
            actor: actorJson(teamId, actor),
          }),
        )
        .from(accounts)
        .where(and(eq(accounts.id, teamId), sql`${before} IS NOT ${after}`)),
    ),
    db
      .insert(teamPolicies)
      .select(
        db
          .select({
            accountId: accounts.id,
            maxKeyLifetimeDays: sql<number | null>`CAST(${policies.maxKeyLifetimeDays} AS INTEGER)`.as("max_key_lifetime_days"),
            graphqlWriteNeedsApproval: sql<boolean>`${policies.graphqlWriteNeedsApproval ? 1 : 0}`.as("graphql_write_needs_approval"),
            updatedAt: sql<number>`${now.getTime()}`.as("updated_at"),
          })
          .from(accounts)
          .where(eq(accounts.id, teamId)),
      )
      .onConflictDoUpdate({
        target: teamPolicies.accountId,
        set: { maxKeyLifetimeDays: policies.maxKeyLifetimeDays, graphqlWriteNeedsApproval: policies.graphqlWriteNeedsApproval, updatedAt: now },
      }),
  ]);
  if (!saved) return fail("NOT_FOUND", "Team not found.");
  return ok(policies);
}

/** The team's policies, and who is asking under them (null: no member acts — the CLI, the server, tests). */
export type PolicyContext = { policies: TeamPolicies; requester: Requester | null };

/**
 * What the key DAL decides a change by (SPEC §11): the team's policies and the acting user's role
 * in the team, in one read. A dashboard actor that is no longer a member (removed since the
 * session was checked) counts as a Viewer, the role with the least: the approval rule still holds.
 */
export async function policyContext(teamId: string, actor: AuditActor): Promise<PolicyContext> {
  const userId = actor.type === "dashboard" ? actor.userId : undefined;
  const db = await getDb();
  const [row] = await db
    .select({
      maxKeyLifetimeDays: teamPolicies.maxKeyLifetimeDays,
      graphqlWriteNeedsApproval: teamPolicies.graphqlWriteNeedsApproval,
      role: userId === undefined ? sql<TeamRole | null>`null` : sql<TeamRole | null>`(SELECT m.role FROM memberships m WHERE m.account_id = ${teamId} AND m.user_id = ${userId})`,
    })
    .from(accounts)
    .leftJoin(teamPolicies, eq(teamPolicies.accountId, accounts.id))
    .where(eq(accounts.id, teamId))
    .limit(1);
  const policies: TeamPolicies =
    row && row.graphqlWriteNeedsApproval !== null
      ? { maxKeyLifetimeDays: readLifetimeDays(row.maxKeyLifetimeDays), graphqlWriteNeedsApproval: row.graphqlWriteNeedsApproval }
      : DEFAULT_POLICIES;
  return { policies, requester: userId === undefined ? null : { userId, role: row?.role ?? "viewer" } };
}

/**
 * `Maximum key lifetime` (SPEC §11): whether an expiry set at `now` (null: never) is allowed in the
 * team. Read just before the write that sets it; a cap saved in between applies from the next change.
 */
export async function checkExpiryPolicy(teamId: string, expiresAt: Date | null, now: Date): Promise<DalResult<void>> {
  const { maxKeyLifetimeDays } = await getPolicies(teamId);
  const checked = checkKeyLifetime(expiresAt, maxKeyLifetimeDays, now);
  return checked.ok ? ok(undefined) : fail("BAD_REQUEST", checked.message);
}

/** What a pending request records: an elevation's duration and reason, applied when it is approved. */
export type ApprovalDetails = { duration?: string; reason?: string };

/**
 * The writes that record a Member's pending GraphQL `Read / Write` (SPEC §11), for the batch that
 * makes the rest of their change: the request, and its `approval.requested` entry. Both select
 * over the key as the batch sees it (nothing when it is gone), and nothing is added while the key
 * already waits for the same (a second `Save scopes` asking again makes no second request).
 */
export function approvalRequestWrites(
  db: Database,
  input: { teamId: string; keyId: string; kind: ApprovalKind; requester: Requester; details?: ApprovalDetails },
  actor: AuditActor,
  now: Date,
) {
  const { teamId, keyId, kind, requester } = input;
  const id = `apr_${newId()}`;
  const details = JSON.stringify(input.details ?? {});
  // An elevation waits on its own; a new key's and a scope change's both ask for the key's own level.
  const sameKinds = kind === "elevated" ? sql`r.kind = 'elevated'` : sql`r.kind IN ('created', 'scopes_changed')`;
  const nothingPending = sql`NOT EXISTS (SELECT 1 FROM approval_requests r WHERE r.account_id = ${teamId} AND r.key_id = ${keyId} AND r.status = 'pending' AND ${sameKinds})`;
  return [
    db.insert(approvalRequests).select(
      db
        .select({
          id: sql<string>`${id}`.as("id"),
          accountId: apiKeys.accountId,
          keyId: apiKeys.id,
          kind: sql<ApprovalKind>`${kind}`.as("kind"),
          requestedBy: sql<string>`${requester.userId}`.as("requested_by"),
          status: sql<string>`'pending'`.as("status"),
          details: sql<string>`${details}`.as("details"),
          createdAt: sql<number>`${now.getTime()}`.as("created_at"),
          decidedAt: sql<number | null>`null`.as("decided_at"),
          decidedBy: sql<string | null>`null`.as("decided_by"),
        })
        .from(apiKeys)
        .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, teamId), nothingPending)),
    ),
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "approval.requested", "api_key", {
            accountId: approvalRequests.accountId,
            targetId: approvalRequests.keyId,
            targetName: sql<string>`(SELECT k.name FROM api_keys k WHERE k.account_id = ${teamId} AND k.id = ${keyId})`,
            details: sql<string>`json_patch(json_object('requestId', ${id}, 'kind', ${kind}, 'resource', 'graphql', 'level', 'read_write'), ${details})`,
            actor: actorJson(teamId, actor),
          }),
        )
        .from(approvalRequests)
        .where(and(eq(approvalRequests.id, id), eq(approvalRequests.accountId, teamId))),
    ),
  ];
}

/** Whether the key waits for approval of `kind` (or, for scopes, either scope kind) at this moment. */
export async function hasPendingApproval(teamId: string, keyId: string, kind: ApprovalKind): Promise<boolean> {
  const db = await getDb();
  const kinds = kind === "elevated" ? sql`${approvalRequests.kind} = 'elevated'` : sql`${approvalRequests.kind} IN ('created', 'scopes_changed')`;
  const [row] = await db
    .select({ id: approvalRequests.id })
    .from(approvalRequests)
    .where(and(eq(approvalRequests.accountId, teamId), eq(approvalRequests.keyId, keyId), eq(approvalRequests.status, "pending"), kinds))
    .limit(1);
  return row !== undefined;
}
