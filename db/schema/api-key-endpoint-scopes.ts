import { foreignKey, index, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { ACCESS_LEVELS } from "@/lib/core/scopes/levels";
import { apiKeys } from "./api-keys";
import { endpoints } from "./endpoints";

// Per-endpoint overrides of a key's `endpoints.all` level. The account id is part of both
// foreign keys, so the database itself refuses an override that names another account's
// endpoint; deleting an endpoint or a key removes its overrides.
export const apiKeyEndpointScopes = sqliteTable(
  "api_key_endpoint_scopes",
  {
    accountId: text("account_id").notNull(),
    keyId: text("key_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    level: text("level", { enum: ACCESS_LEVELS }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.keyId, t.endpointId] }),
    index("api_key_endpoint_scopes_endpoint_idx").on(t.accountId, t.endpointId),
    foreignKey({ columns: [t.accountId, t.keyId], foreignColumns: [apiKeys.accountId, apiKeys.id] }).onDelete("cascade"),
    foreignKey({ columns: [t.accountId, t.endpointId], foreignColumns: [endpoints.accountId, endpoints.id] }).onDelete(
      "cascade",
    ),
  ],
);
