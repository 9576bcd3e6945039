import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { BusyRetryClient, NATIVE_BUSY_TIMEOUT_MS } from "./busy-retry";
import { readDatabaseConfig } from "./config";
import { migrateDatabase } from "./migrate";
import * as schema from "./schema";
import { filePathOf } from "./url";

export type Database = LibSQLDatabase<typeof schema> & { $client: Client };

type Handle = { url: string; db: Database; ready: Promise<void> };

// One client per process, even when Next.js bundles this module into several chunks.
const globalForDb = globalThis as unknown as { keyscopeDb?: Handle };

export function openDatabase(url: string, options: { authToken?: string; busyTimeoutMs: number }): Database {
  const filePath = filePathOf(url);
  // In-memory databases have no other process to wait for (and one connection only).
  const onDisk = filePath !== null && filePath !== ":memory:" && !/[?&]mode=memory\b/.test(url);
  if (onDisk) createPrivately(path.resolve(filePath));
  if (!onDisk) {
    const client = createClient({ url, authToken: options.authToken, timeout: options.busyTimeoutMs });
    return drizzle(client, { schema }) as Database;
  }
  // On files the native binding blocks the event loop while it waits for a lock: it waits a few
  // milliseconds per attempt, and BusyRetryClient waits the rest, asynchronously, up to
  // busyTimeoutMs (see db/busy-retry.ts).
  const raw = createClient({ url, timeout: Math.min(options.busyTimeoutMs, NATIVE_BUSY_TIMEOUT_MS) });
  return drizzle(new BusyRetryClient(raw, { busyTimeoutMs: options.busyTimeoutMs }), { schema }) as Database;
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

/** The process-wide database, migrated before first use. */
export async function getDb(): Promise<Database> {
  const env = readDatabaseConfig();
  let handle = globalForDb.keyscopeDb;
  if (!handle || handle.url !== env.DATABASE_URL) {
    const db = openDatabase(env.DATABASE_URL, { authToken: env.DATABASE_AUTH_TOKEN, busyTimeoutMs: env.DATABASE_BUSY_TIMEOUT_MS });
    handle = { url: env.DATABASE_URL, db, ready: migrateDatabase(db, env.DATABASE_URL) };
    globalForDb.keyscopeDb = handle;
    handle.ready.catch(() => {
      // Let the next call try again instead of caching a failed start for ever.
      if (globalForDb.keyscopeDb === handle) globalForDb.keyscopeDb = undefined;
    });
  }
  await handle.ready;
  return handle.db;
}
