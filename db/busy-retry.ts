import type { Client, InArgs, InStatement, Replicated, ResultSet, Transaction, TransactionMode } from "@libsql/client";
import { mapUnavailable, retryWhileBusy, toUnavailable } from "./unavailable";
import type { WriteQueue } from "./write-queue";

/**
 * What @libsql/client does on a `file:` URL when another process holds the write lock, and why
 * this wrapper exists:
 *
 * 1. The native binding is synchronous: a statement waiting out its busy timeout blocks the whole
 *    event loop for that long. So the client gets a tiny native timeout, and the real waiting is
 *    done asynchronously, with backoff (retryWhileBusy), until DATABASE_BUSY_TIMEOUT_MS has passed.
 * 2. A prepared statement that fails with SQLITE_BUSY is left un-reset (the binding cannot reset
 *    it, and the client drops it for the garbage collector). Until it is collected its
 *    connection counts it as an active writer: the next "successful" write on that connection is
 *    never committed — it keeps the write lock and is rolled back later (libsql-client-ts issue
 *    352; reproduced in db/busy-retry.test.ts). So no prepared statement is ever allowed to meet
 *    a busy lock: every write first takes the lock with `BEGIN IMMEDIATE` through
 *    `executeMultiple` (sqlite3_exec, which finalises its statements even when they fail), on a
 *    connection pinned by a transaction, and only then runs its statements.
 * 3. Writes wait for their turn in the process's one WriteQueue, shared with the prepared
 *    statements (db/sql-runner.ts), so only one write of the process at a time polls the lock.
 */

/**
 * Per attempt: a read waits at most this long behind a write that is trying the lock. Long
 * enough to absorb another process's ordinary sub-millisecond commits without a retry; short,
 * because a request crosses the event loop several times and may wait behind an attempt at each.
 */
export const NATIVE_BUSY_TIMEOUT_MS = 10;

type Kind = "read" | "direct" | "ensure" | "write";
const DIRECT = new Set(["pragma", "begin", "commit", "end", "rollback", "savepoint", "release", "vacuum", "attach", "detach"]);

