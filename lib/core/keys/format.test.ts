import { describe, expect, it } from "vitest";
import {
  formatDisplayHint,
  isLegacyKeyHash,
  LEGACY_KEY_LENGTH,
  MAX_PRESENTED_KEY_LENGTH,
  parsePresentedKey,
  SCOPED_KEY_CHECKSUM_LENGTH,
  SCOPED_KEY_LENGTH,
  SCOPED_KEY_PREFIX,
  SCOPED_KEY_RANDOM_LENGTH,
  SECRET_SCANNING_PATTERN,
  SECRET_SCANNING_REGEX,
} from "./format";
import { generateScopedKey } from "./generate";

// Full keys whose checksums were computed independently (Python zlib.crc32 + own base62).
const FIXED_SCOPED_KEYS = [
  "rpa_abcdefghijABCDEFGHIJ01234567892C2O59",
  "rpa_0000000000000000000000000000002C8GjS",
  "rpa_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq02ZFgkD",
] as const;
const VALID_SCOPED = FIXED_SCOPED_KEYS[0];
const LEGACY_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/** Replaces the character at `index` with one that differs but stays in [0-9A-Za-z]. */
function changeCharAt(key: string, index: number): string {
  const replacement = key[index] === "A" ? "B" : "A";
  return key.slice(0, index) + replacement + key.slice(index + 1);
}

describe("constants", () => {
  it("agree with each other and the spec", () => {
    expect(SCOPED_KEY_PREFIX).toBe("rpa_");
    expect(SCOPED_KEY_RANDOM_LENGTH).toBe(30);
    expect(SCOPED_KEY_CHECKSUM_LENGTH).toBe(6);
    expect(SCOPED_KEY_LENGTH).toBe(
      SCOPED_KEY_PREFIX.length + SCOPED_KEY_RANDOM_LENGTH + SCOPED_KEY_CHECKSUM_LENGTH,
    );
    expect(SCOPED_KEY_LENGTH).toBe(40);
    expect(LEGACY_KEY_LENGTH).toBe(32);
    expect(MAX_PRESENTED_KEY_LENGTH).toBe(64);
  });

  it("publishes the secret-scanning pattern verbatim", () => {
    expect(SECRET_SCANNING_PATTERN).toBe(String.raw`\brpa_[0-9A-Za-z]{36}\b`);
    expect(SECRET_SCANNING_REGEX.flags).toBe("");
  });

  it.each([
    [`token=${VALID_SCOPED}`, true],
    [`"${VALID_SCOPED}"`, true],
    [`${VALID_SCOPED}x`, false],
    [`x${VALID_SCOPED}`, false],
    [VALID_SCOPED.slice(0, 39), false],
    [LEGACY_KEY, false],
  ])("secret-scanning regex on %j → %s", (text, expected) => {
    expect(SECRET_SCANNING_REGEX.test(text)).toBe(expected);
  });
});

describe("parsePresentedKey: accepts", () => {
  it.each(FIXED_SCOPED_KEYS)("fixed scoped vector %s", (key) => {
    expect(key).toHaveLength(SCOPED_KEY_LENGTH);
    expect(parsePresentedKey(key)).toEqual({ ok: true, kind: "scoped", key });
    expect(SECRET_SCANNING_REGEX.test(key)).toBe(true);
  });

  it("generated scoped keys", () => {
    for (let i = 0; i < 50; i++) {
      const key = generateScopedKey();
      expect(parsePresentedKey(key)).toEqual({ ok: true, kind: "scoped", key });
    }
  });

  it.each([LEGACY_KEY, "0".repeat(32), "Z".repeat(32), "9A8B7C6D5E4F3G2H1I0JKLMNOPQRSTUV"])(
    "legacy key %s",
    (key) => {
      expect(key).toHaveLength(LEGACY_KEY_LENGTH);
      expect(parsePresentedKey(key)).toEqual({ ok: true, kind: "legacy", key });
    },
  );
});

