import "server-only";
import { and, count, desc, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { accounts, auditLog, webhookDeliveries, webhooks } from "@/db/schema";
import type { DELIVERY_STATUSES } from "@/db/schema/webhooks";
import { generateWebhookSecret } from "@/lib/core/webhooks/signature";
import { parseWebhookUrl } from "@/lib/core/webhooks/target";
import { actorJson, auditSelection, type AuditActor } from "./audit-log";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

// SPEC §9: an account's webhooks and the deliveries the outbox trigger made for them (migration
// 0007). A webhook's secret leaves this module once, in addWebhook's result: no read returns it
// (the delivery worker reads it through lib/dal/webhook-outbox.ts). Audit entries name a webhook
// by its URL's origin only: paths and queries often carry a receiver's own token (Slack's do).

export const MAX_WEBHOOKS_PER_ACCOUNT = 20;
export const DELIVERIES_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 200;

export type WebhookDto = { id: string; url: string; createdAt: Date };

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export type WebhookDeliveryDto = {
  id: string;
  webhookId: string;
  webhookUrl: string;
  /** `key.created`, `key.disabled`, … */
  event: string;
  status: DeliveryStatus;
  attempts: number;
  /** The receiver's last HTTP status, when it answered at all. */
  lastStatus: number | null;
  /** Why the last attempt failed, in a few words (never a response body). */
  lastError: string | null;
  createdAt: Date;
  completedAt: Date | null;
  /** When a pending delivery is tried next. */
  nextAttemptAt: Date | null;
};

export type WebhookDeliveriesPage = { deliveries: WebhookDeliveryDto[]; page: number; pageSize: number; total: number; hasNext: boolean };

const NOT_FOUND = "Webhook not found.";

const webhookColumns = { id: webhooks.id, url: webhooks.url, createdAt: webhooks.createdAt };

/** The name an audit entry gives a webhook: scheme, host and port. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * Registers a webhook. Refused: a URL outside the rule (lib/core/webhooks/target.ts), one the
 * account has already registered, or a 21st. Both checks are part of the insert, so two adds at
 * once cannot pass them together. The secret is in the result only, once.
 */
export async function addWebhook(
  accountId: string,
  rawUrl: string,
  actor: AuditActor,
  options: { allowPrivate?: boolean; now?: Date } = {},
): Promise<DalResult<{ webhook: WebhookDto; secret: string }>> {
  const parsed = parseWebhookUrl(rawUrl, { allowPrivate: options.allowPrivate ?? false });
  if (!parsed.ok) return fail("BAD_REQUEST", parsed.message);
  const url = parsed.url.href;
  const now = options.now ?? new Date();
  const id = `whk_${newId()}`;
  const secret = generateWebhookSecret();
  const db = await getDb();
  const mine = eq(webhooks.accountId, accountId);
  const [inserted] = await runWriteBatch(db, [
    db.insert(webhooks).select(
      db
        .select({
          id: sql<string>`${id}`.as("id"),
          accountId: accounts.id,
          url: sql<string>`${url}`.as("url"),
          secret: sql<string>`${secret}`.as("secret"),
          createdAt: sql<number>`${now.getTime()}`.as("created_at"),
        })
        .from(accounts)
        .where(
          and(
            eq(accounts.id, accountId),
            sql`(SELECT count(*) FROM ${webhooks} WHERE ${mine}) < ${MAX_WEBHOOKS_PER_ACCOUNT}`,
            sql`NOT EXISTS (SELECT 1 FROM ${webhooks} WHERE ${mine} AND ${webhooks.url} = ${url})`,
          ),
        ),
    ),
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "webhook.added", "webhook", {
            accountId: webhooks.accountId,
            targetId: webhooks.id,
            targetName: sql<string>`${parsed.url.origin}`,
            details: sql<string>`json_object()`,
            actor: actorJson(accountId, actor),
          }),
        )
        .from(webhooks)
        .where(and(eq(webhooks.id, id), mine)),
    ),
  ]);
  if (!inserted) {
    const [existing] = await db
      .select({ total: count(), same: sql<number>`coalesce(sum(${webhooks.url} = ${url}), 0)` })
      .from(webhooks)
      .where(mine);
    if ((existing?.same ?? 0) > 0) return fail("CONFLICT", "This URL is already registered.");
    if ((existing?.total ?? 0) >= MAX_WEBHOOKS_PER_ACCOUNT) return fail("BAD_REQUEST", `An account can have at most ${MAX_WEBHOOKS_PER_ACCOUNT} webhooks.`);
    return fail("NOT_FOUND", "Account not found.");
  }
  return ok({ webhook: { id, url, createdAt: now }, secret });
}

