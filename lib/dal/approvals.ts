import "server-only";
import { and, asc, eq, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Database } from "@/db/handle";
import { apiKeys, approvalRequests, auditLog, users } from "@/db/schema";
import { ELEVATION_DURATION_IDS, type ElevationDuration } from "@/lib/core/lifecycle/choices";
import { can } from "@/lib/core/teams/roles";
import { auditKey } from "./api-keys";
import { actorJson, auditSelection, outer, storedScopesJson, type AuditActor } from "./audit-log";
import { elevationWrites, prepareElevation } from "./key-lifecycle";
import { policyContext, type ApprovalKind } from "./policies";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

// SPEC §11 `/settings/approvals`: the GraphQL `Read / Write` that Members asked for under the
// team's approval policy (lib/dal/policies.ts writes the requests), and the two outcomes. Each
// outcome is one write batch with its audit entry (`approval.approved` / `approval.declined`, which
// the webhook outbox trigger sends as events) and, for an approval, the change it applies; every
// statement re-checks that the request is still pending, so two deciders never both act.

export type ApprovalRequestDto = {
  id: string;
  keyId: string;
  keyName: string;
  kind: ApprovalKind;
  /** Null once the requester's user is gone. */
  requestedBy: { userId: string; email: string } | null;
  createdAt: Date;
  /** An elevation's length and reason (kind `elevated`), else null. */
  duration: ElevationDuration | null;
  reason: string | null;
};

const NOT_FOUND = "Approval request not found.";

const detailsSchema = z.object({ duration: z.enum(ELEVATION_DURATION_IDS).optional(), reason: z.string().optional() });

