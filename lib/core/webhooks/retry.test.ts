import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_BASE_MS, nextAttemptAt, retryDelayMs, retryWindowMs } from "./retry";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe("the retry schedule", () => {
  it.each([
    [1, 10 * SECOND],
    [2, 30 * SECOND],
    [3, 1 * MINUTE],
    [4, 5 * MINUTE],
    [5, 15 * MINUTE],
    [6, 1 * HOUR],
    [7, 1 * HOUR],
    [30, 1 * HOUR],
  ])("after attempt %i waits %i ms at the default base", (attempts, delay) => {
    expect(retryDelayMs(attempts, DEFAULT_RETRY_BASE_MS)).toBe(delay);
  });

  it("retries for 24 hours at the default base, and scales with the base", () => {
    expect(retryWindowMs(DEFAULT_RETRY_BASE_MS)).toBe(24 * HOUR);
    expect(retryDelayMs(4, 10)).toBe(300);
    expect(retryWindowMs(10)).toBe(86_400);
  });

  it("gives up when the next try would fall after the window", () => {
    const created = 0;
    expect(nextAttemptAt(1, created, 0, DEFAULT_RETRY_BASE_MS)).toBe(10 * SECOND);
    // The last hourly try that still fits, then none.
    expect(nextAttemptAt(20, created, 23 * HOUR, DEFAULT_RETRY_BASE_MS)).toBe(24 * HOUR);
    expect(nextAttemptAt(20, created, 23 * HOUR + 1, DEFAULT_RETRY_BASE_MS)).toBeNull();
  });

  it("makes 29 attempts in all over 24 hours when every one fails at once", () => {
    let now = 0;
    let attempts = 1;
    for (let next = nextAttemptAt(attempts, 0, now, DEFAULT_RETRY_BASE_MS); next !== null; next = nextAttemptAt(attempts, 0, now, DEFAULT_RETRY_BASE_MS)) {
      now = next;
      attempts += 1;
    }
    expect(attempts).toBe(29);
    expect(now).toBeLessThanOrEqual(24 * HOUR);
  });
});
