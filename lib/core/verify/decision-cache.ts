// Pure: what the verifier's lookups returned, kept for one revision of the decision-relevant data.
// The revision comes in as an argument (read by lib/dal/key-store.ts from `decision_revision`), so
// every rule here is tested without a database or a clock.

/** A bounded map that forgets its least recently used entry first (a Map keeps insertion order). */
export class Lru<K, V> {
  readonly #max: number;
  readonly #entries = new Map<K, V>();

  constructor(maxEntries: number) {
    this.#max = Math.max(0, Math.floor(maxEntries));
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, now the most recently used; `undefined` when absent. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    // Moving it to the end is what keeps it from being evicted next.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** Returns how many entries were evicted to make room (0 or 1). */
  set(key: K, value: V): number {
    if (this.#max === 0) return 0;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size <= this.#max) return 0;
    const oldest = this.#entries.keys().next().value as K;
    this.#entries.delete(oldest);
    return 1;
  }

  clear(): void {
    this.#entries.clear();
  }
}

export type DecisionCacheStats = { hits: number; misses: number; clears: number; evictions: number; stale: number };

/**
 * Lookups by (key hash, endpoint id), including "no such key" (null), valid only at the revision
 * they were read at. Known keys and unknown hashes are bounded apart, so a flood of random
 * well-formed keys cannot push the keys in real use out.
 */
export class DecisionCache<V extends object> {
  readonly #known: Lru<string, V>;
  readonly #unknown: Lru<string, true>;
  #revision: number | undefined;
  readonly stats: DecisionCacheStats = { hits: 0, misses: 0, clears: 0, evictions: 0, stale: 0 };

  constructor(options: { maxEntries: number; maxUnknown?: number }) {
    this.#known = new Lru(options.maxEntries);
    this.#unknown = new Lru(options.maxUnknown ?? options.maxEntries);
  }

  /** The revision every entry was read at; undefined while nothing is known. */
  get revision(): number | undefined {
    return this.#revision;
  }

  get size(): number {
    return this.#known.size + this.#unknown.size;
  }

  /** The hash is fixed-length hex, so no endpoint id can make two keys collide. */
  static keyOf(keyHash: string, endpointId: string | null): string {
    return endpointId === null ? keyHash : `${keyHash}/${endpointId}`;
  }

  /** A hit is the stored key or null (known to be unknown); `undefined` is a miss. */
  get(keyHash: string, endpointId: string | null): V | null | undefined {
    const key = DecisionCache.keyOf(keyHash, endpointId);
    const known = this.#known.get(key);
    if (known !== undefined) {
      this.stats.hits += 1;
      return known;
    }
    if (this.#unknown.get(key) !== undefined) {
      this.stats.hits += 1;
      return null;
    }
    this.stats.misses += 1;
    return undefined;
  }

  /**
   * Keeps a lookup read at `readAt`. A newer revision means something changed since the entries
   * held were read: they all go. An older one is a read that lost a race with a change: dropped.
   */
  set(keyHash: string, endpointId: string | null, value: V | null, readAt: number): void {
    if (this.#revision === undefined || readAt > this.#revision) this.observe(readAt);
    else if (readAt < this.#revision) {
      this.stats.stale += 1;
      return;
    }
    const key = DecisionCache.keyOf(keyHash, endpointId);
    this.stats.evictions += value === null ? this.#unknown.set(key, true) : this.#known.set(key, value);
  }

  /** The database's current revision: any move (either way: a replaced file) drops every entry. Returns whether it moved. */
  observe(revision: number): boolean {
    if (revision === this.#revision) return false;
    this.clear();
    this.#revision = revision;
    return true;
  }

  /** Drops every entry and forgets the revision: nothing is trusted until a read says where we are. */
  clear(): void {
    if (this.size > 0) this.stats.clears += 1;
    this.#known.clear();
    this.#unknown.clear();
    this.#revision = undefined;
  }
}
