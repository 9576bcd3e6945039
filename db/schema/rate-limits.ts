import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The server processes serving this database (SPEC §9 rate limits across processes): each one
 * marks itself here on every rate-limit sync; a process not seen for a while is not live.
 */
export const dataPlaneProcesses = sqliteTable("data_plane_processes", {
  id: text("id").primaryKey(),
  seenAt: integer("seen_at").notNull(),
});

/**
 * Each live process's allowance of a key's rate-limit window and what it has used of it
 * (lib/core/restrictions/rate-limit.ts). Bookkeeping, not data: no foreign keys, rows of ended
 * windows and gone processes are deleted by the syncs.
 */
export const rateLimitShares = sqliteTable(
  "rate_limit_shares",
  {
    keyId: text("key_id").notNull(),
    windowStart: integer("window_start").notNull(),
    processId: text("process_id").notNull(),
    allowance: integer("allowance").notNull(),
    used: integer("used").notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.windowStart, t.processId] }), index("rate_limit_shares_window_idx").on(t.windowStart)],
);
