import { describe, expect, it } from "vitest";
import { SlidingWindow } from "./sliding-window";

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 1);

type Step = [action: "hit" | "check" | "release" | "reset", atMinutes: number, expected?: unknown];

describe("SlidingWindow (limit 3 per 10 minutes)", () => {
  it.each<[string, Step[]]>([
    ["allows up to the limit, counting down", [["check", 0, { ok: true, remaining: 3 }], ["hit", 0], ["check", 0, { ok: true, remaining: 2 }], ["hit", 1], ["hit", 2], ["check", 2, { ok: false, retryAfterMs: 8 * MINUTE }]]],
    ["slides: the oldest hit leaving the window makes room", [["hit", 0], ["hit", 4], ["hit", 5], ["check", 9.5, { ok: false, retryAfterMs: 0.5 * MINUTE }], ["check", 10, { ok: true, remaining: 1 }], ["hit", 10], ["check", 10, { ok: false, retryAfterMs: 4 * MINUTE }]]],
    ["hits past the limit do not extend the wait beyond the newest `limit` hits", [["hit", 0], ["hit", 1], ["hit", 2], ["hit", 3], ["hit", 4], ["check", 4, { ok: false, retryAfterMs: 8 * MINUTE }]]],
    ["a whole window later everything is forgotten", [["hit", 0], ["hit", 0], ["hit", 0], ["check", 10, { ok: true, remaining: 3 }]]],
    ["release gives one slot back", [["hit", 0], ["hit", 1], ["hit", 2], ["release", 1], ["check", 2, { ok: true, remaining: 1 }]]],
    ["release of a time never hit changes nothing", [["hit", 0], ["hit", 1], ["hit", 2], ["release", 7], ["check", 2, { ok: false, retryAfterMs: 8 * MINUTE }]]],
    ["reset forgets the key", [["hit", 0], ["hit", 1], ["hit", 2], ["reset", 2], ["check", 2, { ok: true, remaining: 3 }]]],
    ["out-of-order times are kept sorted", [["hit", 5], ["hit", 0], ["hit", 3], ["check", 6, { ok: false, retryAfterMs: 4 * MINUTE }]]],
  ])("%s", (_label, steps) => {
    const window = new SlidingWindow({ limit: 3, windowMs: 10 * MINUTE });
    for (const [action, at, expected] of steps) {
      const now = T0 + at * MINUTE;
      if (action === "hit") window.record("k", now);
      if (action === "release") window.release("k", now);
      if (action === "reset") window.reset("k");
      if (action === "check") expect(window.check("k", now)).toEqual(expected);
    }
  });

  it("keeps keys apart", () => {
    const window = new SlidingWindow({ limit: 1, windowMs: MINUTE });
    window.record("a", T0);
    expect(window.check("a", T0).ok).toBe(false);
    expect(window.check("b", T0).ok).toBe(true);
  });

  it("never answers a wait of 0", () => {
    const window = new SlidingWindow({ limit: 1, windowMs: MINUTE });
    window.record("a", T0);
    expect(window.check("a", T0 + MINUTE - 0.5)).toEqual({ ok: false, retryAfterMs: 1 });
  });

  it("is bounded: expired keys are swept, then the least recently hit keys are forgotten", () => {
    const window = new SlidingWindow({ limit: 2, windowMs: MINUTE, maxKeys: 10 });
    for (let i = 0; i < 10; i += 1) window.record(`old-${i}`, T0);
    window.record("fresh", T0 + 2 * MINUTE);
    expect(window.size).toBe(1);

    const later = T0 + 2 * MINUTE;
    for (let i = 0; i < 9; i += 1) window.record(`live-${i}`, later);
    window.record("fresh", later); // hit again: now the most recently hit
    window.record("live-9", later); // 11 keys: forget the least recently hit, down to 9
    expect(window.size).toBe(9);
    expect(window.check("fresh", later)).toEqual({ ok: false, retryAfterMs: MINUTE });
    expect(window.check("live-9", later)).toEqual({ ok: true, remaining: 1 });
    expect(window.check("live-0", later)).toEqual({ ok: true, remaining: 2 });
  });

  it.each([
    [{ limit: 0, windowMs: MINUTE }],
    [{ limit: 1, windowMs: 0 }],
    [{ limit: Number.NaN, windowMs: MINUTE }],
    [{ limit: 1, windowMs: MINUTE, maxKeys: 0 }],
  ])("refuses nonsense options %j", (options) => {
    expect(() => new SlidingWindow(options)).toThrow(RangeError);
  });
});
