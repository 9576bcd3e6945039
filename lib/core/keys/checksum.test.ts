import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { BASE62_ALPHABET, computeCrc32, computeKeyChecksum, encodeBase62 } from "./checksum";

// Node 20.15+ ships zlib.crc32; it is an independent implementation to compare against.
const zlibCrc32 = (zlib as unknown as { crc32?: (data: Buffer) => number }).crc32;

describe("BASE62_ALPHABET", () => {
  it("is 0-9A-Za-z in that order", () => {
    expect(BASE62_ALPHABET).toBe("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    expect(new Set(BASE62_ALPHABET).size).toBe(62);
  });
});

describe("computeCrc32", () => {
  // Well-known vectors (the "check" value of CRC-32/ISO-HDLC and friends).
  it.each([
    ["", 0],
    ["123456789", 0xcbf43926],
    ["a", 0xe8b7be43],
    ["abc", 0x352441c2],
    ["The quick brown fox jumps over the lazy dog", 0x414fa339],
  ])("crc32(%j) = known vector", (text, expected) => {
    expect(computeCrc32(text)).toBe(expected);
  });

  it.runIf(typeof zlibCrc32 === "function").each([
    "",
    "123456789",
    "abcdefghijABCDEFGHIJ0123456789",
    "000000000000000000000000000000",
    "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0",
    "\u00e9\u00ff\u0000\u0080latin1",
    "x".repeat(10_000),
  ])("matches node:zlib crc32 for %#", (text) => {
    expect(computeCrc32(text)).toBe(zlibCrc32!(Buffer.from(text, "latin1")));
  });

  it("returns an unsigned 32-bit integer", () => {
    for (const text of ["", "a", "123456789", "\u00ff".repeat(7)]) {
      const crc = computeCrc32(text);
      expect(Number.isInteger(crc)).toBe(true);
      expect(crc).toBeGreaterThanOrEqual(0);
      expect(crc).toBeLessThanOrEqual(0xffffffff);
    }
  });

  it("throws rather than truncate code units above 0xFF", () => {
    expect(() => computeCrc32("\u0100")).toThrow(RangeError);
    expect(() => computeCrc32("ok\u{1F600}")).toThrow(RangeError);
  });
});

describe("encodeBase62", () => {
  it.each([
    [0, 6, "000000"],
    [1, 6, "000001"],
    [9, 6, "000009"],
    [10, 6, "00000A"],
    [35, 6, "00000Z"],
    [36, 6, "00000a"],
    [61, 6, "00000z"],
    [62, 6, "000010"],
    [3843, 6, "0000zz"],
    [0xffffffff, 6, "4gfFC3"],
    [62 ** 6 - 1, 6, "zzzzzz"],
    [0, 0, ""],
    [61, 1, "z"],
  ])("encodeBase62(%d, %d) = %j", (value, width, expected) => {
    expect(encodeBase62(value, width)).toBe(expected);
  });

  it.each([
    ["value too large for width", 62 ** 6, 6],
    ["62 in one digit", 62, 1],
    ["any positive value in zero digits", 1, 0],
    ["negative value", -1, 6],
    ["fractional value", 1.5, 6],
    ["NaN", Number.NaN, 6],
    ["Infinity", Number.POSITIVE_INFINITY, 6],
    ["unsafe integer", 2 ** 53, 20],
    ["negative width", 0, -1],
    ["fractional width", 0, 1.5],
  ])("throws RangeError for %s", (_label, value, width) => {
    expect(() => encodeBase62(value, width)).toThrow(RangeError);
  });
});

describe("computeKeyChecksum", () => {
  // Expected values computed independently with Python's zlib.crc32 and a separate base62 encoder.
  it.each([
    ["abcdefghijABCDEFGHIJ0123456789", "2C2O59"],
    ["000000000000000000000000000000", "2C8GjS"],
    ["Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0", "2ZFgkD"],
    ["123456789", "3jZRME"],
  ])("checksum(%j) = %j", (randomPart, expected) => {
    expect(computeKeyChecksum(randomPart)).toBe(expected);
  });
});
