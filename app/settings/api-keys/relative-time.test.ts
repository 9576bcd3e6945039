import { describe, expect, it } from "vitest";
import { formatExactTime, formatRelativeTime, formatTimeUntil } from "./relative-time";

const now = new Date("2026-11-26T12:00:00Z");
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

describe("formatRelativeTime", () => {
  it.each([
    [0, "just now"],
    [44, "just now"],
    [60, "1 minute ago"],
    [5 * 60, "5 minutes ago"],
    [3600, "1 hour ago"],
    [3 * 3600, "3 hours ago"],
    [24 * 3600, "yesterday"],
    [3 * 24 * 3600, "3 days ago"],
    [14 * 24 * 3600, "2 weeks ago"],
    [60 * 24 * 3600, "2 months ago"],
    [400 * 24 * 3600, "last year"],
  ])("%i seconds ago reads %s", (seconds, expected) => {
    expect(formatRelativeTime(ago(seconds), now)).toBe(expected);
  });
});

describe("formatTimeUntil", () => {
  const DAY = 24 * 3600;
  const ahead = (seconds: number) => new Date(now.getTime() + seconds * 1000);
  it.each([
    [0, "in less than a minute"],
    [49, "in less than a minute"],
    [50, "in 1 minute"],
    [65, "in 1 minute"],
    [119, "in 2 minutes"],
    [3600, "in 1 hour"],
    [23 * 3600 + 3589, "in 23 hours"],
    [DAY, "in 1 day"],
    // The expiry choices, read a moment after they were made.
    [7 * DAY - 1, "in 7 days"],
    [30 * DAY - 1, "in 30 days"],
    [60 * DAY - 11, "in 59 days"],
    [60 * DAY, "in 2 months"],
    [90 * DAY - 1, "in 3 months"],
    [365 * DAY - 1, "in 1 year"],
    [2 * 365 * DAY, "in 2 years"],
  ])("%i seconds ahead reads %s", (seconds, expected) => {
    expect(formatTimeUntil(ahead(seconds), now)).toBe(expected);
  });

  it("never goes negative: a time already past reads as now", () => {
    expect(formatTimeUntil(ahead(-3600), now)).toBe("in less than a minute");
  });
});

describe("formatExactTime", () => {
  it("is UTC to the second", () => {
    expect(formatExactTime(new Date("2026-01-02T03:04:05.678Z"))).toBe("2026-01-02 03:04:05 UTC");
  });
});
