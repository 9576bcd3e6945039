// SPEC §11 invitation links: `/invite/<token>`, shown once, single use, valid 7 days. Like a key,
// only the token's SHA-256 is stored, so a copy of the database cannot be used to join a team.

import { createHash, randomBytes } from "node:crypto";

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** 32 random bytes in base64url: 43 characters of [A-Za-z0-9_-]. */
export const INVITATION_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new token; `random` is a parameter so tests can pin it. */
export function newInvitationToken(random: (size: number) => Uint8Array = randomBytes): string {
  return Buffer.from(random(32)).toString("base64url");
}

/** Whether `value` could be a token at all: anything else is refused before a database read. */
export function isInvitationToken(value: string): boolean {
  return INVITATION_TOKEN_PATTERN.test(value);
}

/** The stored form: lowercase hex SHA-256 of the token. */
export function hashInvitationToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The link's path, the only place the token ever appears. */
export function invitationPath(token: string): string {
  return `/invite/${token}`;
}
