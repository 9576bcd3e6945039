import { foreignKey, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { REQUIRED_LEVELS } from "@/lib/core/scopes/levels";
import { apiKeys } from "./api-keys";
import { endpoints } from "./endpoints";

/**
 * Time-boxed elevations of a key's access (SPEC §8). A row is in force while `ended_at` is null
 * and the decision's own clock is before `ends_at`: nothing has to run when it ends. `target` is
 * `graphql`, `endpoints` (all of them) or `endpoint:<id>`; for the last, `endpoint_id` carries
 * the id so that the account-scoped foreign key removes the elevation with its endpoint.
 */
export const apiKeyElevations = sqliteTable(
  "api_key_elevations",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    keyId: text("key_id").notNull(),
    target: text("target").notNull(),
    endpointId: text("endpoint_id"),
    level: text("level", { enum: REQUIRED_LEVELS }).notNull(),
    reason: text("reason").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    endsAt: integer("ends_at", { mode: "timestamp_ms" }).notNull(),
    // Set when someone ends it early (`End elevation`).
    endedAt: integer("ended_at", { mode: "timestamp_ms" }),
    // Whether its end is in the audit log: written once, by whichever process first notices.
    endRecorded: integer("end_recorded", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [
    index("api_key_elevations_key_idx").on(t.keyId, t.endsAt),
    index("api_key_elevations_unrecorded_idx").on(t.endRecorded, t.endsAt),
    foreignKey({ columns: [t.accountId, t.keyId], foreignColumns: [apiKeys.accountId, apiKeys.id] }).onDelete("cascade"),
    foreignKey({ columns: [t.accountId, t.endpointId], foreignColumns: [endpoints.accountId, endpoints.id] }).onDelete("cascade"),
  ],
);
