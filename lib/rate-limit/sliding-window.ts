// Pure: an in-memory sliding-window log. Time comes in as `now` (ms since the epoch), so tests
// are deterministic. One instance counts one thing (e.g. failed sign-ins per email) in one process.

export type SlidingWindowOptions = {
  /** How many hits a key may have inside any window. */
  limit: number;
  windowMs: number;
  /**
   * Memory bound: past this many keys, expired keys are swept and then the least recently hit
   * keys are forgotten. Keeps a flood of distinct keys from growing the process without end.
   */
  maxKeys?: number;
};

export type WindowVerdict = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

const DEFAULT_MAX_KEYS = 50_000;

export class SlidingWindow {
  readonly limit: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  // Hit times per key, ascending. Map order doubles as least-recently-hit order (see record()).
  private readonly hits = new Map<string, number[]>();

  constructor({ limit, windowMs, maxKeys = DEFAULT_MAX_KEYS }: SlidingWindowOptions) {
    if (!(limit >= 1) || !(windowMs > 0) || !(maxKeys >= 1)) throw new RangeError("SlidingWindow needs limit ≥ 1, windowMs > 0, maxKeys ≥ 1");
    this.limit = limit;
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
  }

  /** Whether one more hit is allowed now, without recording it. */
  check(key: string, now: number): WindowVerdict {
    const times = this.live(key, now);
    if (times.length < this.limit) return { ok: true, remaining: this.limit - times.length };
    // The hit that has to leave the window before there is room for one more.
    const blocking = times[times.length - this.limit]!;
    return { ok: false, retryAfterMs: Math.max(1, blocking + this.windowMs - now) };
  }

  /** Records a hit (whether or not it was allowed: callers check first). */
  record(key: string, now: number): void {
    const times = this.live(key, now);
    let at = times.length;
    while (at > 0 && times[at - 1]! > now) at -= 1;
    times.splice(at, 0, now);
    // Only the newest `limit` hits can ever matter to check().
    if (times.length > this.limit) times.splice(0, times.length - this.limit);
    this.hits.delete(key);
    this.hits.set(key, times);
    if (this.hits.size > this.maxKeys) this.shrink(now);
  }

  /** Takes back one hit recorded at `at` (a reserved slot that turned out not to count). */
  release(key: string, at: number): void {
    const times = this.hits.get(key);
    if (!times) return;
    const index = times.lastIndexOf(at);
    if (index !== -1) times.splice(index, 1);
    if (times.length === 0) this.hits.delete(key);
  }

  /** Forgets every hit of a key. */
  reset(key: string): void {
    this.hits.delete(key);
  }

  /** How many keys are held (for tests and the memory bound). */
  get size(): number {
    return this.hits.size;
  }

  private live(key: string, now: number): number[] {
    const times = this.hits.get(key);
    if (!times) return [];
    const cutoff = now - this.windowMs;
    let expired = 0;
    while (expired < times.length && times[expired]! <= cutoff) expired += 1;
    if (expired > 0) times.splice(0, expired);
    if (times.length === 0) this.hits.delete(key);
    return times;
  }

  private shrink(now: number): void {
    for (const key of [...this.hits.keys()]) this.live(key, now);
    // Still too many live keys: forget the least recently hit, down to 90% to amortise the sweep.
    const target = Math.floor(this.maxKeys * 0.9);
    for (const key of this.hits.keys()) {
      if (this.hits.size <= target) break;
      this.hits.delete(key);
    }
  }
}
