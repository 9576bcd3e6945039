import { foreignKey, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { TEAM_ROLES } from "@/lib/core/teams/roles";
import { accounts } from "./accounts";
import { apiKeys } from "./api-keys";
import { users } from "./users";

/**
 * SPEC §11 invitations: a link shown once, single use, valid 7 days. Only the SHA-256 of the
 * link's token is stored, like a key's. Accepting sets `accepted_at`; nothing is ever reused.
 */
export const invitations = sqliteTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    // Lower-cased and trimmed, as users' emails are.
    email: text("email").notNull(),
    role: text("role", { enum: TEAM_ROLES }).notNull(),
    tokenHash: text("token_hash").notNull(),
    invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    acceptedAt: integer("accepted_at", { mode: "timestamp_ms" }),
    acceptedBy: text("accepted_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [uniqueIndex("invitations_token_hash_uq").on(t.tokenHash), index("invitations_account_idx").on(t.accountId, t.createdAt)],
);

/** SPEC §11 policies, one row per team (none: no limits). Owners change them at /settings/policies. */
export const teamPolicies = sqliteTable("team_policies", {
  accountId: text("account_id")
    .primaryKey()
    .references(() => accounts.id, { onDelete: "cascade" }),
  // `Maximum key lifetime` in days (30, 90, 365); null: `No limit`.
  maxKeyLifetimeDays: integer("max_key_lifetime_days"),
  // `GraphQL Read / Write needs approval`.
  graphqlWriteNeedsApproval: integer("graphql_write_needs_approval", { mode: "boolean" }).notNull().default(false),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export const APPROVAL_KINDS = ["created", "scopes_changed", "elevated"] as const;
export const APPROVAL_STATUSES = ["pending", "approved", "declined"] as const;

/**
 * A Member's request for GraphQL `Read / Write` under the approval policy (SPEC §11): the rest of
 * the change took effect at once; this part waits for an owner or admin at /settings/approvals.
 * `details` is JSON for what approving applies (an elevation's duration). A key's requests go with it.
 */
export const approvalRequests = sqliteTable(
  "approval_requests",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    keyId: text("key_id").notNull(),
    kind: text("kind", { enum: APPROVAL_KINDS }).notNull(),
    requestedBy: text("requested_by").references(() => users.id, { onDelete: "set null" }),
    status: text("status", { enum: APPROVAL_STATUSES }).notNull().default("pending"),
    details: text("details").notNull().default("{}"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    decidedAt: integer("decided_at", { mode: "timestamp_ms" }),
    decidedBy: text("decided_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [
    index("approval_requests_account_idx").on(t.accountId, t.status, t.createdAt),
    foreignKey({ columns: [t.accountId, t.keyId], foreignColumns: [apiKeys.accountId, apiKeys.id] }).onDelete("cascade"),
  ],
);