describe("parsePresentedKey: rejects", () => {
  const checksumStart = SCOPED_KEY_PREFIX.length + SCOPED_KEY_RANDOM_LENGTH;
  const body = VALID_SCOPED.slice(SCOPED_KEY_PREFIX.length);

  it.each<[string, string, "too_long" | "malformed" | "bad_checksum"]>([
    ["empty", "", "malformed"],
    ["prefix only", "rpa_", "malformed"],
    ["39 chars", VALID_SCOPED.slice(0, 39), "malformed"],
    ["41 chars", `${VALID_SCOPED}0`, "malformed"],
    ["uppercase prefix", `RPA_${body}`, "malformed"],
    ["wrong prefix", `rpb_${body}`, "malformed"],
    ["missing underscore", `rpa${body}0`, "malformed"],
    ["'-' in body", `rpa_${body.slice(0, 10)}-${body.slice(11)}`, "malformed"],
    ["'_' in body", `rpa_${body.slice(0, 10)}_${body.slice(11)}`, "malformed"],
    ["space in body", `rpa_${body.slice(0, 10)} ${body.slice(11)}`, "malformed"],
    ["non-ASCII in body", `rpa_${body.slice(0, 10)}\u00e9${body.slice(11)}`, "malformed"],
    ["NUL in body", `rpa_${body.slice(0, 10)}\0${body.slice(11)}`, "malformed"],
    ["NUL appended", `${VALID_SCOPED}\0`, "malformed"],
    ["leading space", ` ${VALID_SCOPED}`, "malformed"],
    ["trailing space", `${VALID_SCOPED} `, "malformed"],
    ["trailing newline", `${VALID_SCOPED}\n`, "malformed"],
    ["leading tab", `\t${VALID_SCOPED}`, "malformed"],
    ["Bearer prefix kept", `Bearer ${VALID_SCOPED}`, "malformed"],
    ["SQL metacharacters", "rpa_' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaaaa", "malformed"],
    ["SQL metacharacters (short)", "rpa_' OR '1'='1", "malformed"],
    ["65 chars", "a".repeat(65), "too_long"],
    ["65 chars starting with a valid key", VALID_SCOPED + "0".repeat(25), "too_long"],
    ["10 kB", "rpa_" + "A".repeat(10_240), "too_long"],
    ["checksum char changed", changeCharAt(VALID_SCOPED, checksumStart), "bad_checksum"],
    ["last checksum char changed", changeCharAt(VALID_SCOPED, SCOPED_KEY_LENGTH - 1), "bad_checksum"],
    ["random part altered", changeCharAt(VALID_SCOPED, SCOPED_KEY_PREFIX.length + 5), "bad_checksum"],
    ["checksum of another key", FIXED_SCOPED_KEYS[1].slice(0, checksumStart) + "2C2O59", "bad_checksum"],
    ["legacy 31 chars", LEGACY_KEY.slice(0, 31), "malformed"],
    ["legacy 33 chars", `${LEGACY_KEY}A`, "malformed"],
    ["legacy lowercase", LEGACY_KEY.toLowerCase(), "malformed"],
    ["legacy one lowercase char", `a${LEGACY_KEY.slice(1)}`, "malformed"],
    ["legacy with '-'", `${LEGACY_KEY.slice(0, 16)}-${LEGACY_KEY.slice(17)}`, "malformed"],
    ["legacy with trailing space", `${LEGACY_KEY} `, "malformed"],
    ["sha256 hex instead of key", "a".repeat(64), "malformed"],
  ])("%s", (_label, presented, reason) => {
    expect(parsePresentedKey(presented)).toEqual({ ok: false, reason });
  });

  it("uses the length boundary 64 (ok) / 65 (too_long)", () => {
    expect(parsePresentedKey("x".repeat(64))).toEqual({ ok: false, reason: "malformed" });
    expect(parsePresentedKey("x".repeat(65))).toEqual({ ok: false, reason: "too_long" });
  });

  it("treats a non-string at runtime as malformed", () => {
    expect(parsePresentedKey(undefined as unknown as string)).toEqual({ ok: false, reason: "malformed" });
    expect(parsePresentedKey(42 as unknown as string)).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("formatDisplayHint", () => {
  it.each<[string, "scoped" | "legacy", string]>([
    ["rpa_abcdefghijABCDEFGHIJ01234567892C2O59", "scoped", "rpa_abcd\u20262O59"],
    ["rpa_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq02ZFgkD", "scoped", "rpa_Zz9Y\u2026FgkD"],
    [LEGACY_KEY, "legacy", "\u20262345"],
  ])("hint(%s, %s) = %j", (key, kind, expected) => {
    expect(formatDisplayHint(key, kind)).toBe(expected);
  });

  it("uses U+2026, not three dots", () => {
    expect(formatDisplayHint(VALID_SCOPED, "scoped")).toBe("rpa_abcd\u20262O59");
    expect(formatDisplayHint(VALID_SCOPED, "scoped")).not.toContain("...");
  });

  it.each<[string, "scoped" | "legacy"]>([
    [LEGACY_KEY, "scoped"],
    [VALID_SCOPED, "legacy"],
    ["rpa_short", "scoped"],
    ["ABC", "legacy"],
  ])("throws for %j as %s", (key, kind) => {
    expect(() => formatDisplayHint(key, kind)).toThrow(RangeError);
  });
});

describe("isLegacyKeyHash", () => {
  it.each([
    ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", true],
    ["BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", true],
    ["0".repeat(64), true],
    ["0".repeat(63), false],
    ["0".repeat(65), false],
    [`${"0".repeat(63)}g`, false],
    [` ${"0".repeat(64)}`, false],
    [`${"0".repeat(64)}\n`, false],
    [LEGACY_KEY, false],
    ["", false],
  ])("%j → %s", (text, expected) => {
    expect(isLegacyKeyHash(text)).toBe(expected);
  });
});
