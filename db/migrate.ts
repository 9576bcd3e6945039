import path from "node:path";
import { migrate } from "drizzle-orm/libsql/migrator";
import type { Database } from "./client";
import { filePathOf } from "./url";

export const MIGRATIONS_FOLDER = path.resolve(process.cwd(), "db/migrations");

/**
 * Brings a database to the current schema. File databases get WAL (persistent in the file) and
 * synchronous=FULL so that a committed change, such as disabling a key, survives a power cut.
 */
export async function migrateDatabase(db: Database, url: string, migrationsFolder = MIGRATIONS_FOLDER): Promise<void> {
  if (filePathOf(url)) {
    // libsql opens every pooled connection with synchronous=FULL already (asserted in
    // db/client.test.ts); WAL is a property of the file, set once here.
    await db.$client.execute("PRAGMA journal_mode=WAL");
  }
  try {
    await migrate(db, { migrationsFolder });
  } catch (error) {
    // Two processes starting on a new database at once: the loser of the race finds the tables
    // already created. Re-reading the journal makes it a no-op.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await migrate(db, { migrationsFolder }).catch(() => {
      throw error;
    });
  }
}
