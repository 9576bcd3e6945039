// Scoped key generation. Randomness is injectable so tests are deterministic.

import { randomBytes } from "node:crypto";
import { BASE62_ALPHABET, computeKeyChecksum } from "./checksum";
import { SCOPED_KEY_PREFIX, SCOPED_KEY_RANDOM_LENGTH } from "./format";

export type RandomBytes = (size: number) => Uint8Array;

// 248 = 4 * 62: bytes at or above it would over-represent the first 8 characters.
const REJECTION_THRESHOLD = 248;
// A healthy source needs a handful of rounds; this only stops a broken one from looping forever.
const MAX_DRAW_ROUNDS = 64;

const defaultRandom: RandomBytes = (size) => randomBytes(size);

export function generateScopedKey(random: RandomBytes = defaultRandom): string {
  let randomPart = "";
  for (let round = 0; round < MAX_DRAW_ROUNDS; round++) {
    // Ask only for what is still missing, so the byte stream maps 1:1 onto the output.
    const bytes = random(SCOPED_KEY_RANDOM_LENGTH - randomPart.length);
    for (const byte of bytes) {
      if (byte >= REJECTION_THRESHOLD) continue;
      randomPart += BASE62_ALPHABET[byte % 62]!;
      if (randomPart.length === SCOPED_KEY_RANDOM_LENGTH) {
        return SCOPED_KEY_PREFIX + randomPart + computeKeyChecksum(randomPart);
      }
    }
  }
  throw new Error("random source did not yield enough usable bytes");
}
