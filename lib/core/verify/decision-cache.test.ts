import { describe, expect, it } from "vitest";
import { DecisionCache, Lru } from "./decision-cache";

type Entry = { id: string };
const hashOf = (n: number) => n.toString(16).padStart(64, "0");
const entry = (id: string): Entry => ({ id });

describe("Lru", () => {
  it("holds at most its bound, evicting the least recently used first", () => {
    const lru = new Lru<string, number>(3);
    for (const [key, value] of [["a", 1], ["b", 2], ["c", 3]] as const) expect(lru.set(key, value)).toBe(0);
    expect(lru.get("a")).toBe(1); // a is now the most recent: b is the oldest
    expect(lru.set("d", 4)).toBe(1);
    expect(lru.size).toBe(3);
    expect([lru.get("a"), lru.get("b"), lru.get("c"), lru.get("d")]).toEqual([1, undefined, 3, 4]);
  });

  it("setting a key again refreshes it instead of growing", () => {
    const lru = new Lru<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    lru.set("a", 10); // a is the most recent now
    lru.set("c", 3);
    expect([lru.get("a"), lru.get("b"), lru.get("c")]).toEqual([10, undefined, 3]);
  });

  it.each([0, -5, 0.5])("a bound of %s holds nothing", (bound) => {
    const lru = new Lru<string, number>(bound);
    expect(lru.set("a", 1)).toBe(0);
    expect([lru.size, lru.get("a")]).toEqual([0, undefined]);
  });
});

describe("DecisionCache", () => {
  it("a miss is undefined; a key is returned; an unknown hash is a null hit", () => {
    const cache = new DecisionCache<Entry>({ maxEntries: 10 });
    expect(cache.get(hashOf(1), null)).toBeUndefined();
    cache.set(hashOf(1), null, entry("k1"), 7);
    cache.set(hashOf(2), null, null, 7);
    expect(cache.get(hashOf(1), null)).toEqual(entry("k1"));
    expect(cache.get(hashOf(2), null)).toBeNull();
    expect(cache.stats).toMatchObject({ hits: 2, misses: 1 });
  });

  it("keeps lookups apart per endpoint, and apart from the endpoint-less lookup", () => {
    const cache = new DecisionCache<Entry>({ maxEntries: 10 });
    cache.set(hashOf(1), "ep_a", entry("on a"), 1);
    cache.set(hashOf(1), null, entry("graphql"), 1);
    expect(cache.get(hashOf(1), "ep_a")).toEqual(entry("on a"));
    expect(cache.get(hashOf(1), null)).toEqual(entry("graphql"));
    expect(cache.get(hashOf(1), "ep_b")).toBeUndefined();
    expect(cache.get(hashOf(1), "")).toBeUndefined();
  });

  it("is bounded, least recently used first", () => {
    const cache = new DecisionCache<Entry>({ maxEntries: 100 });
    for (let i = 0; i < 100; i++) cache.set(hashOf(i), null, entry(`k${i}`), 1);
    expect(cache.get(hashOf(0), null)).toEqual(entry("k0")); // used: stays
    for (let i = 100; i < 150; i++) cache.set(hashOf(i), null, entry(`k${i}`), 1);
    expect(cache.size).toBe(100);
    expect(cache.stats.evictions).toBe(50);
    expect(cache.get(hashOf(0), null)).toEqual(entry("k0"));
    expect(cache.get(hashOf(1), null)).toBeUndefined();
    expect(cache.get(hashOf(51), null)).toEqual(entry("k51"));
    expect(cache.get(hashOf(50), null)).toBeUndefined();
  });

  it("a flood of unknown hashes does not push out the keys in use", () => {
    const cache = new DecisionCache<Entry>({ maxEntries: 10, maxUnknown: 5 });
    for (let i = 0; i < 10; i++) cache.set(hashOf(i), null, entry(`k${i}`), 1);
    for (let i = 1000; i < 11_000; i++) cache.set(hashOf(i), null, null, 1);
    for (let i = 0; i < 10; i++) expect(cache.get(hashOf(i), null)).toEqual(entry(`k${i}`));
    expect(cache.size).toBe(15);
    expect(cache.get(hashOf(10_999), null)).toBeNull();
    expect(cache.get(hashOf(1000), null)).toBeUndefined();
  });

  describe("revision", () => {
    const filled = (revision: number) => {
      const cache = new DecisionCache<Entry>({ maxEntries: 10 });
      cache.set(hashOf(1), null, entry("k1"), revision);
      cache.set(hashOf(2), "ep", null, revision);
      return cache;
    };

    it("the first read sets it", () => {
      const cache = filled(5);
      expect(cache.revision).toBe(5);
      expect(cache.size).toBe(2);
    });

    it("observing the same revision keeps everything", () => {
      const cache = filled(5);
      expect(cache.observe(5)).toBe(false);
      expect(cache.get(hashOf(1), null)).toEqual(entry("k1"));
      expect(cache.get(hashOf(2), "ep")).toBeNull();
    });

    it.each([
      ["forward", 6],
      ["backward (a restored file)", 4],
    ])("observing a revision moved %s drops everything, unknown hashes included", (_label, next) => {
      const cache = filled(5);
      expect(cache.observe(next)).toBe(true);
      expect(cache.revision).toBe(next);
      expect(cache.size).toBe(0);
      expect(cache.get(hashOf(1), null)).toBeUndefined();
      expect(cache.get(hashOf(2), "ep")).toBeUndefined();
      expect(cache.stats.clears).toBe(1);
    });

    it("a lookup read at a newer revision drops what was read before it, and is kept", () => {
      const cache = filled(5);
      cache.set(hashOf(3), null, entry("k3"), 6);
      expect(cache.revision).toBe(6);
      expect(cache.get(hashOf(1), null)).toBeUndefined();
      expect(cache.get(hashOf(3), null)).toEqual(entry("k3"));
    });

    it("a lookup read at an older revision (it lost a race with a change) is not kept", () => {
      const cache = filled(5);
      cache.set(hashOf(3), null, entry("stale"), 4);
      expect(cache.get(hashOf(3), null)).toBeUndefined();
      expect(cache.revision).toBe(5);
      expect(cache.stats.stale).toBe(1);
    });

    it("clear forgets the revision too: the next read sets it again", () => {
      const cache = filled(5);
      cache.clear();
      expect([cache.revision, cache.size]).toEqual([undefined, 0]);
      cache.set(hashOf(1), null, entry("k1"), 3);
      expect(cache.revision).toBe(3);
      expect(cache.get(hashOf(1), null)).toEqual(entry("k1"));
    });

    it("time plays no part: nothing expires while the revision holds", () => {
      // No clock is ever read: the API has no way to pass one. Entries go only by revision or bound.
      const cache = filled(5);
      for (let i = 0; i < 1000; i++) expect(cache.observe(5)).toBe(false);
      expect(cache.get(hashOf(1), null)).toEqual(entry("k1"));
    });
  });
});
