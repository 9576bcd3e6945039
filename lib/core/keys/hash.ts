// At-rest form of a key: only this digest is stored, never the key itself.

import { createHash } from "node:crypto";

/** Lowercase hex SHA-256 of the key's UTF-8 bytes. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}
