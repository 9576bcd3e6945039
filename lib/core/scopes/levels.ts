// The one table of access levels (SPEC §1, §3, §5). The schema's level columns, the decision, the
// scope grid, the verify API and the audit text all read it, so a level cannot mean one thing in
// one place and another elsewhere. Ordered from least to most access; `rank` is what comparisons use.
export const LEVELS = [
  { id: "none", label: "None", rank: 0 },
  { id: "read", label: "Read", rank: 1 },
  { id: "read_write", label: "Read / Write", rank: 2 },
] as const;

type LevelIds<T extends readonly { id: string }[]> = { -readonly [K in keyof T]: T[K] extends { id: infer Id } ? Id : never };
type Tail<T extends readonly unknown[]> = T extends readonly [unknown, ...infer Rest] ? Rest : never;

/** Every level's id, in order: what the database stores and the APIs send. A tuple, for z.enum and drizzle's enum. */
export const ACCESS_LEVELS = Object.freeze(LEVELS.map((level) => level.id)) as Readonly<LevelIds<typeof LEVELS>>;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

/** The levels a request can need: all but the lowest (nothing ever needs `none`). */
export const REQUIRED_LEVELS = Object.freeze(ACCESS_LEVELS.slice(1)) as Readonly<Tail<typeof ACCESS_LEVELS>>;
export type RequiredLevel = (typeof REQUIRED_LEVELS)[number];

/** A legacy key's one permission (SPEC §2) is a level a request can need: `read` or `read_write`. */
export const LEGACY_PERMISSIONS = REQUIRED_LEVELS;
export type LegacyPermission = RequiredLevel;

/** How each level is named to people: the scope grid's columns, the audit log, messages. */
export const LEVEL_LABELS = Object.freeze(Object.fromEntries(LEVELS.map((level) => [level.id, level.label]))) as Readonly<Record<AccessLevel, string>>;

// A Map, not an object: no prototype members ("toString", "__proto__") to mistake for levels.
const LEVEL_RANK: ReadonlyMap<string, number> = new Map(LEVELS.map((level) => [level.id, level.rank]));
const LOWEST_RANK = LEVELS[0].rank;

export function isAccessLevel(value: unknown): value is AccessLevel {
  return typeof value === "string" && LEVEL_RANK.has(value);
}

export function isRequiredLevel(value: unknown): value is RequiredLevel {
  return typeof value === "string" && (LEVEL_RANK.get(value) ?? LOWEST_RANK) > LOWEST_RANK;
}

export function isLegacyPermission(value: unknown): value is LegacyPermission {
  return isRequiredLevel(value);
}

/**
 * Whether `granted` covers `required` (read_write includes read). Values
 * outside the types (stored data, casts) fail closed rather than compare as undefined.
 */
export function levelAllows(granted: AccessLevel, required: RequiredLevel): boolean {
  const grantedRank = LEVEL_RANK.get(granted);
  const requiredRank = LEVEL_RANK.get(required);
  if (grantedRank === undefined || requiredRank === undefined || requiredRank === LOWEST_RANK) return false;
  return grantedRank >= requiredRank;
}

/** The higher of two levels (an elevation never lowers a key's own level). Invalid values count as `none`. */
export function higherLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  const rankA = LEVEL_RANK.get(a);
  const rankB = LEVEL_RANK.get(b);
  if (rankA === undefined) return rankB === undefined ? "none" : b;
  if (rankB === undefined) return a;
  return rankB > rankA ? b : a;
}
