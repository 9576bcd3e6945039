import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { NAME_MESSAGES, nameSchema, normalizeName } from "./names";

const M = NAME_MESSAGES;

describe("normalizeName: the attack review's examples", () => {
  it.each([
    ["a right-to-left override that shows invoice\\u202Egpj.exe as invoiceexe.jpg", "invoice\u202Egpj.exe", M.bidi],
    ["only zero-width and non-breaking spaces", "\u200B\u00A0\u200C\u00A0\u200D\uFEFF", M.invisible],
    ["a control character that cuts the displayed name short", "billing\u0000-admin", M.control],
  ])("refuses %s", (_label, raw, message) => {
    expect(normalizeName(raw)).toEqual({ ok: false, message });
  });
});

describe("normalizeName: refused", () => {
  it.each([
    // Empty, or nothing but spaces of any kind: the user typed nothing.
    ["empty", "", M.required],
    ["ASCII spaces", "   ", M.required],
    ["no-break and ideographic spaces", "\u00A0\u3000\u2003\u202F", M.required],
    // C0 and C1 controls, anywhere, tab and newline included (not trimmed away).
    ["NUL", "a\u0000b", M.control],
    ["tab inside", "a\tb", M.control],
    ["tab at an end", "name\t", M.control],
    ["newline", "a\nb", M.control],
    ["leading newline", "\nname", M.control],
    ["carriage return", "a\rb", M.control],
    ["escape sequence", "\u001B[31mred", M.control],
    ["DEL", "a\u007F", M.control],
    ["NEL (C1, also white space)", "a\u0085b", M.control],
    ["CSI (C1)", "a\u009Bb", M.control],
    ["only a tab", "\t", M.control],
    // Bidi controls, anywhere (not trimmed away at an end).
    ["U+061C arabic letter mark", "a\u061Cb", M.bidi],
    ["U+200E left-to-right mark", "name\u200E", M.bidi],
    ["U+200F right-to-left mark", "\u200Fname", M.bidi],
    ["U+202A LRE", "a\u202Ab", M.bidi],
    ["U+202B RLE", "a\u202Bb", M.bidi],
    ["U+202C PDF", "a\u202Cb", M.bidi],
    ["U+202D LRO", "a\u202Db", M.bidi],
    ["U+202E RLO", "a\u202Eb", M.bidi],
    ["U+2066 LRI", "a\u2066b", M.bidi],
    ["U+2067 RLI", "a\u2067b", M.bidi],
    ["U+2068 FSI", "a\u2068b", M.bidi],
    ["U+2069 PDI", "a\u2069b", M.bidi],
    ["only an override", "\u202E", M.bidi],
    // Line and paragraph separators (white space, but they break a line).
    ["U+2028 line separator", "a\u2028b", M.lineBreak],
    ["U+2029 paragraph separator", "name\u2029", M.lineBreak],
    // Lone surrogates cannot be stored as UTF-8.
    ["a lone high surrogate", "a\uD800b", M.invalid],
    ["a lone low surrogate", "\uDFFF", M.invalid],
    // Nothing visible left.
    ["zero-width characters only", "\u200B\u200C\u200D\u2060\uFEFF", M.invisible],
    ["Hangul filler", "\u3164", M.invisible],
    ["Hangul choseong and jungseong fillers", "\u115F\u1160", M.invisible],
    ["halfwidth Hangul filler", "\uFFA0\uFFA0", M.invisible],
    ["combining marks only", "\u0301\u0308", M.invisible],
    ["combining marks between spaces", " \u0301 ", M.invisible],
    ["an enclosing mark", "\u20DD", M.invisible],
    ["tag characters only", "\u{E0061}\u{E0064}\u{E006D}\u{E0069}\u{E006E}", M.invisible],
    ["variation selectors only", "\uFE0F\u{E0100}", M.invisible],
    ["soft hyphen", "\u00AD", M.invisible],
    ["Mongolian vowel separator", "\u180E", M.invisible],
    ["invisible math operators (format)", "\u2061\u2062\u2063", M.invisible],
    ["musical format characters", "\u{1D173}\u{1D174}", M.invisible],
    ["combining grapheme joiner", "\u034F", M.invisible],
    ["braille blank", "\u2800\u2800", M.invisible],
    ["a mix of all of them", "\u00A0\u200B\u3164\u0301\u2800\u{E0041}\uFE0F\u00A0", M.invisible],
    // Length after normalisation and trimming.
    ["65 ASCII characters", "x".repeat(65), M.tooLong],
    ["65 astral emoji", "😀".repeat(65), M.tooLong],
    ["65 é, decomposed", "e\u0301".repeat(65), M.tooLong],
    ["65 characters between spaces", ` ${"y".repeat(65)} `, M.tooLong],
    // Input over 1,024 UTF-16 units is refused before any work, whatever trimming would leave.
    ["one character padded past 1,024 units", `${" ".repeat(1000)}x${" ".repeat(24)}`, M.tooLong],
    ["a megabyte of zero-width spaces", "\u200B".repeat(1 << 20), M.tooLong],
  ])("refuses %s", (_label, raw, message) => {
    expect(normalizeName(raw)).toEqual({ ok: false, message });
  });
});

