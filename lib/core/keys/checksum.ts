// CRC-32 + base62 checksum for scoped keys. Pure: no I/O, no dependencies.

export const BASE62_ALPHABET =
  "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const CHECKSUM_WIDTH = 6;

// zlib / IEEE 802.3 polynomial, reflected form.
const CRC32_POLYNOMIAL = 0xedb88320;

// Built once at module load; every checksum reuses it.
const CRC32_TABLE: Uint32Array = buildCrc32Table();

function buildCrc32Table(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? CRC32_POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC-32 of the string's latin1 bytes (one byte per UTF-16 code unit).
 * Code units above 0xFF throw instead of being truncated, so two different
 * strings can never silently share a byte sequence.
 */
export function computeCrc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new RangeError("computeCrc32 accepts latin1 text only");
    }
    // Index is always 0..255, so the lookup is defined.
    crc = CRC32_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Base62 (`0-9A-Za-z`) of a non-negative safe integer, left-padded with '0' to `width`. */
export function encodeBase62(value: number, width: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError("encodeBase62 value must be a non-negative safe integer");
  }
  if (!Number.isSafeInteger(width) || width < 0) {
    throw new RangeError("encodeBase62 width must be a non-negative integer");
  }
  let digits = "";
  let rest = value;
  while (rest > 0) {
    digits = BASE62_ALPHABET[rest % 62]! + digits;
    rest = Math.floor(rest / 62);
  }
  if (digits.length > width) {
    throw new RangeError(`encodeBase62 value does not fit in ${width} digits`);
  }
  return digits.padStart(width, "0");
}

/** The 6-character checksum suffix of a scoped key, from its 30 random characters. */
export function computeKeyChecksum(randomPart: string): string {
  // 62^6 > 2^32, so any CRC-32 fits in six digits.
  return encodeBase62(computeCrc32(randomPart), CHECKSUM_WIDTH);
}
