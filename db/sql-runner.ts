import type { Client, InValue } from "@libsql/client";
import Database from "libsql";
import { statementKind } from "./busy-retry";
import { isBusyError, mapUnavailable, retryWhileBusy, toUnavailable } from "./unavailable";
import type { WriteQueue } from "./write-queue";

/**
 * Raw SQL for the data plane (verification, jobs, last-used dates), where the drizzle query
 * builder costs more than the lookup itself. On `file:` databases statements are prepared once
 * and run on the native binding; on libSQL servers they go through the handle's @libsql/client.
 * One of the two paths of the database handle (db/handle.ts): same write queue, same retry loop,
 * same mapping to DatabaseUnavailableError as drizzle's.
 */
export interface SqlRunner {
  get<T>(sql: string, args: InValue[]): Promise<T | undefined>;
  all<T>(sql: string, args: InValue[]): Promise<T[]>;
  /** Returns the number of rows changed. */
  run(sql: string, args: InValue[]): Promise<number>;
  /** Synchronous write for process exit, where no promise will settle; null when not possible. */
  runAtExit(sql: string, args: InValue[]): number | null;
  /** Several writes in one transaction: all commit or none do. Returns each one's rows changed. */
  batch(statements: readonly BatchStatement[]): Promise<number[]>;
  /** As `batch`, synchronously, for process exit; null when not possible. */
  batchAtExit(statements: readonly BatchStatement[]): number[] | null;
}

export type BatchStatement = { sql: string; args: InValue[] };

/**
 * Per attempt, on the native connection. Tiny: a write trying the lock blocks the event loop for
 * this long, and retryWhileBusy waits the rest asynchronously.
 */
const ATTEMPT_TIMEOUT_MS = 5;

type Statement = { get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[]; run(...args: unknown[]): { changes: number } };
type Entry = { write: boolean; statement?: Statement };

/**
 * A file database on the native binding. Its calls are synchronous, so a statement waiting for
 * another process's write lock would block the event loop: the connection's own busy timeout is
 * kept tiny, and waiting happens in retryWhileBusy, until the queue's busy timeout has passed.
 * `onCommit` is told after every write it commits.
 */
export function openFileSqlRunner(path: string, options: { writes: WriteQueue; onCommit?: () => void }): SqlRunner & { close(): void } {
  const { writes } = options;
  const onCommit = options.onCommit ?? (() => {});
  const db = new Database(path, { timeout: ATTEMPT_TIMEOUT_MS });
  // Keep the key index in memory: with 100k keys the default 2 MB page cache would send most
  // lookups to the OS. mmap lets reads skip the pread() syscalls altogether.
  db.pragma("cache_size = -65536");
  db.pragma("mmap_size = 268435456");
  const entries = new Map<string, Entry>();
  const entryOf = (sql: string): Entry => {
    let entry = entries.get(sql);
    if (!entry) {
      entry = { write: statementKind(sql, false) !== "read" };
      entries.set(sql, entry);
    }
    return entry;
  };
  const prepared = (entry: Entry, sql: string): Statement => (entry.statement ??= db.prepare(sql) as unknown as Statement);
  // A statement that fails with SQLITE_BUSY is left un-reset (the binding has no reset()), and
  // the connection then reads a frozen snapshot until that statement runs again: a disabled key
  // would keep verifying here. So writes take the lock first with a one-shot BEGIN IMMEDIATE,
  // the only statement that can then be busy, and cached write statements never are.
  function inWriteTransaction<T>(work: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      onCommit();
      return result;
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
  function exec<T>(sql: string, work: (statement: Statement) => T): Promise<T> {
    const entry = entryOf(sql);
    if (!entry.write) {
      // The hot path: one synchronous call. A read is busy only in rare cases (WAL recovery).
      try {
        return Promise.resolve(work(prepared(entry, sql)));
      } catch (error) {
        if (!isBusyError(error)) return Promise.reject(toUnavailable(error));
      }
      return mapUnavailable(() => retryWhileBusy(Date.now() + writes.busyTimeoutMs, () => work(prepared(entry, sql))));
    }
    // In turn with every other write of the process, drizzle's included.
    return mapUnavailable(() => writes.run((deadline) => retryWhileBusy(deadline, () => inWriteTransaction(() => work(prepared(entry, sql))))));
  }
  const runAll = (statements: readonly BatchStatement[]) => statements.map(({ sql, args }) => prepared(entryOf(sql), sql).run(...args).changes);
  return {
    get: <T>(sql: string, args: InValue[]) => exec(sql, (statement) => statement.get(...args) as T | undefined),
    all: <T>(sql: string, args: InValue[]) => exec(sql, (statement) => statement.all(...args) as T[]),
    run: (sql, args) => exec(sql, (statement) => statement.run(...args).changes),
    runAtExit: (sql, args) => {
      const changes = prepared(entryOf(sql), sql).run(...args).changes;
      onCommit();
      return changes;
    },
    batch: (statements) =>
      mapUnavailable(() => writes.run((deadline) => retryWhileBusy(deadline, () => inWriteTransaction(() => runAll(statements))))),
    batchAtExit: (statements) => {
      // The process is leaving and no promise will settle: wait for another process's write lock
      // here, synchronously, for up to a second.
      const deadline = Date.now() + 1_000;
      for (;;) {
        try {
          return inWriteTransaction(() => runAll(statements));
        } catch (error) {
          if (!isBusyError(error) || Date.now() >= deadline) throw error;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ATTEMPT_TIMEOUT_MS);
        }
      }
    },
    close: () => db.close(),
  };
}

/**
 * On libSQL servers (and in-memory databases): through the handle's client, which maps errors and
 * tells of commits itself (db/client.ts).
 */
export function clientSqlRunner(client: Client): SqlRunner {
  return {
    get: async <T>(sql: string, args: InValue[]) => (await client.execute({ sql, args })).rows[0] as T | undefined,
    all: async <T>(sql: string, args: InValue[]) => (await client.execute({ sql, args })).rows as unknown as T[],
    run: async (sql, args) => (await client.execute({ sql, args })).rowsAffected,
    runAtExit: () => null,
    batch: async (statements) => (await client.batch(statements.map(({ sql, args }) => ({ sql, args })), "write")).map((result) => result.rowsAffected),
    batchAtExit: () => null,
  };
}
