import type { InArgs, InStatement, ResultSet } from "@libsql/client";
import type { Database } from "@/db/handle";

type BuiltQuery = { toSQL(): { sql: string; params: unknown[] } };

/**
 * Runs several drizzle statements atomically as one `BEGIN IMMEDIATE` batch on one connection:
 * all of them commit or none do, and the write lock is taken up front rather than upgraded
 * half-way (which can fail with SQLITE_BUSY in WAL mode). A change and its audit entry go
 * through here together.
 */
export async function runWriteBatchResults(db: Database, queries: BuiltQuery[]): Promise<ResultSet[]> {
  const statements: InStatement[] = queries.map((query) => {
    const { sql, params } = query.toSQL();
    return { sql, args: params as InArgs };
  });
  return db.$client.batch(statements, "write");
}

/** As runWriteBatchResults, answering only the number of rows each statement changed. */
export async function runWriteBatch(db: Database, queries: BuiltQuery[]): Promise<number[]> {
  const results = await runWriteBatchResults(db, queries);
  return results.map((result) => result.rowsAffected);
}
