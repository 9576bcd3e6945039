import { describe, expect, it } from "vitest";
import { HOUR_MS, type UsageVia } from "@/lib/core/usage/tally";
import { bucketLabel, formatCount, outcomeCodes, outcomeLabel, resourceName, usageTable, type UsageView } from "./usage-model";

const T0 = Date.UTC(2026, 11, 1, 22); // 2026-12-01 22:00 UTC

describe("the chart's outcomes and its table", () => {
  const buckets: UsageView["buckets"] = [
    { start: T0, counts: {} },
    { start: T0 + HOUR_MS, counts: { VALID: 3, RATE_LIMITED: 2 } },
    { start: T0 + 2 * HOUR_MS, counts: { INSUFFICIENT_SCOPE: 4, VALID: 1200 } },
  ];

  it("shows Allowed always, then only the denial codes that occurred, in USAGE_CODES order", () => {
    expect(outcomeCodes(buckets)).toEqual(["VALID", "INSUFFICIENT_SCOPE", "RATE_LIMITED"]);
    expect(outcomeCodes([{ start: T0, counts: {} }])).toEqual(["VALID"]);
    // A zero count is no occurrence.
    expect(outcomeCodes([{ start: T0, counts: { KEY_DISABLED: 0 } }])).toEqual(["VALID"]);
  });

  it("has a row per bucket, a column per outcome, and totals both ways", () => {
    expect(usageTable(buckets)).toEqual({
      codes: ["VALID", "INSUFFICIENT_SCOPE", "RATE_LIMITED"],
      rows: [
        { start: T0, counts: [0, 0, 0], total: 0 },
        { start: T0 + HOUR_MS, counts: [3, 0, 2], total: 5 },
        { start: T0 + 2 * HOUR_MS, counts: [1200, 4, 0], total: 1204 },
      ],
      totals: [1203, 4, 2],
      total: 1209,
    });
  });

  it("names outcomes: Allowed, else the code", () => {
    expect(outcomeLabel("VALID")).toBe("Allowed");
    expect(outcomeLabel("INSUFFICIENT_SCOPE")).toBe("INSUFFICIENT_SCOPE");
  });
});

describe("resourceName", () => {
  const names = new Map([["ep_alpha", "alpha"]]);
  const cases: [string, UsageVia, string][] = [
    ["graphql", "api", "GraphQL"],
    ["ep_alpha", "api", "alpha"],
    ["ep_gone", "api", "Deleted endpoint"],
    ["unknown", "api", "Unknown endpoint"],
    ["ep_alpha", "verify", "Verify API: alpha"],
    ["graphql", "verify", "Verify API: GraphQL"],
    ["ep_gone", "verify", "Verify API: Deleted endpoint"],
    ["unknown", "verify", "Verify API: Unknown endpoint"],
  ];
  for (const [resource, via, expected] of cases) {
    it(`${via} ${resource} → ${expected}`, () => {
      expect(resourceName(resource, via, names)).toBe(expected);
    });
  }
});

describe("labels", () => {
  it("counts with thousands separators", () => {
    expect([0, 999, 1000, 1234567].map(formatCount)).toEqual(["0", "999", "1,000", "1,234,567"]);
  });

  it("names an hour in the given time zone: UTC before hydration, the reader's own after", () => {
    expect(bucketLabel(T0, "24h", "tick", "UTC")).toBe("22:00");
    expect(bucketLabel(T0, "24h", "row", "UTC")).toBe("Dec 1, 22:00");
    // UTC+5:30: the same hour is past midnight there, on the next day.
    expect(bucketLabel(T0, "24h", "tick", "Asia/Kolkata")).toBe("03:30");
    expect(bucketLabel(T0, "24h", "row", "Asia/Kolkata")).toBe("Dec 2, 03:30");
  });

  it("names a day by its UTC date whatever the time zone", () => {
    const day = Date.UTC(2026, 11, 1);
    for (const zone of ["UTC", "America/Los_Angeles", "Asia/Kolkata", undefined]) {
      expect(bucketLabel(day, "30d", "tick", zone)).toBe("Dec 1");
      expect(bucketLabel(day, "30d", "row", zone)).toBe("Tue, Dec 1");
    }
  });
});
