import { mkdirSync } from "node:fs";
import path from "node:path";
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { readEnv } from "@/lib/env";
import { BusyRetryClient, NATIVE_BUSY_TIMEOUT_MS } from "./busy-retry";
import { migrateDatabase } from "./migrate";
import * as schema from "./schema";
import { filePathOf } from "./url";

export type Database = LibSQLDatabase<typeof schema> & { $client: Client };

type Handle = { url: string; db: Database; ready: Promise<void> };

// One client per process, even when Next.js bundles this module into several chunks.
const globalForDb = globalThis as unknown as { keyscopeDb?: Handle };

export function openDatabase(url: string, options: { authToken?: string; busyTimeoutMs: number }): Database {
  const filePath = filePathOf(url);
  if (filePath && filePath !== ":memory:") mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
  // In-memory databases have no other process to wait for (and one connection only).
  const onDisk = filePath !== null && filePath !== ":memory:" && !/[?&]mode=memory\b/.test(url);
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

/** The process-wide database, migrated before first use. */
export async function getDb(): Promise<Database> {
  const env = readEnv();
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
