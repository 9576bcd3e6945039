import "server-only";
import type { Client, InValue } from "@libsql/client";
import Database from "libsql";
import { DatabaseUnavailableError, isBusyError as isBusy, WriteGate } from "@/db/busy-retry";

/**
 * Raw SQL for the data plane (verification and jobs), where the drizzle query builder costs more
 * than the lookup itself. On `file:` databases statements are prepared once and run on the
 * native binding; on libSQL servers they go through @libsql/client.
 */
export interface SqlRunner {
  get<T>(sql: string, args: InValue[]): Promise<T | undefined>;
  all<T>(sql: string, args: InValue[]): Promise<T[]>;
  /** Returns the number of rows changed. */
  run(sql: string, args: InValue[]): Promise<number>;
  /** Synchronous write for process exit, where no promise will settle; null when not possible. */
  runAtExit(sql: string, args: InValue[]): number | null;
  close(): void;
}

// One class for both database paths (drizzle's client and this runner): a 503, never a 500.
export { DatabaseUnavailableError };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A file database on the native binding. Its calls are synchronous, so a statement waiting for
 * another process's write lock would block the event loop: the connection's own busy timeout is
 * kept tiny, and waiting happens here, asynchronously, until `busyTimeoutMs` has passed.
 */
export function openFileSqlRunner(path: string, busyTimeoutMs: number): SqlRunner {
  const db = new Database(path, { timeout: 5 });
  // Keep the key index in memory: with 100k keys the default 2 MB page cache would send most
  // lookups to the OS. mmap lets reads skip the pread() syscalls altogether.
  db.pragma("cache_size = -65536");
  db.pragma("mmap_size = 268435456");
  type Statement = { get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[]; run(...args: unknown[]): { changes: number } };
  const statements = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql) as unknown as Statement;
      statements.set(sql, statement);
    }
    return statement;
  };
  // A statement that fails with SQLITE_BUSY is left un-reset (the binding has no reset()), and
  // the connection then reads a frozen snapshot until that statement runs again: a disabled key
  // would keep verifying here. So writes take the lock first with a one-shot BEGIN IMMEDIATE,
  // the only statement that can then be busy, and cached write statements never are.
  function inWriteTransaction<T>(work: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
  // Writes queue here, so that only one of them at a time tries the lock: each try blocks the
  // event loop for up to the native timeout, and twenty waiting requests trying in turn would
  // leave reads almost no time to run.
  const writes = new WriteGate();
  async function retry<T>(deadline: number, readOnly: boolean, work: () => T): Promise<T> {
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      try {
        return readOnly ? work() : inWriteTransaction(work);
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (Date.now() >= deadline) throw new DatabaseUnavailableError("database locked past its timeout");
        await sleep(Math.min(pause, deadline - Date.now()));
      }
    }
  }
  async function withRetry<T>(sql: string, work: () => T): Promise<T> {
    const deadline = Date.now() + busyTimeoutMs;
    if (/^\s*select\b/i.test(sql)) return retry(deadline, true, work);
    const release = await writes.acquire(deadline);
    try {
      return await retry(deadline, false, work);
    } finally {
      release();
    }
  }
  return {
    get: <T>(sql: string, args: InValue[]) => withRetry(sql, () => prepare(sql).get(...args) as T | undefined),
    all: <T>(sql: string, args: InValue[]) => withRetry(sql, () => prepare(sql).all(...args) as T[]),
    run: (sql, args) => withRetry(sql, () => prepare(sql).run(...args).changes),
    runAtExit: (sql, args) => prepare(sql).run(...args).changes,
    close: () => db.close(),
  };
}

export function clientSqlRunner(client: Client): SqlRunner {
  async function guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isBusy(error) || (error as { code?: string })?.code === "SERVER_ERROR") throw new DatabaseUnavailableError("database unavailable");
      throw error;
    }
  }
  return {
    get: <T>(sql: string, args: InValue[]) => guarded(async () => (await client.execute({ sql, args })).rows[0] as T | undefined),
    all: <T>(sql: string, args: InValue[]) => guarded(async () => (await client.execute({ sql, args })).rows as unknown as T[]),
    run: (sql, args) => guarded(async () => (await client.execute({ sql, args })).rowsAffected),
    runAtExit: () => null,
    close: () => {},
  };
}
