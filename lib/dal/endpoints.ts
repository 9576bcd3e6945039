import "server-only";
import { and, desc, eq, ne, sql, type SQL } from "drizzle-orm";
import { getDb, type Database } from "@/db/handle";
import { auditLog, endpoints } from "@/db/schema";
import { normalizeName } from "@/lib/core/names";
import { actorJson, auditSelection, outer, type AuditAction, type AuditActor } from "./audit-log";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch, runWriteBatchResults } from "./write-batch";

export type EndpointDto = { id: string; name: string; createdAt: Date };

const endpointColumns = { id: endpoints.id, name: endpoints.name, createdAt: endpoints.createdAt };
const NOT_FOUND = "Endpoint not found.";

/**
 * `INSERT INTO audit_log … SELECT` over the account's endpoint `endpointId`, for the same write
 * batch as the change: no entry unless the endpoint is there (and `where` holds) at that point.
 */
function auditEndpoint(
  db: Database,
  now: Date,
  actor: AuditActor,
  action: AuditAction,
  accountId: string,
  endpointId: string,
  details: SQL<string>,
  options: { where?: SQL; targetName?: SQL<string> } = {},
) {
  return db.insert(auditLog).select(
    db
      .select(
        auditSelection(now, action, "endpoint", {
          accountId: endpoints.accountId,
          targetId: endpoints.id,
          targetName: options.targetName ?? endpoints.name,
          details,
          actor: actorJson(accountId, actor),
        }),
      )
      .from(endpoints)
      .where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId), options.where)),
  );
}

export async function listEndpoints(accountId: string): Promise<EndpointDto[]> {
  const db = await getDb();
  return db
    .select(endpointColumns)
    .from(endpoints)
    .where(eq(endpoints.accountId, accountId))
    .orderBy(desc(endpoints.createdAt), desc(endpoints.id));
}

/** The endpoint and its audit entry commit together. The name is normalised by lib/core/names.ts, or refused. */
export async function createEndpoint(accountId: string, rawName: string, actor: AuditActor, now = new Date()): Promise<DalResult<EndpointDto>> {
  const checked = normalizeName(rawName);
  if (!checked.ok) return fail("BAD_REQUEST", checked.message);
  const name = checked.name;
  const db = await getDb();
  const id = newId();
  await runWriteBatch(db, [
    db.insert(endpoints).values({ id, accountId, name, createdAt: now }),
    auditEndpoint(db, now, actor, "endpoint.created", accountId, id, sql<string>`json_object()`),
  ]);
  return ok({ id, name, createdAt: now });
}

/** Renaming to the current name succeeds and records nothing: nothing changed. Names as in createEndpoint. */
export async function renameEndpoint(
  accountId: string,
  endpointId: string,
  rawName: string,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<EndpointDto>> {
  const checked = normalizeName(rawName);
  if (!checked.ok) return fail("BAD_REQUEST", checked.message);
  const name = checked.name;
  const db = await getDb();
  const [, updated] = await runWriteBatchResults(db, [
    // Before the update, to see the name it changes from.
    auditEndpoint(db, now, actor, "endpoint.renamed", accountId, endpointId, sql<string>`json_object('from', ${outer(endpoints.name)}, 'to', ${name})`, {
      where: ne(endpoints.name, name),
      // Named as it is called from now on; the old name is in the details.
      targetName: sql<string>`${name}`,
    }),
    db
      .update(endpoints)
      .set({ name })
      .where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId)))
      .returning({ createdAt: endpoints.createdAt }),
  ]);
  const createdAt = updated?.rows[0]?.created_at;
  return typeof createdAt === "number" ? ok({ id: endpointId, name, createdAt: new Date(createdAt) }) : fail("NOT_FOUND", NOT_FOUND);
}

/**
 * Also removes every key's override for this endpoint (foreign key cascade); the audit entry
 * names the keys that had one.
 */
export async function deleteEndpoint(accountId: string, endpointId: string, actor: AuditActor, now = new Date()): Promise<DalResult<{ id: string }>> {
  const db = await getDb();
  const keysWithOverride = sql<string>`json_object('keysWithOverride', json((
    SELECT json_group_array(k.name ORDER BY k.name, k.id)
    FROM api_key_endpoint_scopes s JOIN api_keys k ON k.account_id = s.account_id AND k.id = s.key_id
    WHERE s.account_id = ${outer(endpoints.accountId)} AND s.endpoint_id = ${outer(endpoints.id)}
  )))`;
  const [, deleted] = await runWriteBatch(db, [
    // Before the delete, while the endpoint and its overrides are still there to be named.
    auditEndpoint(db, now, actor, "endpoint.deleted", accountId, endpointId, keysWithOverride),
    db.delete(endpoints).where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId))),
  ]);
  return deleted ? ok({ id: endpointId }) : fail("NOT_FOUND", NOT_FOUND);
}

/** The account's own endpoint, or null: another account's id reads exactly like an unknown one. */
export async function getEndpoint(accountId: string, endpointId: string): Promise<EndpointDto | null> {
  const db = await getDb();
  const [row] = await db
    .select(endpointColumns)
    .from(endpoints)
    .where(and(eq(endpoints.id, endpointId), eq(endpoints.accountId, accountId)))
    .limit(1);
  return row ?? null;
}
