import { createClient, type Client, type InArgs, type InStatement, type Replicated, type ResultSet, type Transaction, type TransactionMode } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { BusyRetryClient, GatedTransaction, kindOf, NATIVE_BUSY_TIMEOUT_MS, normalize } from "./busy-retry";
import * as schema from "./schema";
import { mapUnavailable } from "./unavailable";
import type { WriteQueue } from "./write-queue";

export type Database = LibSQLDatabase<typeof schema> & { $client: Client };

/**
 * drizzle over @libsql/client, the handle's first path (db/handle.ts). On disk through
 * BusyRetryClient, each write in the process's turn (`writes`); `onCommit` is told after every
 * write it commits.
 */
export function openDrizzle(url: string, options: { authToken?: string; onDisk: boolean; writes: WriteQueue; onCommit: () => void }): Database {
  const { writes, onCommit } = options;
  if (!options.onDisk) {
    const raw = createClient({ url, authToken: options.authToken, timeout: writes.busyTimeoutMs });
    return drizzle(new UngatedClient(raw, onCommit), { schema }) as Database;
  }
  // On files the native binding blocks the event loop while it waits for a lock: it waits a few
  // milliseconds per attempt, and BusyRetryClient waits the rest, asynchronously, up to the
  // busy timeout (see db/busy-retry.ts).
  const raw = createClient({ url, timeout: Math.min(writes.busyTimeoutMs, NATIVE_BUSY_TIMEOUT_MS) });
  return drizzle(new BusyRetryClient(raw, { writes, onCommit }), { schema }) as Database;
}

/**
 * libSQL servers and in-memory databases: no lock in this process to poll (the server queues the
 * writes; an in-memory database has no other process), so no gate and no retry here — but the
 * same mapping to DatabaseUnavailableError, and the same news of commits.
 */
export class UngatedClient implements Client {
  readonly #raw: Client;
  readonly #onCommit: () => void;

  constructor(raw: Client, onCommit: () => void) {
    this.#raw = raw;
    this.#onCommit = onCommit;
  }

  get closed(): boolean {
    return this.#raw.closed;
  }

  get protocol(): string {
    return this.#raw.protocol;
  }

  execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    const stmt = typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : normalize(stmtOrSql);
    const running = mapUnavailable(() => this.#raw.execute(stmt));
    return kindOf(stmt) === "read" ? running : running.then(this.#committed);
  }

  batch(stmts: (InStatement | [string, InArgs?])[], mode: TransactionMode = "deferred"): Promise<ResultSet[]> {
    const normalized = stmts.map(normalize);
    const running = mapUnavailable(() => this.#raw.batch(normalized, mode));
    return mode === "read" || normalized.every((stmt) => kindOf(stmt) === "read") ? running : running.then(this.#committed);
  }

  async transaction(mode: TransactionMode = "write"): Promise<Transaction> {
    const tx = await mapUnavailable(() => this.#raw.transaction(mode));
    return new GatedTransaction(tx, () => {}, mode === "read" ? () => {} : this.#onCommit);
  }

  migrate(stmts: InStatement[]): Promise<ResultSet[]> {
    return mapUnavailable(() => this.#raw.migrate(stmts)).then(this.#committed);
  }

  executeMultiple(sql: string): Promise<void> {
    return mapUnavailable(() => this.#raw.executeMultiple(sql)).then(this.#committed);
  }

  sync(): Promise<Replicated> {
    return this.#raw.sync();
  }

  close(): void {
    this.#raw.close();
  }

  reconnect(): void {
    this.#raw.reconnect();
  }

  readonly #committed = <T>(result: T): T => {
    this.#onCommit();
    return result;
  };
}
