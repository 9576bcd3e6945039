import { describe, expect, it } from "vitest";
import type { UsageCsvRow } from "@/lib/dal/usage";
import { csvCell, usageCsv, usageCsvFilename } from "./usage-csv";

const HEADER = "day,resource,endpoint,via,access,outcome,requests,last_seen";

describe("csvCell", () => {
  const cases: [string | number, string][] = [
    ["plain", "plain"],
    [42, "42"],
    ["", ""],
    // Formula starts are defused with an apostrophe (CSV injection).
    ["=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""],
    ["+1", "'+1"],
    ["-1", "'-1"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tTAB", "'\tTAB"],
    // Only at the start.
    ["a=b", "a=b"],
    // Quoted when it holds a comma, a quote or a line break.
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\r", '"cr\r"'],
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () => {
      expect(csvCell(value)).toBe(expected);
    });
  }
});

describe("usageCsv", () => {
  const day = Date.UTC(2026, 11, 1);
  const at = Date.UTC(2026, 11, 1, 14, 3, 22);
  const row = (over: Partial<UsageCsvRow>): UsageCsvRow => ({ day, resource: "graphql", via: "api", access: "read", code: "VALID", count: 1, lastAt: at, ...over });

  it("gives the header line alone for a key with no usage", () => {
    expect(usageCsv([], new Map())).toBe(`${HEADER}\r\n`);
  });

  it("writes a line per row: UTC date, resource id, endpoint name, way in, access, outcome, count, ISO last seen", () => {
    const names = new Map([
      ["ep_alpha", "alpha"],
      ["ep_evil", "=cmd|' /C calc'!A0"],
    ]);
    const csv = usageCsv(
      [
        row({ count: 12 }),
        row({ resource: "ep_alpha", via: "verify", access: "read_write", code: "INSUFFICIENT_SCOPE", count: 3 }),
        row({ resource: "ep_gone", count: 1 }),
        row({ resource: "unknown", code: "NOT_FOUND", count: 2 }),
        row({ resource: "ep_evil", count: 1 }),
      ],
      names,
    );
    expect(csv.split("\r\n")).toEqual([
      HEADER,
      "2026-12-01,graphql,,api,read,VALID,12,2026-12-01T14:03:22.000Z",
      "2026-12-01,ep_alpha,alpha,verify,read_write,INSUFFICIENT_SCOPE,3,2026-12-01T14:03:22.000Z",
      "2026-12-01,ep_gone,,api,read,VALID,1,2026-12-01T14:03:22.000Z",
      "2026-12-01,unknown,,api,read,NOT_FOUND,2,2026-12-01T14:03:22.000Z",
      "2026-12-01,ep_evil,'=cmd|' /C calc'!A0,api,read,VALID,1,2026-12-01T14:03:22.000Z",
      "",
    ]);
  });
});

describe("usageCsvFilename", () => {
  const cases: [string, string][] = [
    ["ci", "ci-usage.csv"],
    ["CI deploy key", "CI-deploy-key-usage.csv"],
    ['a"b;c\\d/e', "a-b-c-d-e-usage.csv"],
    ["Clé café", "Cle-cafe-usage.csv"],
    ["..hidden..", "hidden-usage.csv"],
    ["🔑", "api-key-usage.csv"],
    ["x".repeat(200), `${"x".repeat(80)}-usage.csv`],
  ];
  for (const [name, expected] of cases) {
    it(`${JSON.stringify(name.slice(0, 20))} → ${expected}`, () => {
      expect(usageCsvFilename(name)).toBe(expected);
    });
  }
});
