import { desc } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { accounts } from "./accounts";

export const AUDIT_ACTIONS = [
  "api_key.created",
  "api_key.enabled",
  "api_key.disabled",
  "api_key.scopes_changed",
  "api_key.deleted",
  "api_key.legacy_imported",
  "api_key.expiration_changed",
  "api_key.rolled",
  "api_key.previous_expired",
  "api_key.elevated",
  "api_key.elevation_ended",
  "api_key.restrictions_changed",
  "api_key.leaked",
  "api_key.expiring",
  "api_key.expired",
  "webhook.added",
  "webhook.deleted",
  "endpoint.created",
  "endpoint.renamed",
  "endpoint.deleted",
  // SPEC §11 members (lib/dal/members.ts). `action` is a text column: its enum is TypeScript's
  // only (no CHECK constraint), so new actions need no migration.
  "member.invited",
  "member.joined",
  "member.role_changed",
  "member.removed",
  // SPEC §11 policies and approvals (lib/dal/policies.ts, lib/dal/approvals.ts).
  "policies.changed",
  "approval.requested",
  "approval.approved",
  "approval.declined",
] as const;

export const AUDIT_TARGET_TYPES = ["api_key", "endpoint", "webhook", "member", "team"] as const;

/**
 * One row per key or endpoint change, written in the same transaction as the change. Targets are
 * named, not referenced: an entry outlives the key or endpoint it describes, but not the account.
 * No column ever holds a key, a hash or a hint.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    // Monotonic, so entries written in the same millisecond still list in the order they happened.
    id: integer("id").primaryKey({ autoIncrement: true }),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    action: text("action", { enum: AUDIT_ACTIONS }).notNull(),
    targetType: text("target_type", { enum: AUDIT_TARGET_TYPES }).notNull(),
    // Null when one entry covers several targets (a legacy import names its keys in `details`).
    targetId: text("target_id"),
    targetName: text("target_name"),
    // JSON text; its shape depends on `action` (lib/dal/audit-log.ts).
    details: text("details").notNull().default("{}"),
    // JSON text: who made the change (lib/dal/audit-log.ts, AuditActor). Null on entries written
    // before actors were recorded. Names and ids only, like the rest of the entry.
    actor: text("actor"),
  },
  (t) => [index("audit_log_account_created_idx").on(t.accountId, desc(t.createdAt), desc(t.id))],
);
