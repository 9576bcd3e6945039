import type { Client, InArgs, InStatement, Replicated, ResultSet, Transaction, TransactionMode } from "@libsql/client";

/**
 * What @libsql/client does on a `file:` URL when another process holds the write lock, and why
 * this wrapper exists:
 *
 * 1. The native binding is synchronous: a statement waiting out its busy timeout blocks the whole
 *    event loop for that long. So the client gets a tiny native timeout, and the real waiting is
 *    done here, asynchronously, with backoff, until DATABASE_BUSY_TIMEOUT_MS has passed.
 * 2. A prepared statement that fails with SQLITE_BUSY is left un-reset (the binding cannot reset
 *    it, and the client drops it for the garbage collector). Until it is collected its
 *    connection counts it as an active writer: the next "successful" write on that connection is
 *    never committed — it keeps the write lock and is rolled back later (libsql-client-ts issue
 *    352; reproduced in db/busy-retry.test.ts). So no prepared statement is ever allowed to meet
 *    a busy lock: every write first takes the lock with `BEGIN IMMEDIATE` through
 *    `executeMultiple` (sqlite3_exec, which finalises its statements even when they fail), on a
 *    connection pinned by a transaction, and only then runs its statements.
 * 3. Writes in this process queue behind one another here (SQLite has one write lock anyway), so
 *    only one of them at a time polls the lock, and a burst of waiting writes costs the event
 *    loop no more than one does.
 */

/**
 * The database is locked or unreachable past its timeout: a 503 with Retry-After for the APIs, a
 * "try again" message for dashboard actions — never a 500. (Also thrown by lib/dal/sql-runner.ts.)
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/**
 * Per attempt: a read waits at most this long behind a write that is trying the lock. Long
 * enough to absorb another process's ordinary sub-millisecond commits without a retry; short,
 * because a request crosses the event loop several times and may wait behind an attempt at each.
 */
export const NATIVE_BUSY_TIMEOUT_MS = 10;
const MAX_PAUSE_MS = 50;
const LOCKED = "database locked past its timeout";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

function asUnavailable(error: unknown): unknown {
  return isBusyError(error) ? new DatabaseUnavailableError(LOCKED, { cause: error }) : error;
}

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

function normalize(stmt: InStatement | [string, InArgs?]): { sql: string; args: InArgs } {
  if (typeof stmt === "string") return { sql: stmt, args: [] };
  if (Array.isArray(stmt)) return { sql: stmt[0], args: stmt[1] ?? [] };
  return { sql: stmt.sql, args: stmt.args ?? [] };
}

function hasArgs(args: InArgs): boolean {
  return Array.isArray(args) ? args.length > 0 : Object.keys(args).length > 0;
}

function kindOf(stmt: { sql: string; args: InArgs }): Kind {
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

type Waiter = { deadline: number; grant(): void; expire(): void };

/** The error a waiter gets when its deadline passes in the queue. */
const lockedOut = () => new DatabaseUnavailableError(LOCKED);

/**
 * A FIFO mutex whose waiters give up at their deadline. The lock is handed on from a macrotask,
 * never straight from the releasing call, so that a queue of waiters that have all run out of
 * time cannot try the lock one after another without letting the event loop run in between.
 */
export class WriteGate {
  #held = false;
  #waiters: Waiter[] = [];

  acquire(deadline: number): Promise<() => void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((other) => other !== waiter);
        waiter.expire();
      }, Math.max(0, deadline - Date.now()));
      const waiter: Waiter = {
        deadline,
        grant: () => {
          clearTimeout(timer);
          resolve(this.#releaser());
        },
        expire: () => {
          clearTimeout(timer);
          reject(lockedOut());
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      setImmediate(() => this.#handOff());
    };
  }

  #handOff(): void {
    for (let waiter = this.#waiters.shift(); waiter; waiter = this.#waiters.shift()) {
      if (Date.now() < waiter.deadline) return waiter.grant();
      waiter.expire();
    }
    this.#held = false;
  }
}

/** A write transaction that lets the next queued write go when it settles. */
class GatedTransaction implements Transaction {
  readonly #tx: Transaction;
  readonly #release: () => void;

  constructor(tx: Transaction, release: () => void) {
    this.#tx = tx;
    this.#release = release;
  }

  execute(stmt: InStatement): Promise<ResultSet> {
    return this.#tx.execute(stmt).catch((error: unknown) => Promise.reject(asUnavailable(error)));
  }

  batch(stmts: InStatement[]): Promise<ResultSet[]> {
    return this.#tx.batch(stmts).catch((error: unknown) => Promise.reject(asUnavailable(error)));
  }

