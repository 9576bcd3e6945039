import { sql } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * A team (SPEC §11; "account" in §1–§10, and in every `account_id` column). Since migration 0010
 * the people who sign in are `users`; `email` here is the email of the user who created the team
 * (its name in the `Team` switcher), and `password_hash` / `session_version` are no longer read.
 */
export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  // Stored lower-cased and trimmed, so the unique index is case-insensitive in effect.
  email: text("email").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  // Bumped by sign-out (and, later, password change or "sign out everywhere"): a session cookie
  // carries the version it was issued at and is refused once the row has moved on.
  sessionVersion: integer("session_version").notNull().default(0),
  createdAt: integer("created_at", { mode: "timestamp_ms" })
    .notNull()
    .default(sql`(cast(unixepoch('subsec') * 1000 as integer))`),
});
