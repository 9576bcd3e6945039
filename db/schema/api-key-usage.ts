import { foreignKey, index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { REQUIRED_LEVELS } from "@/lib/core/scopes/levels";
import { USAGE_CODES } from "@/lib/core/usage/tally";
import { apiKeys } from "./api-keys";

// SPEC §10: every decision about a known key, counted by time bucket × resource × access ×
// outcome (lib/core/usage/tally.ts). Written only by the usage flush (lib/dal/last-used.ts), one
// batch per interval; a key's rows go with it. Kept 30 days by hour and 400 days by day
// (lib/dal/usage.ts, pruneUsage). `resource` is "graphql", an endpoint id of the key's account
// (no foreign key: a deleted endpoint's history stays with the key), or "unknown".
function usageTable<Name extends string>(name: Name) {
  return sqliteTable(
    name,
    {
      accountId: text("account_id").notNull(),
      keyId: text("key_id").notNull(),
      // Epoch ms of the UTC hour (or day) the requests fell in.
      bucket: integer("bucket").notNull(),
      resource: text("resource").notNull(),
      via: text("via", { enum: ["api", "verify"] }).notNull(),
      access: text("access", { enum: REQUIRED_LEVELS }).notNull(),
      code: text("code", { enum: USAGE_CODES }).notNull(),
      count: integer("count").notNull(),
      // The latest request counted here (epoch ms): `Last seen`.
      lastAt: integer("last_at").notNull(),
    },
    (t) => [
      primaryKey({ columns: [t.keyId, t.bucket, t.resource, t.via, t.access, t.code] }),
      // The list's `Requests (7 d)` for every key of an account at once.
      index(`${name}_account_idx`).on(t.accountId, t.bucket),
      // Pruning by age.
      index(`${name}_bucket_idx`).on(t.bucket),
      foreignKey({ columns: [t.accountId, t.keyId], foreignColumns: [apiKeys.accountId, apiKeys.id] }).onDelete("cascade"),
    ],
  );
}

export const apiKeyUsageHourly = usageTable("api_key_usage_hourly");
export const apiKeyUsageDaily = usageTable("api_key_usage_daily");
