import { describe, expect, it } from "vitest";
import { allocate, baseShare, heldBy, ShareLimiter, windowStart, type RateRule, type SlotShare } from "./rate-limit";

const T = Date.UTC(2026, 11, 2, 12, 0, 0); // a window boundary for every window size

describe("windows", () => {
  it.each([
    ["second", 1_000],
    ["minute", 60_000],
    ["hour", 3_600_000],
  ] as const)("a %s starts on its boundary", (per, size) => {
    expect(windowStart(T, per)).toBe(T);
    expect(windowStart(T + size - 1, per)).toBe(T);
    expect(windowStart(T + size, per)).toBe(T + size);
  });
});

describe("one process is exact", () => {
  it.each([1, 2, 10, 1000])("admits exactly %i per window, refuses the next, and starts again in the next window", (limit) => {
    const limiter = new ShareLimiter();
    const rule: RateRule = { limit, per: "minute" };
    for (let i = 0; i < limit; i++) {
      const state = limiter.take("k", rule, T + i);
      expect(state).toMatchObject({ allowed: true, limit, remaining: limit - i - 1 });
    }
    const refused = limiter.take("k", rule, T + 59_000);
    expect(refused).toEqual({ allowed: false, limit, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1 });
    expect(limiter.take("k", rule, T + 30_000)).toMatchObject({ allowed: false, resetSeconds: 30, retryAfterSeconds: 30 });
    expect(limiter.take("k", rule, T + 60_000)).toMatchObject({ allowed: true, remaining: limit - 1, resetSeconds: 60 });
  });

  it("keys and window sizes count apart; peek admits nothing", () => {
    const limiter = new ShareLimiter();
    expect(limiter.take("a", { limit: 1, per: "second" }, T).allowed).toBe(true);
    expect(limiter.take("b", { limit: 1, per: "second" }, T).allowed).toBe(true);
    expect(limiter.peek("a", { limit: 1, per: "second" }, T)).toMatchObject({ allowed: false, remaining: 0 });
    expect(limiter.peek("c", { limit: 5, per: "hour" }, T)).toMatchObject({ allowed: true, remaining: 5, resetSeconds: 3600 });
    expect(limiter.peek("c", { limit: 5, per: "hour" }, T)).toMatchObject({ remaining: 5 });
  });

  it("a changed limit applies at once", () => {
    const limiter = new ShareLimiter();
    for (let i = 0; i < 3; i++) limiter.take("k", { limit: 10, per: "minute" }, T);
    expect(limiter.take("k", { limit: 3, per: "minute" }, T).allowed).toBe(false);
    expect(limiter.take("k", { limit: 5, per: "minute" }, T)).toMatchObject({ allowed: true, remaining: 1 });
  });
});

describe("allocate", () => {
  it("alone, holds the whole budget", () => {
    expect(allocate({ limit: 100, used: 10, demand: 2, held: 100, othersHold: 0, othersUsed: 0, live: 1 })).toBe(100);
  });
  it("never below what was used, never above what the others leave", () => {
    expect(allocate({ limit: 100, used: 60, demand: 50, held: 60, othersHold: 70, othersUsed: 40, live: 2 })).toBe(60);
    expect(allocate({ limit: 100, used: 0, demand: 500, held: 0, othersHold: 70, othersUsed: 40, live: 2 })).toBe(30);
  });
  it("takes the larger of its demand and its 1/live part of what nobody has used", () => {
    // A quiet process still holds its part, so a generous limit never refuses early.
    expect(allocate({ limit: 100, used: 10, demand: 4, held: 10, othersHold: 0, othersUsed: 0, live: 2 })).toBe(55);
    expect(allocate({ limit: 1_000_000, used: 5_000, demand: 3_000, held: 8_000, othersHold: 400_000, othersUsed: 1_000, live: 2 })).toBe(502_000);
    // A busy one asks for its demand, within what the others leave.
    expect(allocate({ limit: 100, used: 10, demand: 400, held: 10, othersHold: 30, othersUsed: 30, live: 2 })).toBe(70);
  });
  it("keeps what it may have admitted while the sync was in flight: the lower of what it held and used + demand", () => {
    expect(allocate({ limit: 100, used: 10, demand: 40, held: 30, othersHold: 70, othersUsed: 70, live: 2 })).toBe(30);
    // …and gives back the rest: 10 used, room for its part (10) of the 20 nobody has used.
    expect(allocate({ limit: 100, used: 10, demand: 4, held: 30, othersHold: 70, othersUsed: 70, live: 2 })).toBe(20);
  });
  it("base shares", () => {
    expect([baseShare(10, 1), baseShare(10, 3), baseShare(1, 2), baseShare(7, 0)]).toEqual([10, 3, 0, 7]);
  });
});

