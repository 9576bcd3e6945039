import { normalizeName } from "@/lib/core/names";
import { isLegacyPermission, type LegacyPermission } from "@/lib/core/scopes/levels";
import { formatDisplayHint, isLegacyKeyHash, parsePresentedKey } from "./format";
import { hashKey } from "./hash";

export type LegacyFileEntry = { line: number; name: string; permission: LegacyPermission; keyHash: string; hint: string };
export type LegacyFileResult = { ok: true; entries: LegacyFileEntry[] } | { ok: false; line: number; message: string };

/** Shown for keys imported as a SHA-256 only: their last characters are unknown. */
export const HASH_ONLY_HINT = "(hash only)";

/**
 * Parses a legacy key file: one `<name>,<read|read_write>,<key or sha256 hex>` per line. Blank
 * lines and lines starting with `#` are skipped; the name may itself contain commas. The first
 * bad line fails the whole file (all or nothing), with its 1-based line number. Plaintext keys
 * are hashed here and never returned.
 */
export function parseLegacyKeyFile(text: string): LegacyFileResult {
  const entries: LegacyFileEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const content = raw.replace(/\r$/, "");
    if (content.trim() === "" || content.trimStart().startsWith("#")) continue;
    const last = content.lastIndexOf(",");
    const middle = last > 0 ? content.lastIndexOf(",", last - 1) : -1;
    if (middle < 0) return { ok: false, line, message: "expected <name>,<read|read_write>,<key or sha256 hex>" };
    // The same rule as every other writer of names; its message, never the name, is reported.
    const name = normalizeName(content.slice(0, middle));
    const permission = content.slice(middle + 1, last).trim();
    const secret = content.slice(last + 1).trim();
    if (!name.ok) return { ok: false, line, message: name.message.replace(/\.$/, "") };
    if (!isLegacyPermission(permission)) {
      return { ok: false, line, message: "the permission must be read or read_write" };
    }
    let keyHash: string;
    let hint: string;
    if (isLegacyKeyHash(secret)) {
      keyHash = secret.toLowerCase();
      hint = HASH_ONLY_HINT;
    } else {
      const parsed = parsePresentedKey(secret);
      // Never echo the value: it may be a real key with a typo.
      if (!parsed.ok || parsed.kind !== "legacy") {
        return { ok: false, line, message: "the key is neither a legacy key (32 characters A–Z, 0–9) nor a SHA-256 hex digest" };
      }
      keyHash = hashKey(secret);
      hint = formatDisplayHint(secret, "legacy");
    }
    const earlier = seen.get(keyHash);
    if (earlier !== undefined) return { ok: false, line, message: `the same key is already on line ${earlier}` };
    seen.set(keyHash, line);
    entries.push({ line, name: name.name, permission, keyHash, hint });
  }
  if (entries.length === 0) return { ok: false, line: lines.length, message: "the file holds no keys" };
  return { ok: true, entries };
}