describe("normalizeName: accepted, and stored as", () => {
  const cases: [string, string, string][] = [
    ["plain ASCII", "ci-reader", "ci-reader"],
    ["a comma", "billing, with comma", "billing, with comma"],
    ["ASCII spaces trimmed", "  ci  ", "ci"],
    ["no-break space and ideographic space trimmed", "\u00A0ci\u3000", "ci"],
    ["zero-width space trimmed at both ends", "\u200Bci\u200B", "ci"],
    ["BOM and word joiner trimmed", "\uFEFF\u2060ci\u2060\uFEFF", "ci"],
    ["a stray joiner and filler at the ends", "\u200D\u3164ci\u200C\u3164", "ci"],
    ["inner spaces kept", "my  key", "my  key"],
    ["NFC: e + combining acute becomes é", "e\u0301", "\u00E9"],
    ["NFC: Angstrom sign becomes Å", "\u212B", "\u00C5"],
    ["NFC: Hangul jamo compose", "\u1112\u1161\u11AB", "\uD55C"],
    ["accented text", "naïve café", "naïve café"],
    ["CJK", "東京エンドポイント", "東京エンドポイント"],
    ["emoji ZWJ sequence", "👨\u200D👩\u200D👧", "👨\u200D👩\u200D👧"],
    ["emoji ZWJ sequence between spaces", "  👨\u200D👩\u200D👧  ", "👨\u200D👩\u200D👧"],
    ["Persian with a ZWNJ", "می\u200Cخواهم", "می\u200Cخواهم"],
    ["Devanagari with a ZWJ", "क्\u200Dष", "क्\u200Dष"],
    ["a zero-width space inside visible text", "a\u200Bb", "a\u200Bb"],
    ["an emoji with its variation selector", "❤\uFE0F", "❤\uFE0F"],
    ["a variation selector kept, a trailing ZWSP dropped", "❤\uFE0F\u200B ", "❤\uFE0F"],
    ["a variation selector after a space dropped", "abc \uFE0F", "abc"],
    ["a keycap", "1\uFE0F\u20E3", "1\uFE0F\u20E3"],
    ["a flag tag sequence", "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}"],
    ["right-to-left text without controls", "نقطة النهاية", "نقطة النهاية"],
    ["a single visible character", "x", "x"],
    ["64 ASCII characters", "x".repeat(64), "x".repeat(64)],
    ["64 astral emoji (128 UTF-16 units)", "😀".repeat(64), "😀".repeat(64)],
    ["64 é, decomposed to 128 code points", "e\u0301".repeat(64), "\u00E9".repeat(64)],
    ["64 characters after trimming white space, 1,024 units in all", `${" ".repeat(480)}${"z".repeat(64)}${"\u00A0".repeat(480)}`, "z".repeat(64)],
  ];

  it.each(cases)("%s", (_label, raw, stored) => {
    expect(normalizeName(raw)).toEqual({ ok: true, name: stored });
  });

  it.each(cases)("is idempotent: %s", (_label, raw) => {
    const first = normalizeName(raw);
    if (!first.ok) throw new Error("expected ok");
    expect(normalizeName(first.name)).toEqual(first);
  });
});

describe("nameSchema", () => {
  it("parses to the normalised name", () => {
    expect(nameSchema.parse("  Cafe\u0301\u200B ")).toBe("Caf\u00E9");
  });

  it.each([
    ["invoice\u202Egpj.exe", M.bidi],
    ["\u200B\u00A0", M.invisible],
    ["a\u0007", M.control],
    ["   ", M.required],
    ["x".repeat(65), M.tooLong],
  ])("refuses %j with the rule's message, and only that", (raw, message) => {
    const result = nameSchema.safeParse(raw);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([message]);
  });

  it.each([[undefined], [null], [42], [{ name: "x" }]])("refuses a non-string (%j) as a missing name", (value) => {
    expect(nameSchema.safeParse(value).error?.issues.map((issue) => issue.message)).toEqual([M.required]);
  });
});

describe("purity", () => {
  it("lib/core/names.ts imports nothing but zod, so every writer can share it", () => {
    const source = readFileSync(path.join(import.meta.dirname, "names.ts"), "utf8");
    const imports = [...source.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]);
    expect(imports).toEqual(["zod"]);
  });
});