function firstWord(sql: string): string {
  const head = sql.replace(/^(\s+|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, "");
  return (/^[a-z]+/i.exec(head)?.[0] ?? "").toLowerCase();
}

/** How a statement must run. `ensure`: idempotent DDL that writes only when the object is missing. */
export function statementKind(sql: string, hasArgs: boolean): Kind {
  const word = firstWord(sql);
  if (word === "select" || word === "explain" || word === "values") return "read";
  if (DIRECT.has(word)) return "direct";
  if (word === "create" && !hasArgs && /\bif\s+not\s+exists\b/i.test(sql) && !/;\s*\S/.test(sql)) return "ensure";
  return "write";
}

export function normalize(stmt: InStatement | [string, InArgs?]): { sql: string; args: InArgs } {
  if (typeof stmt === "string") return { sql: stmt, args: [] };
  if (Array.isArray(stmt)) return { sql: stmt[0], args: stmt[1] ?? [] };
  return { sql: stmt.sql, args: stmt.args ?? [] };
}

function hasArgs(args: InArgs): boolean {
  return Array.isArray(args) ? args.length > 0 : Object.keys(args).length > 0;
}

export function kindOf(stmt: { sql: string; args: InArgs }): Kind {
  return statementKind(stmt.sql, hasArgs(stmt.args));
}

const emptyResultSet = (): ResultSet => ({
  columns: [],
  columnTypes: [],
  rows: [],
  rowsAffected: 0,
  lastInsertRowid: undefined,
  toJSON: () => ({ columns: [], columnTypes: [], rows: [], rowsAffected: 0, lastInsertRowid: null }),
});

/**
 * A write transaction that lets the next queued write go when it settles, and tells `onCommit`
 * when it committed. (Also used, with nothing to release, by the ungated client in db/client.ts.)
 */
export class GatedTransaction implements Transaction {
  readonly #tx: Transaction;
  readonly #release: () => void;
  readonly #onCommit: () => void;

  constructor(tx: Transaction, release: () => void, onCommit: () => void) {
    this.#tx = tx;
    this.#release = release;
    this.#onCommit = onCommit;
  }

  execute(stmt: InStatement): Promise<ResultSet> {
    return mapUnavailable(() => this.#tx.execute(stmt));
  }

  batch(stmts: InStatement[]): Promise<ResultSet[]> {
    return mapUnavailable(() => this.#tx.batch(stmts));
  }

  executeMultiple(sql: string): Promise<void> {
    return mapUnavailable(() => this.#tx.executeMultiple(sql));
  }

  async rollback(): Promise<void> {
    try {
      await this.#tx.rollback();
    } finally {
      this.#release();
    }
  }

  async commit(): Promise<void> {
    try {
      await this.#tx.commit();
      this.#onCommit();
    } catch (error) {
      throw toUnavailable(error);
    } finally {
      this.#tx.close();
      this.#release();
    }
  }

  close(): void {
    try {
      this.#tx.close();
    } finally {
      this.#release();
    }
  }

  get closed(): boolean {
    return this.#tx.closed;
  }
}

/**
 * Wraps a `file:` client so that no write blocks the event loop for longer than one short native
 * busy timeout, and a write still locked out after the queue's busy timeout rejects with
 * DatabaseUnavailableError (a 503, or a "try again" message) instead of SQLITE_BUSY. Reads run
 * straight through: in WAL mode they never wait for the write lock. `onCommit` is told after
 * every write it commits.
 */
export class BusyRetryClient implements Client {
  readonly #raw: Client;
  readonly #writes: WriteQueue;
  readonly #onCommit: () => void;

  constructor(raw: Client, options: { writes: WriteQueue; onCommit?: () => void }) {
    this.#raw = raw;
    this.#writes = options.writes;
    this.#onCommit = options.onCommit ?? (() => {});
  }

  get closed(): boolean {
    return this.#raw.closed;
  }

  get protocol(): string {
    return this.#raw.protocol;
  }

  execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    const stmt = typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : normalize(stmtOrSql);
    switch (kindOf(stmt)) {
      case "read":
        return mapUnavailable(() => this.#raw.execute(stmt));
      case "direct":
        // A PRAGMA may write: told as a commit, to be safe.
        return mapUnavailable(() => this.#raw.execute(stmt)).then(this.#committed);
      case "ensure":
        return this.#ensure(stmt.sql);
      case "write":
        return this.#write((tx) => tx.execute(stmt));
    }
  }

  batch(stmts: (InStatement | [string, InArgs?])[], mode: TransactionMode = "deferred"): Promise<ResultSet[]> {
    const normalized = stmts.map(normalize);
    if (mode === "read" || normalized.every((stmt) => kindOf(stmt) === "read")) return mapUnavailable(() => this.#raw.batch(normalized, mode));
    // All or nothing, as the client's own batch: tx.batch stops at the first failure and the
    // transaction is rolled back when it closes uncommitted.
    return this.#write((tx) => tx.batch(normalized));
  }

  async transaction(mode: TransactionMode = "write"): Promise<Transaction> {
    // A deferred transaction that upgrades to a write and meets the lock hits issue 352 mid-way,
    // so it starts as a write transaction, as every transaction here but a read-only one.
    if (mode === "read") return mapUnavailable(() => this.#raw.transaction("read"));
    const { deadline, release } = await this.#writes.enter();
    try {
      return new GatedTransaction(await this.#beginImmediate(deadline), release, this.#onCommit);
    } catch (error) {
      release();
      throw toUnavailable(error);
    }
  }

  /**
   * Schema migrations, with foreign keys off as the client's own migrate runs them (so a table
   * rebuild does not cascade). `foreign_keys` can only change outside a transaction, hence the
   * pinned connection's ROLLBACK / PRAGMA / BEGIN sequences.
   */
  async migrate(stmts: InStatement[]): Promise<ResultSet[]> {
    // drizzle's migrator calls this even when nothing is pending: no lock is needed then, so a
    // process can start while another one holds the write lock.
    if (stmts.length === 0) return [];
    return mapUnavailable(() =>
      this.#writes.run(async (deadline) => {
        const tx = await retryWhileBusy(deadline, async () => {
          const tx = await this.#raw.transaction("deferred");
          try {
            await tx.executeMultiple("ROLLBACK; PRAGMA foreign_keys=off; BEGIN DEFERRED");
            // Takes the write lock without a prepared statement: rewrite user_version unchanged.
            const version = Number((await tx.execute("PRAGMA user_version")).rows[0]?.[0] ?? 0);
            await tx.executeMultiple(`PRAGMA user_version = ${Math.trunc(version)}`);
            return tx;
          } catch (error) {
            await this.#restoreForeignKeys(tx);
            throw error;
          }
        });
        try {
          const results = await tx.batch(stmts);
          await tx.executeMultiple("COMMIT; PRAGMA foreign_keys=on; BEGIN DEFERRED");
          this.#onCommit();
          return results;
        } catch (error) {
          await this.#restoreForeignKeys(tx);
          throw error;
        } finally {
          tx.close();
        }
      }),
    );
  }

  executeMultiple(sql: string): Promise<void> {
    // sqlite3_exec finalises what it runs, so a busy failure here leaves nothing behind; whether
    // a half-run script may be run again is the caller's business, so no retry. It may write: in
    // turn, and told as a commit.
    return mapUnavailable(() => this.#writes.run(() => this.#raw.executeMultiple(sql))).then(this.#committed);
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

  #write<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return mapUnavailable(() =>
      this.#writes.run(async (deadline) => {
        const tx = await this.#beginImmediate(deadline);
        try {
          const result = await work(tx);
          await tx.commit();
          this.#onCommit();
          return result;
        } finally {
          tx.close(); // rolls back whatever did not commit
        }
      }),
    );
  }

  /** A connection pinned in a `BEGIN IMMEDIATE` transaction, or DatabaseUnavailableError at the deadline. */
  #beginImmediate(deadline: number): Promise<Transaction> {
    return retryWhileBusy(deadline, async () => {
      // BEGIN DEFERRED takes no lock, so it cannot be busy; it only pins a connection.
      const tx = await this.#raw.transaction("deferred");
      try {
        await tx.executeMultiple("ROLLBACK; BEGIN IMMEDIATE");
        return tx;
      } catch (error) {
        tx.close();
        throw error;
      }
    });
  }

  /** Idempotent DDL: run through sqlite3_exec, so it needs (and waits for) the lock only when it writes. */
  #ensure(sql: string): Promise<ResultSet> {
    return mapUnavailable(() =>
      this.#writes.run((deadline) =>
        retryWhileBusy(deadline, async () => {
          const tx = await this.#raw.transaction("deferred");
          try {
            await tx.executeMultiple(sql);
            await tx.commit();
            this.#onCommit();
            return emptyResultSet();
          } catch (error) {
            tx.close();
            throw error;
          }
        }),
      ),
    );
  }

  async #restoreForeignKeys(tx: Transaction): Promise<void> {
    if (!tx.closed) {
      await tx.executeMultiple("ROLLBACK; PRAGMA foreign_keys=on; BEGIN DEFERRED").catch(() => this.#raw.reconnect());
    } else {
      // The transaction ended under us (a failed COMMIT): the pinned connection can no longer be
      // reached to turn foreign keys back on, so drop every connection rather than keep it.
      this.#raw.reconnect();
    }
    tx.close();
  }
}
