// Access levels, ordered: none < read < read_write.

export const ACCESS_LEVELS = ["none", "read", "read_write"] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

export type LegacyPermission = "read" | "read_write";

const LEVEL_RANK: Readonly<Record<AccessLevel, number>> = {
  none: 0,
  read: 1,
  read_write: 2,
};

export function isAccessLevel(value: unknown): value is AccessLevel {
  return typeof value === "string" && (ACCESS_LEVELS as readonly string[]).includes(value);
}

export function isLegacyPermission(value: unknown): value is LegacyPermission {
  return value === "read" || value === "read_write";
}

/**
 * Whether `granted` covers `required` (read_write includes read). Values
 * outside the types (stored data, casts) fail closed rather than compare as undefined.
 */
export function levelAllows(
  granted: AccessLevel,
  required: Exclude<AccessLevel, "none">,
): boolean {
  if (!isAccessLevel(granted) || (required !== "read" && required !== "read_write")) {
    return false;
  }
  return LEVEL_RANK[granted] >= LEVEL_RANK[required];
}
