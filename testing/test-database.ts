// Test-only helper: points the process at a fresh temporary SQLite file. Import it first in a
// test file. `readEnv()` reads (and caches) DATABASE_URL on the first `getDb()` call, not at
// import, so setting it while this module evaluates is early enough. Each test file runs in
// its own forked process and so gets its own database.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { InArgs } from "@libsql/client";
import { vi, type MockInstance } from "vitest";
import { closeDatabaseHandle, getDb } from "@/db/handle";

export const testDatabaseDir = mkdtempSync(path.join(os.tmpdir(), "keyscope-test-"));
export const testDatabasePath = path.join(testDatabaseDir, "test.db");
export const testDatabaseUrl = `file:${testDatabasePath}`;

process.env.DATABASE_URL = testDatabaseUrl;

export type RawRow = Record<string, unknown>;

/** Rows as plain objects keyed by column name, straight from SQLite (no drizzle mapping). */
export async function rawRows(sql: string, args: InArgs = []): Promise<RawRow[]> {
  const db = await getDb();
  const result = await db.$client.execute({ sql, args });
  return result.rows.map((row) => Object.fromEntries(result.columns.map((column, i) => [column, row[i]])));
}

export async function countRows(table: string, where = "1 = 1", args: InArgs = []): Promise<number> {
  const [row] = await rawRows(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, args);
  return Number(row?.n);
}

/** Every byte SQLite has written for the test database: the main file, and the WAL if any. */
export function readDatabaseFiles(): Buffer {
  const parts = [testDatabasePath, `${testDatabasePath}-wal`]
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file));
  return Buffer.concat(parts);
}

let emailCounter = 0;

/** A unique email for this file's database, so tests do not depend on one another's accounts. */
export function uniqueEmail(label = "user"): string {
  emailCounter += 1;
  return `${label}-${emailCounter}-${process.pid}@example.test`;
}

/** For afterAll: stops the data plane if one was opened, closes the database handle, removes the directory. */
export async function removeTestDatabase(): Promise<void> {
  const globalForPlane = globalThis as unknown as {
    keyscopeDataPlane?: Promise<{
      worker: { stop(): void };
      webhooks?: { stop(): Promise<void> };
      usage: { stop(): void };
      keyStore: { close(): void };
      jobs: { close(): void };
    }>;
  };
  const plane = await globalForPlane.keyscopeDataPlane?.catch(() => undefined);
  if (plane) {
    plane.worker.stop();
    await plane.webhooks?.stop();
    plane.usage.stop();
    plane.keyStore.close();
    plane.jobs.close();
    globalForPlane.keyscopeDataPlane = undefined;
  }
  await closeDatabaseHandle();
  rmSync(testDatabaseDir, { recursive: true, force: true });
}

/**
 * Runs `sql` on the real database right before the next `$client.batch` call goes through, to put
 * a concurrent change between a DAL function's read and its write deterministically. Call the
 * returned function to restore the client.
 */
export function runJustBeforeNextBatch(sql: string, args: InArgs): () => Promise<void> {
  let spy: MockInstance | undefined;
  const ready = getDb().then((db) => {
    const client = db.$client;
    const batch = client.batch.bind(client);
    spy = vi.spyOn(client, "batch").mockImplementationOnce(async (statements, mode) => {
      await client.execute({ sql, args });
      return batch(statements, mode);
    });
  });
  return async () => {
    await ready;
    spy?.mockRestore();
  };
}