/** The account's webhooks, newest first, without their secrets. */
export async function listWebhooks(accountId: string): Promise<WebhookDto[]> {
  const db = await getDb();
  return db.select(webhookColumns).from(webhooks).where(eq(webhooks.accountId, accountId)).orderBy(desc(webhooks.createdAt), desc(webhooks.id));
}

/**
 * Removes a webhook and, with it, its deliveries (pending ones are never sent); the audit entry
 * says how many were still pending.
 */
export async function deleteWebhook(accountId: string, webhookId: string, actor: AuditActor, now = new Date()): Promise<DalResult<{ id: string }>> {
  const db = await getDb();
  const target = and(eq(webhooks.id, webhookId), eq(webhooks.accountId, accountId));
  const [found] = await db.select({ url: webhooks.url }).from(webhooks).where(target).limit(1);
  if (!found) return fail("NOT_FOUND", NOT_FOUND);
  const pending = sql<number>`(SELECT count(*) FROM ${webhookDeliveries}
    WHERE ${webhookDeliveries.accountId} = ${accountId} AND ${webhookDeliveries.webhookId} = ${webhookId} AND ${webhookDeliveries.status} = 'pending')`;
  const [, deleted] = await runWriteBatch(db, [
    // Before the delete, to count what it drops; nothing is recorded if it is already gone.
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "webhook.deleted", "webhook", {
            accountId: webhooks.accountId,
            targetId: webhooks.id,
            targetName: sql<string>`${originOf(found.url)}`,
            details: sql<string>`json_object('pendingDropped', ${pending})`,
            actor: actorJson(accountId, actor),
          }),
        )
        .from(webhooks)
        .where(target),
    ),
    db.delete(webhooks).where(target),
  ]);
  return deleted ? ok({ id: webhookId }) : fail("NOT_FOUND", NOT_FOUND);
}

/** The account's deliveries (of one webhook, when given), newest first, one page at a time. */
export async function listDeliveries(accountId: string, options: { webhookId?: string; page: number; pageSize?: number }): Promise<WebhookDeliveriesPage> {
  const pageSize =
    Number.isSafeInteger(options.pageSize) && (options.pageSize ?? 0) >= 1 ? Math.min(options.pageSize ?? 0, MAX_PAGE_SIZE) : DELIVERIES_PAGE_SIZE;
  const page = Number.isSafeInteger(options.page) && options.page >= 1 ? options.page : 1;
  const offset = (page - 1) * pageSize;
  const where = and(
    eq(webhookDeliveries.accountId, accountId),
    options.webhookId === undefined ? undefined : eq(webhookDeliveries.webhookId, options.webhookId),
  );
  const db = await getDb();
  const [rows, [counted]] = await Promise.all([
    Number.isSafeInteger(offset)
      ? db
          .select({
            id: webhookDeliveries.id,
            webhookId: webhookDeliveries.webhookId,
            webhookUrl: webhooks.url,
            event: webhookDeliveries.event,
            status: webhookDeliveries.status,
            attempts: webhookDeliveries.attempts,
            lastStatus: webhookDeliveries.lastStatus,
            lastError: webhookDeliveries.lastError,
            createdAt: webhookDeliveries.createdAt,
            completedAt: webhookDeliveries.completedAt,
            nextAttemptAt: webhookDeliveries.nextAttemptAt,
          })
          .from(webhookDeliveries)
          .innerJoin(webhooks, and(eq(webhooks.accountId, webhookDeliveries.accountId), eq(webhooks.id, webhookDeliveries.webhookId)))
          .where(where)
          .orderBy(desc(webhookDeliveries.createdAt), desc(sql`${webhookDeliveries}.rowid`))
          .limit(pageSize + 1)
          .offset(offset)
      : Promise.resolve([]),
    db.select({ total: count() }).from(webhookDeliveries).where(where),
  ]);
  const deliveries = rows.slice(0, pageSize).map((row) => ({ ...row, nextAttemptAt: row.status === "pending" ? row.nextAttemptAt : null }));
  return { deliveries, page, pageSize, total: counted?.total ?? 0, hasNext: rows.length > pageSize };
}
