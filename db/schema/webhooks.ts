import { foreignKey, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { accounts } from "./accounts";

/**
 * An account's webhook receivers (SPEC §9). `secret` signs every delivery (HMAC-SHA256): it is
 * shown once when the webhook is added and must be kept to sign, so unlike a key it is stored.
 */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    secret: text("secret").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("webhooks_account_idx").on(t.accountId, t.createdAt), uniqueIndex("webhooks_account_id_uq").on(t.accountId, t.id)],
);

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;

/**
 * The outbox: one row per event and webhook, written by a trigger on audit_log in the same
 * transaction as the change (migration 0007), so no change can commit without its events. Its id
 * is the `Keyscope-Delivery` header. Each server process's worker claims due rows atomically (like
 * jobs), so two processes never send the same delivery at once; it retries with backoff for 24 h.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    webhookId: text("webhook_id").notNull(),
    // `key.created`, `key.disabled`, … (lib/dal/webhooks.ts); the audit entry it came from.
    event: text("event").notNull(),
    auditId: integer("audit_id"),
    payload: text("payload").notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }).notNull(),
    // While a worker is sending it: until when its claim holds (a crashed worker's claim lapses).
    claimedUntil: integer("claimed_until", { mode: "timestamp_ms" }),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    completedAt: integer("completed_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_account_idx").on(t.accountId, t.createdAt),
    foreignKey({ columns: [t.accountId, t.webhookId], foreignColumns: [webhooks.accountId, webhooks.id] }).onDelete("cascade"),
  ],
);