  executeMultiple(sql: string): Promise<void> {
    return this.#tx.executeMultiple(sql).catch((error: unknown) => Promise.reject(asUnavailable(error)));
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
    } catch (error) {
      throw asUnavailable(error);
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
 * busy timeout, and a write still locked out after `busyTimeoutMs` rejects with
 * DatabaseUnavailableError (a 503, or a "try again" message) instead of SQLITE_BUSY. Reads run
 * straight through: in WAL mode they never wait for the write lock.
 */
export class BusyRetryClient implements Client {
  readonly #raw: Client;
  readonly #busyTimeoutMs: number;
  readonly #gate = new WriteGate();

  constructor(raw: Client, options: { busyTimeoutMs: number }) {
    this.#raw = raw;
    this.#busyTimeoutMs = options.busyTimeoutMs;
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
      case "direct":
        return this.#direct(() => this.#raw.execute(stmt));
      case "ensure":
        return this.#ensure(stmt.sql);
      case "write":
        return this.#write((tx) => tx.execute(stmt));
    }
  }

  batch(stmts: (InStatement | [string, InArgs?])[], mode: TransactionMode = "deferred"): Promise<ResultSet[]> {
    const normalized = stmts.map(normalize);
    if (mode === "read" || normalized.every((stmt) => kindOf(stmt) === "read")) return this.#direct(() => this.#raw.batch(normalized, mode));
    // All or nothing, as the client's own batch: tx.batch stops at the first failure and the
    // transaction is rolled back when it closes uncommitted.
    return this.#write((tx) => tx.batch(normalized));
  }

  async transaction(mode: TransactionMode = "write"): Promise<Transaction> {
    // A deferred transaction that upgrades to a write and meets the lock hits issue 352 mid-way,
    // so it starts as a write transaction, as every transaction here but a read-only one.
    if (mode === "read") return this.#direct(() => this.#raw.transaction("read"));
    const deadline = Date.now() + this.#busyTimeoutMs;
    const release = await this.#gate.acquire(deadline);
    try {
      return new GatedTransaction(await this.#beginImmediate(deadline), release);
    } catch (error) {
      release();
      throw error;
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
    const deadline = Date.now() + this.#busyTimeoutMs;
    const release = await this.#gate.acquire(deadline);
    try {
      for (let pause = 2; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
        const tx = await this.#raw.transaction("deferred");
        try {
          await tx.executeMultiple("ROLLBACK; PRAGMA foreign_keys=off; BEGIN DEFERRED");
          // Takes the write lock without a prepared statement: rewrite user_version unchanged.
          const version = Number((await tx.execute("PRAGMA user_version")).rows[0]?.[0] ?? 0);
          await tx.executeMultiple(`PRAGMA user_version = ${Math.trunc(version)}`);
        } catch (error) {
          await this.#restoreForeignKeys(tx);
          if (!isBusyError(error)) throw error;
          await this.#pauseBefore(deadline, pause, error);
          continue;
        }
        try {
          const results = await tx.batch(stmts);
          await tx.executeMultiple("COMMIT; PRAGMA foreign_keys=on; BEGIN DEFERRED");
          return results;
        } catch (error) {
          await this.#restoreForeignKeys(tx);
          throw asUnavailable(error);
        } finally {
          tx.close();
        }
      }
    } finally {
      release();
    }
  }

  executeMultiple(sql: string): Promise<void> {
    // sqlite3_exec finalises what it runs, so a busy failure here leaves nothing behind; whether
    // a half-run script may be run again is the caller's business, so no retry.
    return this.#direct(() => this.#raw.executeMultiple(sql));
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

  async #direct<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  async #write<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    const release = await this.#gate.acquire(deadline);
    try {
      const tx = await this.#beginImmediate(deadline);
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } catch (error) {
        throw asUnavailable(error);
      } finally {
        tx.close(); // rolls back whatever did not commit
      }
    } finally {
      release();
    }
  }

  /** A connection pinned in a `BEGIN IMMEDIATE` transaction, or DatabaseUnavailableError at the deadline. */
  async #beginImmediate(deadline: number): Promise<Transaction> {
    for (let pause = 2; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
      // BEGIN DEFERRED takes no lock, so it cannot be busy; it only pins a connection.
      const tx = await this.#raw.transaction("deferred");
      try {
        await tx.executeMultiple("ROLLBACK; BEGIN IMMEDIATE");
        return tx;
      } catch (error) {
        tx.close();
        if (!isBusyError(error)) throw error;
        await this.#pauseBefore(deadline, pause, error);
      }
    }
  }

  /** Idempotent DDL: run through sqlite3_exec, so it needs (and waits for) the lock only when it writes. */
  async #ensure(sql: string): Promise<ResultSet> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
      const tx = await this.#raw.transaction("deferred");
      try {
        await tx.executeMultiple(sql);
        await tx.commit();
        return emptyResultSet();
      } catch (error) {
        tx.close();
        if (!isBusyError(error)) throw error;
        await this.#pauseBefore(deadline, pause, error);
      }
    }
  }

  async #pauseBefore(deadline: number, pause: number, cause: unknown): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new DatabaseUnavailableError(LOCKED, { cause });
    await sleep(Math.min(pause, left));
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
