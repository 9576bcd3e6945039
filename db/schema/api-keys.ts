import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ACCESS_LEVELS } from "@/lib/core/scopes/levels";
import { accounts } from "./accounts";
import { users } from "./users";

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["scoped", "legacy"] }).notNull(),
    // SHA-256 (hex) of the full key; the plaintext is never stored.
    keyHash: text("key_hash").notNull(),
    hint: text("hint").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    // Legacy keys store the levels their permission implies, so one decision path serves both kinds.
    graphqlLevel: text("graphql_level", { enum: ACCESS_LEVELS }).notNull().default("none"),
    endpointsAllLevel: text("endpoints_all_level", { enum: ACCESS_LEVELS }).notNull().default("none"),
    createdAt: integer("created_at", { mode: "timestamp_ms" })
      .notNull()
      .default(sql`(cast(unixepoch('subsec') * 1000 as integer))`),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    // SPEC §8. Null: never expires. From this instant on the key is refused with KEY_EXPIRED.
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    // After a roll: the secret before it (SHA-256), its hint, and until when it still verifies.
    // Cleared once its grace period has ended and that end is in the audit log.
    previousKeyHash: text("previous_key_hash"),
    previousHint: text("previous_hint"),
    previousValidUntil: integer("previous_valid_until", { mode: "timestamp_ms" }),
    // The grace period ends sooner, at the new secret's first successful use.
    previousUntilFirstUse: integer("previous_until_first_use", { mode: "boolean" }).notNull().default(false),
    // SPEC §9 restrictions. JSON array of CIDR ranges as lib/core/restrictions/addresses.ts writes
    // them; null: any address.
    allowedIps: text("allowed_ips"),
    // Requests per `rate_limit_per` window, across every route and the verify API; null: none.
    rateLimit: integer("rate_limit"),
    rateLimitPer: text("rate_limit_per", { enum: ["second", "minute", "hour"] }),
    // SPEC §9 leak reports: when a scanner reported the key (it was disabled in the same
    // transaction), where, and when the dashboard's banner about it was dismissed.
    leakedAt: integer("leaked_at", { mode: "timestamp_ms" }),
    leakUrl: text("leak_url"),
    leakSource: text("leak_source"),
    leakDismissedAt: integer("leak_dismissed_at", { mode: "timestamp_ms" }),
    // Events sent once per key (SPEC §9): "expires within 7 days" and "expired".
    expiringNotified: integer("expiring_notified", { mode: "boolean" }).notNull().default(false),
    expiredNotified: integer("expired_notified", { mode: "boolean" }).notNull().default(false),
    // SPEC §11 `Created by`: the member who created the key (keys made before teams: the account's
    // own user); null for keys imported by the CLI, or once that user is gone.
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [
    // Verification is one lookup by this index.
    uniqueIndex("api_keys_key_hash_uq").on(t.keyHash),
    // …or by this one, for a secret in its grace period after a roll.
    uniqueIndex("api_keys_previous_key_hash_uq").on(t.previousKeyHash).where(sql`${t.previousKeyHash} IS NOT NULL`),
    // Grace periods that have ended but are not yet in the audit log (lib/dal/lifecycle-ends.ts).
    index("api_keys_previous_valid_until_idx").on(t.previousValidUntil).where(sql`${t.previousKeyHash} IS NOT NULL`),
    // Keys whose "expires within 7 days" or "expired" event is still to be written (lib/dal/key-lifecycle.ts,
    // recordExpiryEvents): the sweep reads this range every few seconds, not the whole table.
    index("api_keys_expiry_notice_idx").on(t.expiresAt).where(sql`${t.expiredNotified} = 0 AND ${t.expiresAt} IS NOT NULL`),
    index("api_keys_account_idx").on(t.accountId, t.createdAt),
    uniqueIndex("api_keys_account_id_uq").on(t.accountId, t.id),
  ],
);