/**
 * Several limiters and a shared table, synced one at a time as the database's write lock orders
 * them (the same arithmetic as lib/dal/rate-limit-sync.ts), with requests in between that land on
 * random processes. Checks the invariant the cross-process bound rests on: what all processes
 * admit in a window never exceeds the limit.
 */
function simulate(options: { processes: number; limit: number; requestsPerTick: number; ticks: number; seed: number }) {
  let seed = options.seed;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rule: RateRule = { limit: options.limit, per: "second" };
  const limiters = Array.from({ length: options.processes }, () => new ShareLimiter());
  const table = new Map<string, { allowance: number; used: number }>(); // `${start}/${process}`
  const admitted = new Map<number, number>();
  let now = T;
  const sync = (index: number) => {
    const limiter = limiters[index]!;
    const shares: SlotShare[] = [];
    for (const report of limiter.reports(now)) {
      const base = baseShare(rule.limit, limiters.length);
      let othersHold = 0;
      let othersUsed = 0;
      for (let other = 0; other < limiters.length; other++) {
        if (other === index) continue;
        const row = table.get(`${report.start}/${other}`);
        othersHold += row ? row.allowance : base;
        othersUsed += row ? row.used : 0;
      }
      const allowance = allocate({ limit: rule.limit, used: report.used, demand: report.demand, held: heldBy(report, limiters.length), othersHold, othersUsed, live: limiters.length });
      table.set(`${report.start}/${index}`, { allowance, used: report.used });
      shares.push({ keyId: "k", per: "second", start: report.start, allowance, othersUsed });
    }
    return () => limiter.applyShares(shares, limiters.length);
  };
  for (const limiter of limiters) limiter.applyShares([], limiters.length);
  for (let tick = 0; tick < options.ticks; tick++) {
    now += 10; // 10 ms per tick: a sync every 10 ticks per process, staggered
    for (let i = 0; i < options.requestsPerTick; i++) {
      const index = Math.floor(random() * limiters.length);
      if (limiters[index]!.take("k", rule, now).allowed) {
        const start = Math.floor(now / 1000) * 1000;
        admitted.set(start, (admitted.get(start) ?? 0) + 1);
      }
    }
    const syncing = tick % limiters.length;
    if (tick % 10 < limiters.length) {
      // The commit lands a tick later: requests in between run under the in-flight cap.
      const apply = sync(syncing);
      for (let i = 0; i < options.requestsPerTick; i++) {
        const index = Math.floor(random() * limiters.length);
        if (limiters[index]!.take("k", rule, now).allowed) {
          const start = Math.floor(now / 1000) * 1000;
          admitted.set(start, (admitted.get(start) ?? 0) + 1);
        }
      }
      apply();
    }
  }
  return [...admitted.values()];
}

describe("several processes never admit more than the limit in a window", () => {
  it.each([
    [2, 100, 5],
    [2, 100, 50],
    [3, 1000, 40],
    [4, 10, 3],
    [2, 1, 1],
    [3, 50, 2],
    [2, 7, 1],
  ])("%i processes, limit %i, %i requests per 10 ms", (processes, limit, requestsPerTick) => {
    for (let seed = 1; seed <= 20; seed++) {
      const perWindow = simulate({ processes, limit, requestsPerTick, ticks: 1000, seed: seed * 7919 + limit });
      expect(Math.max(...perWindow)).toBeLessThanOrEqual(limit);
    }
    const perWindow = simulate({ processes, limit, requestsPerTick, ticks: 1000, seed: processes * 7 + limit });
    expect(perWindow.length).toBeGreaterThan(5);
    // …and they share it: under load, most of the budget is used.
    if (requestsPerTick * 100 >= 4 * limit && limit >= 100) expect(Math.min(...perWindow.slice(1, -1))).toBeGreaterThan(limit * 0.5);
  });
});
