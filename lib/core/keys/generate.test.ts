import { describe, expect, it } from "vitest";
import { parsePresentedKey, SCOPED_KEY_LENGTH, SECRET_SCANNING_REGEX } from "./format";
import { generateScopedKey, type RandomBytes } from "./generate";

/** A fake random source that hands out a fixed byte stream in order and records each request. */
function byteStream(bytes: readonly number[]): RandomBytes & { requests: number[] } {
  let position = 0;
  const requests: number[] = [];
  const random = (size: number): Uint8Array => {
    requests.push(size);
    if (position + size > bytes.length) throw new Error("fake byte stream exhausted");
    const chunk = Uint8Array.from(bytes.slice(position, position + size));
    position += size;
    return chunk;
  };
  return Object.assign(random, { requests });
}

// Expected keys computed independently in Python (reject >= 248, byte % 62, zlib.crc32, base62).
describe("generateScopedKey with an injected random source", () => {
  it.each<[string, number[], string]>([
    ["all zero bytes", Array<number>(30).fill(0), "rpa_0000000000000000000000000000002C8GjS"],
    [
      "mixed bytes with rejected values (>= 248) skipped",
      [
        255, 248, 0, 1, 9, 10, 35, 36, 61, 62, 63, 123, 124, 247, 249, 200, 100, 50, 25, 5, 250, 251,
        252, 253, 254, 70, 80, 90, 110, 130, 150, 170, 190, 210, 230, 240, 245, 246, 7, 3, 11, 12,
      ],
      "rpa_019AZaz01z0zEcoP58ISm6Qk4Oisxy3izQqZ",
    ],
  ])("%s", (_label, bytes, expected) => {
    expect(generateScopedKey(byteStream(bytes))).toBe(expected);
  });

  it("draws only the missing count after rejections", () => {
    // 30 bytes of which 3 are rejected, then 3 more accepted bytes.
    const random = byteStream([...Array<number>(27).fill(1), 248, 251, 255, 2, 3, 4]);
    expect(generateScopedKey(random)).toBe("rpa_1111111111111111111111111112343ILUTs");
    expect(random.requests).toEqual([30, 3]);
  });

  it("never maps a rejected byte to a character", () => {
    // 247 is the largest accepted byte (247 % 62 = 61 → 'z').
    const random = byteStream([...Array<number>(8).fill(248 + 7), ...Array<number>(30).fill(247)]);
    expect(generateScopedKey(random).slice(4, 34)).toBe("z".repeat(30));
  });

  it("throws instead of looping forever on a source that yields only rejected bytes", () => {
    const random: RandomBytes = (size) => new Uint8Array(size).fill(255);
    expect(() => generateScopedKey(random)).toThrow();
  });

  it("throws on a source that yields no bytes", () => {
    expect(() => generateScopedKey(() => new Uint8Array(0))).toThrow();
  });
});

describe("generateScopedKey with node:crypto", () => {
  it("always has the published shape and a valid checksum", () => {
    for (let i = 0; i < 200; i++) {
      const key = generateScopedKey();
      expect(key).toHaveLength(SCOPED_KEY_LENGTH);
      expect(SECRET_SCANNING_REGEX.test(key)).toBe(true);
      expect(parsePresentedKey(key)).toEqual({ ok: true, kind: "scoped", key });
    }
  });

  it("produces 1000 distinct keys", () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateScopedKey()));
    expect(keys.size).toBe(1000);
  });
});

