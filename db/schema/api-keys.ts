import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ACCESS_LEVELS } from "@/lib/core/scopes/levels";
import { accounts } from "./accounts";

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
  },
  (t) => [
    // Verification is one lookup by this index.
    uniqueIndex("api_keys_key_hash_uq").on(t.keyHash),
    index("api_keys_account_idx").on(t.accountId, t.createdAt),
    uniqueIndex("api_keys_account_id_uq").on(t.accountId, t.id),
  ],
);
