import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { TEAM_ROLES } from "@/lib/core/teams/roles";
import { accounts } from "./accounts";

/**
 * SPEC §11: the people who sign in. The `accounts` table of §1 is a team now: it owns the
 * endpoints, keys, audit log, usage and webhooks; a user belongs to teams through `memberships`.
 * Migration 0010 made one user per existing account, with the account's id, email, password hash
 * and session version, as that team's owner.
 */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  // Stored lower-cased and trimmed, so the unique index is case-insensitive in effect.
  email: text("email").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  // Bumped by sign-out: a session cookie carries the version it was issued at and is refused once
  // the row has moved on.
  sessionVersion: integer("session_version").notNull().default(0),
  createdAt: integer("created_at", { mode: "timestamp_ms" })
    .notNull()
    .default(sql`(cast(unixepoch('subsec') * 1000 as integer))`),
});

/** Who is in which team, with which role (lib/core/teams/roles.ts). */
export const memberships = sqliteTable(
  "memberships",
  {
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: TEAM_ROLES }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.userId] }), index("memberships_user_idx").on(t.userId, t.createdAt)],
);
