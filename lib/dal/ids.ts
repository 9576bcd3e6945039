import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** An opaque, URL-safe random id (lowercase base36, ~82 bits for 16 characters). */
export function newId(length = 16): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      // 252 = 7 × 36: reject the tail so every character is equally likely.
      if (byte < 252 && out.length < length) out += ALPHABET[byte % 36];
    }
  }
  return out;
}
