import { DatabaseUnavailableError } from "./unavailable";

type Waiter = { deadline: number; grant(): void; expire(): void };

/** The error a waiter gets when its deadline passes in the queue. */
const lockedOut = () => new DatabaseUnavailableError("database locked past its timeout");

/**
 * A FIFO mutex whose waiters give up at their deadline. The lock is handed on from a macrotask,
 * never straight from the releasing call, so that a queue of waiters that have all run out of
 * time cannot try the lock one after another without letting the event loop run in between.
 */
export class WriteGate {
  #held = false;
  #waiters: Waiter[] = [];

  get waiting(): number {
    return this.#waiters.length;
  }

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

/**
 * The turn of every write of one process on a file database, whichever path it takes (drizzle's
 * client or the prepared statements): one gate, one deadline per write. SQLite has one write lock
 * anyway; queueing here means only one write at a time polls it (each poll blocks the event loop
 * for a native busy timeout), so a burst of waiting writes costs the event loop no more than one.
 */
export class WriteQueue {
  readonly busyTimeoutMs: number;
  readonly #gate = new WriteGate();

  constructor(busyTimeoutMs: number) {
    this.busyTimeoutMs = busyTimeoutMs;
  }

  /** Writes waiting for their turn (not counting the one that has it). */
  get waiting(): number {
    return this.#gate.waiting;
  }

  /** Waits for this write's turn, or DatabaseUnavailableError at its deadline; release exactly once. */
  async enter(): Promise<{ deadline: number; release: () => void }> {
    const deadline = Date.now() + this.busyTimeoutMs;
    return { deadline, release: await this.#gate.acquire(deadline) };
  }

  /** Runs `work` in turn; it gets the deadline by which it must have the database's lock. */
  async run<T>(work: (deadline: number) => Promise<T>): Promise<T> {
    const { deadline, release } = await this.enter();
    try {
      return await work(deadline);
    } finally {
      release();
    }
  }
}
