import { describe, expect, it } from "vitest";
import { describeRateLimit, displayRange, normalizeRestrictions, PER_MESSAGE, RATE_LIMIT_MESSAGE, storedRestrictions, type RestrictionsInput } from "./restrictions";

const input = (overrides: Partial<RestrictionsInput>): RestrictionsInput => ({ allowedIps: "", rateLimit: null, per: null, ...overrides });

describe("normalizeRestrictions: the Restrictions form as one rule", () => {
  it.each<[string, RestrictionsInput, unknown]>([
    ["nothing: any address, no limit", input({}), { allowedIps: null, rateLimit: null }],
    ["blank lines only: any address", input({ allowedIps: "\n \r\n" }), { allowedIps: null, rateLimit: null }],
    ["a list", input({ allowedIps: "10.1.0.0/16\n::1" }), { allowedIps: ["10.1.0.0/16", "::1/128"], rateLimit: null }],
    ["a limit of 1 per second", input({ rateLimit: 1, per: "second" }), { allowedIps: null, rateLimit: { limit: 1, per: "second" } }],
    ["a limit of 1,000,000 per hour", input({ rateLimit: 1_000_000, per: "hour" }), { allowedIps: null, rateLimit: { limit: 1_000_000, per: "hour" } }],
    ["no limit: the window chosen does not count", input({ rateLimit: null, per: "minute" }), { allowedIps: null, rateLimit: null }],
    ["both", input({ allowedIps: "127.0.0.1", rateLimit: 100, per: "minute" }), { allowedIps: ["127.0.0.1/32"], rateLimit: { limit: 100, per: "minute" } }],
  ])("%s", (_label, given, restrictions) => {
    expect(normalizeRestrictions(given)).toEqual({ ok: true, restrictions });
  });

  it.each<[string, RestrictionsInput, string, string]>([
    ["a bad line, by number", input({ allowedIps: "10.0.0.1\nnope", rateLimit: 5, per: "second" }), "allowedIps", "Line 2 is not an IP address or CIDR range."],
    ["zero", input({ rateLimit: 0, per: "minute" }), "rateLimit", RATE_LIMIT_MESSAGE],
    ["negative", input({ rateLimit: -1, per: "minute" }), "rateLimit", RATE_LIMIT_MESSAGE],
    ["over 1,000,000", input({ rateLimit: 1_000_001, per: "minute" }), "rateLimit", RATE_LIMIT_MESSAGE],
    ["a fraction", input({ rateLimit: 1.5, per: "minute" }), "rateLimit", RATE_LIMIT_MESSAGE],
    ["not a number", input({ rateLimit: Number.NaN, per: "minute" }), "rateLimit", RATE_LIMIT_MESSAGE],
    ["infinite", input({ rateLimit: Number.POSITIVE_INFINITY, per: "minute" }), "rateLimit", RATE_LIMIT_MESSAGE],
    ["a limit without a window", input({ rateLimit: 10 }), "per", PER_MESSAGE],
    ["a limit with an unknown window", input({ rateLimit: 10, per: "day" as RestrictionsInput["per"] }), "per", PER_MESSAGE],
  ])("refuses %s, on its field", (_label, given, field, message) => {
    expect(normalizeRestrictions(given)).toEqual({ ok: false, field, message });
  });

  it("says the range in its message", () => {
    expect(RATE_LIMIT_MESSAGE).toBe("Rate limit must be a whole number from 1 to 1,000,000.");
  });
});

describe("in words", () => {
  it.each<[number, "second" | "minute" | "hour", string]>([
    [1, "second", "1 request per second"],
    [100, "minute", "100 requests per minute"],
    [1_000_000, "hour", "1,000,000 requests per hour"],
  ])("%i per %s", (limit, per, words) => {
    expect(describeRateLimit({ limit, per })).toBe(words);
  });

  it.each([
    ["10.0.0.1/32", "10.0.0.1"],
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:db8::1/128", "2001:db8::1"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["::/0", "::/0"],
  ])("%s shows as %s", (range, shown) => {
    expect(displayRange(range)).toBe(shown);
  });
});

describe("storedRestrictions: the columns as the dashboard shows them", () => {
  it.each<[string, [string | null, number | null, "second" | "minute" | "hour" | null], unknown]>([
    ["none", [null, null, null], { allowedIps: null, rateLimit: null }],
    ["a list and a limit", ['["10.0.0.0/8","::1/128"]', 5, "hour"], { allowedIps: ["10.0.0.0/8", "::1/128"], rateLimit: { limit: 5, per: "hour" } }],
    // Written by hand, not by this app: shown as a list that allows nothing, which is what the decision does.
    ["unreadable JSON", ["not json", null, null], { allowedIps: [], rateLimit: null }],
    ["not an array", ['{"a":1}', null, null], { allowedIps: [], rateLimit: null }],
    ["a limit without a window", [null, 5, null], { allowedIps: null, rateLimit: null }],
  ])("%s", (_label, [allowedIps, rateLimit, per], expected) => {
    expect(storedRestrictions(allowedIps, rateLimit, per)).toEqual(expected);
  });
});
