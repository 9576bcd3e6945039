// How webhook deliveries are signed (SPEC §9), with the same header as leak reports:
// `Keyscope-Signature: sha256=<hex HMAC-SHA256 of the exact body under the webhook's secret>`.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { BASE62_ALPHABET } from "@/lib/core/keys/checksum";
import type { RandomBytes } from "@/lib/core/keys/generate";

export const WEBHOOK_SECRET_PREFIX = "whsec_";
const SECRET_RANDOM_LENGTH = 32;
// 248 = 4 × 62: bytes at or above it would over-represent the first 8 characters.
const REJECTION_THRESHOLD = 248;
const MAX_DRAW_ROUNDS = 64;

/** `whsec_` + 32 base62 characters (~190 bits), shown once when the webhook is added. */
export function generateWebhookSecret(random: RandomBytes = (size) => randomBytes(size)): string {
  let out = "";
  for (let round = 0; round < MAX_DRAW_ROUNDS; round++) {
    for (const byte of random(SECRET_RANDOM_LENGTH - out.length)) {
      if (byte >= REJECTION_THRESHOLD) continue;
      out += BASE62_ALPHABET[byte % 62]!;
      if (out.length === SECRET_RANDOM_LENGTH) return WEBHOOK_SECRET_PREFIX + out;
    }
  }
  throw new Error("random source did not yield enough usable bytes");
}

/** The `Keyscope-Signature` header's value for `body` (the exact bytes sent). */
export function signWebhookBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** What a receiver does: recompute and compare in constant time. */
export function verifyWebhookSignature(secret: string, body: string | Uint8Array, header: string | null | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
