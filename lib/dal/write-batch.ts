import type { InArgs, InStatement } from "@libsql/client";
import type { Database } from "@/db/client";

type BuiltQuery = { toSQL(): { sql: string; params: unknown[] } };

/**
 * Runs several drizzle statements atomically as one `BEGIN IMMEDIATE` batch on one connection:
 * all of them commit or none do, and the write lock is taken up front rather than upgraded
 * half-way (which can fail with SQLITE_BUSY in WAL mode).
 */
export async function runWriteBatch(db: Database, queries: BuiltQuery[]): Promise<number[]> {
  const statements: InStatement[] = queries.map((query) => {
    const { sql, params } = query.toSQL();
    return { sql, args: params as InArgs };
  });
  const results = await db.$client.batch(statements, "write");
  return results.map((result) => result.rowsAffected);
}
