import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { cleanLeakText, couldBeKey, hasValidLeakSignature, leakReportSchema, signLeakReport } from "./report";

const SECRET = "a-leak-report-secret-of-32-chars!";
const BODY = Buffer.from('[{"token":"rpa_x","type":"t","url":"u","source":"s"}]');

describe("signLeakReport / hasValidLeakSignature", () => {
  it("is sha256=<hex HMAC-SHA256 of the raw body>, as GitHub-style receivers compute it", () => {
    expect(signLeakReport(BODY, SECRET)).toBe(`sha256=${createHmac("sha256", SECRET).update(BODY).digest("hex")}`);
    expect(signLeakReport(BODY.toString(), SECRET)).toBe(signLeakReport(BODY, SECRET));
  });

  const good = signLeakReport(BODY, SECRET);
  const hex = good.slice("sha256=".length);
  it.each<[string, string | null, boolean]>([
    ["the signature", good, true],
    ["upper-case hex", `sha256=${hex.toUpperCase()}`, true],
    ["missing", null, false],
    ["empty", "", false],
    ["no prefix", hex, false],
    ["upper-case prefix", `SHA256=${hex}`, false],
    ["surrounding space", ` ${good}`, false],
    ["one digit changed", `sha256=${hex.slice(0, -1)}${hex.endsWith("0") ? "1" : "0"}`, false],
    ["truncated", good.slice(0, -2), false],
    ["too long", `${good}00`, false],
    ["non-hex", `sha256=${"z".repeat(64)}`, false],
    ["under another secret", signLeakReport(BODY, SECRET + "!"), false],
    ["of another body", signLeakReport(Buffer.concat([BODY, Buffer.from(" ")]), SECRET), false],
  ])("%s → %s", (_label, header, valid) => {
    expect(hasValidLeakSignature(header, BODY, SECRET)).toBe(valid);
  });
});

describe("cleanLeakText", () => {
  it.each<[string, string, number, string]>([
    ["kept as given", "https://github.com/o/r/blob/main/.env#L3", 100, "https://github.com/o/r/blob/main/.env#L3"],
    ["trimmed", "  commit \n", 100, "commit"],
    ["a control character replaced", "a\u0000b\u001Bc", 100, "a\uFFFDb\uFFFDc"],
    ["text direction replaced", "invoice\u202Egpj.exe", 100, "invoice\uFFFDgpj.exe"],
    ["a line separator replaced", "a\u2028b", 100, "a\uFFFDb"],
    ["a lone surrogate replaced", "a\uD800b", 100, "a\uFFFDb"],
    ["cut to the cap", "abcdef", 3, "abc"],
    ["cut by code points, never inside one", "😀😀😀", 2, "😀😀"],
    ["cut, then trimmed again", "ab cd", 3, "ab"],
    ["empty stays empty", "", 10, ""],
  ])("%s", (_label, raw, max, expected) => {
    expect(cleanLeakText(raw, max)).toBe(expected);
  });

  it("bounds the work on an oversized field", () => {
    expect(cleanLeakText("x".repeat(1_000_000), 10)).toBe("x".repeat(10));
  });
});

describe("leakReportSchema", () => {
  const f = { token: "t", type: "t", url: "u", source: "s" };
  it.each<[string, unknown, boolean]>([
    ["one finding", [f], true],
    ["1,000 findings", Array.from({ length: 1_000 }, () => f), true],
    ["1,001 findings", Array.from({ length: 1_001 }, () => f), false],
    ["none", [], false],
    ["not an array", f, false],
    ["a token of 1,024 characters", [{ ...f, token: "a".repeat(1_024) }], true],
    ["a token of 1,025 characters", [{ ...f, token: "a".repeat(1_025) }], false],
    ["an empty token", [{ ...f, token: "" }], false],
    ["a missing type", [{ token: "t", url: "u", source: "s" }], false],
    ["a number for a url", [{ ...f, url: 1 }], false],
    ["null for a source", [{ ...f, source: null }], false],
    ["empty metadata", [{ ...f, type: "", url: "", source: "" }], true],
    ["extra fields (ignored)", [{ ...f, secret_type: "x" }], true],
  ])("%s → %s", (_label, value, ok) => {
    expect(leakReportSchema.safeParse(value).success).toBe(ok);
  });

  it("cleans metadata but never the token", () => {
    const parsed = leakReportSchema.parse([{ token: " rpa_x ", type: " t ", url: ` ${"u".repeat(3_000)} `, source: "s\u202E", extra: 1 }]);
    expect(parsed).toEqual([{ token: " rpa_x ", type: "t", url: "u".repeat(2_048), source: "s\uFFFD" }]);
  });
});

describe("couldBeKey", () => {
  const random = "0123456789ABCDEFGHIJabcdefghij";
  const scoped = `rpa_${random}${computeKeyChecksum(random)}`;
  it.each<[string, string, boolean]>([
    ["a scoped key whose checksum holds", scoped, true],
    ["a scoped key whose checksum fails", scoped.slice(0, -1) + (scoped.endsWith("0") ? "1" : "0"), false],
    ["a legacy key's shape", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", true],
    ["lower-case legacy", "abcdefghijklmnopqrstuvwxyz012345", false],
    ["with surrounding space", ` ${scoped}`, false],
    ["another vendor's token", "ghp_0123456789abcdefghijklmnopqrstuvwxyz", false],
    ["too long", "rpa_" + "a".repeat(100), false],
  ])("%s → %s", (_label, token, could) => {
    expect(couldBeKey(token)).toBe(could);
  });
});
