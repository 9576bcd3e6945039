import { describe, expect, it } from "vitest";
import { parseFindingsFile, reportBodies } from "./findings-file";
import type { LeakFinding } from "./report";

const MANUAL = { url: "https://chat.example/msg/1", source: "manual" };
const TOKEN = "rpa_0123456789ABCDEFGHIJabcdefghij000000";

describe("parseFindingsFile", () => {
  it("reads the route's JSON array as it is, cleaning metadata as the server would", () => {
    const text = JSON.stringify([
      { token: TOKEN, type: "keyscope_api_key", url: "https://github.com/o/r", source: "commit" },
      { token: "OTHER", type: " t ", url: "u\u202E", source: "", extra: true },
    ]);
    expect(parseFindingsFile(`\uFEFF  ${text}\n`, MANUAL)).toEqual({
      ok: true,
      findings: [
        { token: TOKEN, type: "keyscope_api_key", url: "https://github.com/o/r", source: "commit" },
        { token: "OTHER", type: "t", url: "u\uFFFD", source: "" },
      ],
    });
  });

  it("reads one token per line as type manual, skipping blank lines and comments", () => {
    expect(parseFindingsFile(`# found in chat\n\n  ${TOKEN}  \r\nABCDEFGHIJKLMNOPQRSTUVWXYZ012345\n`, MANUAL)).toEqual({
      ok: true,
      findings: [
        { token: TOKEN, type: "manual", ...MANUAL },
        { token: "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", type: "manual", ...MANUAL },
      ],
    });
    expect(parseFindingsFile("", MANUAL)).toEqual({ ok: true, findings: [] });
  });

  it.each<[string, string, string]>([
    ["invalid JSON", `[{"token": "${TOKEN}"`, "the file is not valid JSON"],
    ["a finding that is not an object", `[1]`, 'finding 1: expected {"token", "type", "url", "source"}'],
    ["a missing url", JSON.stringify([{ token: TOKEN, type: "t", url: "u", source: "s" }, { token: TOKEN, type: "t", source: "s" }]), 'finding 2: "url" must be a string'],
    ["an empty token", JSON.stringify([{ token: "", type: "t", url: "u", source: "s" }]), "finding 1: its token is empty"],
    ["a token too long", JSON.stringify([{ token: TOKEN.repeat(30), type: "t", url: "u", source: "s" }]), "finding 1: its token is longer than 1024 characters"],
    ["a line too long", `${TOKEN}\n${TOKEN.repeat(30)}\n`, "line 2: longer than 1024 characters"],
  ])("refuses %s, by number, never echoing a token", (_label, text, message) => {
    const parsed = parseFindingsFile(text, MANUAL);
    expect(parsed).toEqual({ ok: false, message });
    if (!parsed.ok) expect(parsed.message).not.toContain(TOKEN);
  });
});

describe("reportBodies", () => {
  const finding = (i: number, url = "u"): LeakFinding => ({ token: `t${i}`, type: "t", url, source: "s" });

  it("one body when within the limits: the array, exactly", () => {
    const findings = [finding(1), finding(2)];
    expect(reportBodies(findings)).toEqual([JSON.stringify(findings)]);
  });

  it("splits by count, in order", () => {
    const findings = Array.from({ length: 2_501 }, (_, i) => finding(i));
    const bodies = reportBodies(findings);
    expect(bodies.map((body) => (JSON.parse(body) as unknown[]).length)).toEqual([1_000, 1_000, 501]);
    expect(bodies.flatMap((body) => JSON.parse(body) as LeakFinding[])).toEqual(findings);
  });

  it("splits by bytes, every body within the cap", () => {
    const findings = Array.from({ length: 10 }, (_, i) => finding(i, "é".repeat(100)));
    const one = Buffer.byteLength(JSON.stringify(findings[0]));
    const cap = 2 + 3 * one + 2; // three findings and their commas fit, not four
    const bodies = reportBodies(findings, 1_000, cap);
    expect(bodies.map((body) => (JSON.parse(body) as unknown[]).length)).toEqual([3, 3, 3, 1]);
    for (const body of bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(cap);
    expect(bodies.flatMap((body) => JSON.parse(body) as LeakFinding[])).toEqual(findings);
  });

  it("nothing to send, no body", () => {
    expect(reportBodies([])).toEqual([]);
  });
});
