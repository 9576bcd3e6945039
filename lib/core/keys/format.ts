// Key shapes, parsing of presented keys, and the at-rest display hint.

import { computeKeyChecksum } from "./checksum";

export const SCOPED_KEY_PREFIX = "rpa_";
export const SCOPED_KEY_RANDOM_LENGTH = 30;
export const SCOPED_KEY_CHECKSUM_LENGTH = 6;
export const SCOPED_KEY_LENGTH = 40;
export const LEGACY_KEY_LENGTH = 32;
// Refused before any other work (regex, checksum, hashing) so oversized input costs nothing.
export const MAX_PRESENTED_KEY_LENGTH = 64;

// Published for secret scanners. No `g` flag: a global regex keeps lastIndex
// between .test() calls, which would make a shared constant stateful.
export const SECRET_SCANNING_REGEX = /\brpa_[0-9A-Za-z]{36}\b/;
export const SECRET_SCANNING_PATTERN = SECRET_SCANNING_REGEX.source;

const SCOPED_KEY_SHAPE = /^rpa_[0-9A-Za-z]{36}$/;
const LEGACY_KEY_SHAPE = /^[A-Z0-9]{32}$/;
const SHA256_HEX_SHAPE = /^[0-9a-fA-F]{64}$/;

const ELLIPSIS = "\u2026";
const HINT_RANDOM_CHARS = 4;
const HINT_TAIL_CHARS = 4;

export type KeyKind = "scoped" | "legacy";

export type ParsedKey =
  | { ok: true; kind: KeyKind; key: string }
  | { ok: false; reason: "too_long" | "malformed" | "bad_checksum" };

/**
 * Classifies a key as presented by a client. No trimming: a key with
 * surrounding whitespace is malformed, so only one spelling ever hashes to a match.
 */
export function parsePresentedKey(presented: string): ParsedKey {
  // Runtime guard for callers that bypass the type (e.g. untyped header values).
  if (typeof presented !== "string") return { ok: false, reason: "malformed" };
  if (presented.length > MAX_PRESENTED_KEY_LENGTH) return { ok: false, reason: "too_long" };

  if (SCOPED_KEY_SHAPE.test(presented)) {
    const randomEnd = SCOPED_KEY_PREFIX.length + SCOPED_KEY_RANDOM_LENGTH;
    const randomPart = presented.slice(SCOPED_KEY_PREFIX.length, randomEnd);
    // The checksum is derived from the caller's own input, so a plain
    // comparison leaks nothing secret.
    if (computeKeyChecksum(randomPart) !== presented.slice(randomEnd)) {
      return { ok: false, reason: "bad_checksum" };
    }
    return { ok: true, kind: "scoped", key: presented };
  }
  if (LEGACY_KEY_SHAPE.test(presented)) {
    return { ok: true, kind: "legacy", key: presented };
  }
  return { ok: false, reason: "malformed" };
}

/**
 * The non-secret hint stored beside the hash. Throws on a key of the wrong
 * shape rather than risk printing most of a short string verbatim.
 */
export function formatDisplayHint(key: string, kind: KeyKind): string {
  if (kind === "scoped") {
    if (!SCOPED_KEY_SHAPE.test(key)) throw new RangeError("not a scoped key");
    const randomStart = SCOPED_KEY_PREFIX.length;
    return (
      SCOPED_KEY_PREFIX +
      key.slice(randomStart, randomStart + HINT_RANDOM_CHARS) +
      ELLIPSIS +
      key.slice(-HINT_TAIL_CHARS)
    );
  }
  if (!LEGACY_KEY_SHAPE.test(key)) throw new RangeError("not a legacy key");
  return ELLIPSIS + key.slice(-HINT_TAIL_CHARS);
}

/** True for a sha256 hex digest (either case), as the legacy importer may receive instead of a plaintext key. */
export function isLegacyKeyHash(text: string): boolean {
  return typeof text === "string" && SHA256_HEX_SHAPE.test(text);
}
