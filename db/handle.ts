import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { openDrizzle, type Database } from "./client";
import { CommitSignal } from "./commit-signal";
import { readDatabaseConfig } from "./config";
import { migrateDatabase } from "./migrate";
import { clientSqlRunner, openFileSqlRunner, type SqlRunner } from "./sql-runner";
import { diskFileOf } from "./url";
import { WriteQueue } from "./write-queue";

export type { Database } from "./client";
export type { BatchStatement, SqlRunner } from "./sql-runner";

/**
 * The database of one process, and everything that touches it: the connections (on a file,
 * @libsql/client's for drizzle and a native one for the prepared hot statements; on a libSQL
 * server, the one client), one write queue that every write of the process waits in, whichever
 * path it takes, one retry loop and one mapping to DatabaseUnavailableError (db/unavailable.ts),
 * and one signal after every committed write.
 */
export type DatabaseHandle = {
  readonly url: string;
  /** drizzle: the dashboard's queries and write batches (lib/dal). */
  readonly db: Database;
  /** Prepared statements: the data plane's hot reads and writes (verification, jobs, last-used dates). */
  readonly sql: SqlRunner;
  /** Writes waiting for their turn, not counting the one that has it (for tests and diagnostics). */
  readonly writesWaiting: number;
  /**
   * Calls `listener` synchronously after every write transaction this handle commits, on either
   * path (the decision cache drops what may have changed). Returns the function that stops it.
   */
  onCommittedWrite(listener: () => void): () => void;
  close(): void;
};

/**
 * Opens a handle; not migrated (getDatabaseHandle does that). One per process: a second one on
 * the same file has its own write queue, as another process would.
 */
export function openDatabaseHandle(url: string, options: { authToken?: string; busyTimeoutMs: number }): DatabaseHandle {
  const file = diskFileOf(url);
  if (file) createPrivately(file);
  const writes = new WriteQueue(options.busyTimeoutMs);
  const commits = new CommitSignal();
  const db = openDrizzle(url, { authToken: options.authToken, onDisk: file !== null, writes, onCommit: commits.notify });
  const native = file ? openFileSqlRunner(file, { writes, onCommit: commits.notify }) : null;
  return {
    url,
    db,
    sql: native ?? clientSqlRunner(db.$client),
    get writesWaiting() {
      return writes.waiting;
    },
    onCommittedWrite: (listener) => commits.listen(listener),
    close() {
      native?.close();
      db.$client.close();
    },
  };
}

/**
 * The database holds password hashes: a file created here is readable by its owner only (0600,
 * in a 0700 folder when the folder is new too). SQLite gives the -wal and -shm files the mode of
 * the database file. An existing file keeps the mode its operator gave it.
 */
function createPrivately(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // `wx`: create only. Never open (and close) an existing database file here: closing any
    // descriptor of a file drops every POSIX lock this process holds on it, SQLite's included.
    closeSync(openSync(file, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

type Opened = { url: string; handle: DatabaseHandle; ready: Promise<void> };

// One handle per process, even when Next.js bundles this module into several chunks.
const globalForDb = globalThis as unknown as { keyscopeDb?: Opened };

/** The process's database handle, migrated before first use. */
export async function getDatabaseHandle(): Promise<DatabaseHandle> {
  const env = readDatabaseConfig();
  let opened = globalForDb.keyscopeDb;
  if (!opened || opened.url !== env.DATABASE_URL) {
    const handle = openDatabaseHandle(env.DATABASE_URL, { authToken: env.DATABASE_AUTH_TOKEN, busyTimeoutMs: env.DATABASE_BUSY_TIMEOUT_MS });
    const current: Opened = { url: env.DATABASE_URL, handle, ready: migrateDatabase(handle.db, env.DATABASE_URL) };
    globalForDb.keyscopeDb = opened = current;
    current.ready.catch(() => {
      // Let the next call try again instead of caching a failed start for ever.
      if (globalForDb.keyscopeDb !== current) return;
      globalForDb.keyscopeDb = undefined;
      handle.close();
    });
  }
  await opened.ready;
  return opened.handle;
}

/** drizzle on the process's database handle, for the DAL. */
export async function getDb(): Promise<Database> {
  return (await getDatabaseHandle()).db;
}

/** Closes the process's handle (tests, and processes that must let go of the file); the next use opens a new one. */
export async function closeDatabaseHandle(): Promise<void> {
  const opened = globalForDb.keyscopeDb;
  if (!opened) return;
  globalForDb.keyscopeDb = undefined;
  await opened.ready.catch(() => undefined);
  opened.handle.close();
}
