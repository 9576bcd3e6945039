import { sql } from "drizzle-orm";
import { check, integer, sqliteTable } from "drizzle-orm/sqlite-core";

/**
 * One row whose revision moves with every committed change that can change a key's decision: the
 * triggers of migration 0005 bump it in the same transaction as the change, so no writer can
 * forget to. Each process's decision cache (lib/dal/key-store.ts) polls it, and drops what it
 * holds when it moves. A new column read by the verifier needs its trigger there too
 * (lib/dal/decision-revision.test.ts fails until it has one, or is listed as not deciding).
 */
export const decisionRevision = sqliteTable(
  "decision_revision",
  {
    id: integer("id").primaryKey(),
    revision: integer("revision").notNull(),
  },
  (t) => [check("decision_revision_one_row", sql`${t.id} = 1`)],
);