function readDetails(text: string): z.infer<typeof detailsSchema> {
  try {
    const parsed = detailsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/**
 * The team's pending requests, oldest first (the one waiting longest on top); only `requestedBy`'s
 * when given (what a Member sees), only one key's when `keyId` is given (the key's page).
 */
export async function listPendingApprovals(teamId: string, options: { requestedBy?: string; keyId?: string } = {}): Promise<ApprovalRequestDto[]> {
  const db = await getDb();
  const rows = await db
    .select({
      id: approvalRequests.id,
      keyId: approvalRequests.keyId,
      keyName: apiKeys.name,
      kind: approvalRequests.kind,
      requestedBy: approvalRequests.requestedBy,
      requesterEmail: users.email,
      createdAt: approvalRequests.createdAt,
      details: approvalRequests.details,
    })
    .from(approvalRequests)
    .innerJoin(apiKeys, and(eq(apiKeys.accountId, approvalRequests.accountId), eq(apiKeys.id, approvalRequests.keyId)))
    .leftJoin(users, eq(users.id, approvalRequests.requestedBy))
    .where(
      and(
        eq(approvalRequests.accountId, teamId),
        eq(approvalRequests.status, "pending"),
        options.requestedBy === undefined ? undefined : eq(approvalRequests.requestedBy, options.requestedBy),
        options.keyId === undefined ? undefined : eq(approvalRequests.keyId, options.keyId),
      ),
    )
    .orderBy(asc(approvalRequests.createdAt), asc(approvalRequests.id));
  return rows.map(({ requestedBy, requesterEmail, details, ...row }) => {
    const { duration, reason } = readDetails(details);
    return {
      ...row,
      requestedBy: requestedBy !== null && requesterEmail !== null ? { userId: requestedBy, email: requesterEmail } : null,
      duration: duration ?? null,
      reason: reason ?? null,
    };
  });
}

type Decision = "approved" | "declined";

/** A decider as the DAL checks them: their role in the team now, from the actor's user. */
async function deciderRefusal(teamId: string, actor: AuditActor): Promise<DalResult<string>> {
  const { requester } = await policyContext(teamId, actor);
  if (requester === null || !can(requester.role, "approvals.decide")) return fail("BAD_REQUEST", "Only owners and admins can approve or decline requests.");
  return ok(requester.userId);
}

type PendingRequest = { keyId: string; kind: ApprovalKind; requestedBy: string | null; details: string };

/** The request, if it is the team's and still pending; else why not. */
async function pendingRequest(teamId: string, requestId: string): Promise<DalResult<PendingRequest>> {
  const db = await getDb();
  const [row] = await db
    .select({ keyId: approvalRequests.keyId, kind: approvalRequests.kind, status: approvalRequests.status, requestedBy: approvalRequests.requestedBy, details: approvalRequests.details })
    .from(approvalRequests)
    .where(and(eq(approvalRequests.id, requestId), eq(approvalRequests.accountId, teamId)))
    .limit(1);
  if (!row) return fail("NOT_FOUND", NOT_FOUND);
  if (row.status !== "pending") return fail("CONFLICT", `This request was already ${row.status}.`);
  return ok(row);
}

/** The request is the team's, still pending, and (for an approval) not the decider's own: what every statement of a decision re-checks. */
function stillPending(teamId: string, requestId: string, notRequestedBy?: string): SQL {
  const own = notRequestedBy === undefined ? sql`` : sql` AND r.requested_by IS NOT ${notRequestedBy}`;
  return sql`EXISTS (SELECT 1 FROM approval_requests r WHERE r.id = ${requestId} AND r.account_id = ${teamId} AND r.status = 'pending'${own})`;
}

/** The outcome's audit entry, on the key (the webhook event names it): the request, the requester's email, and what it asked. */
function decisionEntry(db: Database, decision: Decision, teamId: string, requestId: string, actor: AuditActor, now: Date, where: SQL, extra?: SQL<string>) {
  return db.insert(auditLog).select(
    db
      .select(
        auditSelection(now, decision === "approved" ? "approval.approved" : "approval.declined", "api_key", {
          accountId: approvalRequests.accountId,
          targetId: approvalRequests.keyId,
          targetName: sql<string>`(SELECT k.name FROM api_keys k WHERE k.account_id = ${outer(approvalRequests.accountId)} AND k.id = ${outer(approvalRequests.keyId)})`,
          details: sql<string>`json_patch(json_object(
            'requestId', ${outer(approvalRequests.id)}, 'kind', ${outer(approvalRequests.kind)}, 'resource', 'graphql', 'level', 'read_write',
            'requestedBy', (SELECT u.email FROM users u WHERE u.id = ${outer(approvalRequests.requestedBy)})
          ), json_patch(${outer(approvalRequests.details)}, ${extra ?? sql`'{}'`}))`,
          actor: actorJson(teamId, actor),
        }),
      )
      .from(approvalRequests)
      .where(and(eq(approvalRequests.id, requestId), eq(approvalRequests.accountId, teamId), where)),
  );
}

function markDecided(db: Database, decision: Decision, teamId: string, requestId: string, deciderId: string, now: Date, where: SQL) {
  return db
    .update(approvalRequests)
    .set({ status: decision, decidedAt: now, decidedBy: deciderId })
    .where(and(eq(approvalRequests.id, requestId), eq(approvalRequests.accountId, teamId), where));
}

/** After a batch that decided nothing: the request changed in the meantime (decided, or its key deleted). */
async function raceRefusal(teamId: string, requestId: string): Promise<DalResult<never>> {
  const now = await pendingRequest(teamId, requestId);
  return now.ok ? fail("CONFLICT", "This request changed in the meantime. Try again.") : now;
}

/**
 * `Approve` (owners and admins, SPEC §11): the GraphQL `Read / Write` asked for takes effect now.
 * A new key's or a scope change's becomes the key's own GraphQL level (audited as a scope change
 * too); an elevation's starts now for the duration asked, with the reason given (audited as the
 * elevation). Refused: a decider without `approvals.decide`, their own request (even an admin who
 * asked while a Member), a request not pending, another team's — and an elevation that can no
 * longer start (the key has the level by now, or another elevation of GraphQL is in force: the
 * request stays pending, to decline).
 */
export async function approveApprovalRequest(teamId: string, requestId: string, actor: AuditActor, now = new Date()): Promise<DalResult<{ id: string; keyId: string }>> {
  const decider = await deciderRefusal(teamId, actor);
  if (!decider.ok) return decider;
  const deciderId = decider.value;
  const request = await pendingRequest(teamId, requestId);
  if (!request.ok) return request;
  const { keyId, kind, requestedBy } = request.value;
  if (requestedBy === deciderId) return fail("BAD_REQUEST", "You can't approve your own request: another owner or admin must.");

  const db = await getDb();
  const pending = stillPending(teamId, requestId, deciderId);
  let decided: number | undefined;
  if (kind === "elevated") {
    const { duration, reason } = readDetails(request.value.details);
    if (!duration || reason === undefined) return fail("BAD_REQUEST", "This request cannot be applied: decline it.");
    const prepared = await prepareElevation(teamId, keyId, { target: { resource: "graphql" }, level: "read_write", duration, reason }, now);
    if (!prepared.ok) return prepared.code === "NOT_FOUND" ? fail("NOT_FOUND", NOT_FOUND) : fail(prepared.code, `${prepared.message} Decline the request instead.`);
    const elevation = prepared.value;
    const started = and(pending, sql`EXISTS (SELECT 1 FROM api_key_elevations e WHERE e.id = ${elevation.id})`)!;
    const results = await runWriteBatch(db, [
      ...elevationWrites(db, teamId, keyId, elevation, actor, now, pending),
      decisionEntry(db, "approved", teamId, requestId, actor, now, started, sql<string>`json_object('endsAt', ${elevation.endsAt.getTime()})`),
      markDecided(db, "approved", teamId, requestId, deciderId, now, started),
    ]);
    decided = results.at(-1);
  } else {
    const keyHere = and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, teamId));
    const raises = and(pending, sql`${apiKeys.graphqlLevel} IS NOT 'read_write'`);
    const results = await runWriteBatch(db, [
      decisionEntry(db, "approved", teamId, requestId, actor, now, pending),
      // Before the update, to read what it replaces; nothing when the key has it by now.
      auditKey(
        db,
        now,
        actor,
        "api_key.scopes_changed",
        teamId,
        keyId,
        sql<string>`json_object('before', json(${storedScopesJson()}), 'after', json_set(${storedScopesJson()}, '$.graphql', 'read_write'))`,
        raises,
      ),
      db.update(apiKeys).set({ graphqlLevel: "read_write" }).where(and(keyHere, raises)),
      markDecided(db, "approved", teamId, requestId, deciderId, now, pending),
    ]);
    decided = results.at(-1);
  }
  if (!decided) return raceRefusal(teamId, requestId);
  return ok({ id: requestId, keyId });
}

/**
 * `Decline` (owners and admins): the key keeps what it has; the request is closed, audited. A
 * decider may decline their own request (withdrawing it changes nothing on the key).
 */
export async function declineApprovalRequest(teamId: string, requestId: string, actor: AuditActor, now = new Date()): Promise<DalResult<{ id: string; keyId: string }>> {
  const decider = await deciderRefusal(teamId, actor);
  if (!decider.ok) return decider;
  const request = await pendingRequest(teamId, requestId);
  if (!request.ok) return request;
  const db = await getDb();
  const pending = stillPending(teamId, requestId);
  const [, decided] = await runWriteBatch(db, [
    decisionEntry(db, "declined", teamId, requestId, actor, now, pending),
    markDecided(db, "declined", teamId, requestId, decider.value, now, pending),
  ]);
  if (!decided) return raceRefusal(teamId, requestId);
  return ok({ id: requestId, keyId: request.value.keyId });
}
