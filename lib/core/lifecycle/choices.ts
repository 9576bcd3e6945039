// SPEC §8: the choices the dashboard offers for a key's expiry, the grace period of a roll and the
// length of an elevation, and the rules that turn a choice into a time. Pure: `now` comes in.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const EXPIRATION_CHOICES = [
  { id: "7d", label: "7 days", ms: 7 * DAY },
  { id: "30d", label: "30 days", ms: 30 * DAY },
  { id: "90d", label: "90 days", ms: 90 * DAY },
  { id: "1y", label: "1 year", ms: 365 * DAY },
  { id: "custom", label: "Custom", ms: null },
  { id: "never", label: "No expiration", ms: null },
] as const;
export type ExpirationChoice = (typeof EXPIRATION_CHOICES)[number]["id"];
export const DEFAULT_EXPIRATION: ExpirationChoice = "90d";
export const EXPIRATION_IDS = EXPIRATION_CHOICES.map((choice) => choice.id) as [ExpirationChoice, ...ExpirationChoice[]];

/**
 * The choices a team's `Maximum key lifetime` (SPEC §11; null: none) leaves: `No expiration` and
 * every fixed length past the cap go, `Custom` stays (its date is checked against the cap).
 */
export function expirationChoicesWithin(maxDays: number | null): (typeof EXPIRATION_CHOICES)[number][] {
  if (maxDays === null) return [...EXPIRATION_CHOICES];
  return EXPIRATION_CHOICES.filter((choice) => choice.id === "custom" || (choice.ms !== null && choice.ms <= maxDays * DAY));
}

/** The default choice under a cap: 90 days when allowed, else the longest fixed length allowed. */
export function defaultExpirationWithin(maxDays: number | null): ExpirationChoice {
  const allowed = expirationChoicesWithin(maxDays);
  if (allowed.some((choice) => choice.id === DEFAULT_EXPIRATION)) return DEFAULT_EXPIRATION;
  return allowed.filter((choice) => choice.ms !== null).at(-1)?.id ?? "custom";
}

/** A custom expiry must be at least this far ahead when it is saved… */
export const MIN_CUSTOM_AHEAD_MS = MINUTE;
/** …and at most this far (ten years: a date anyone could mean; beyond is a typo). */
export const MAX_CUSTOM_AHEAD_MS = 3653 * DAY;

/** A key is "expiring soon" from this long before its expiry. */
export const EXPIRING_SOON_MS = 7 * DAY;

export type ExpiryResult = { ok: true; expiresAt: Date | null } | { ok: false; message: string };

/**
 * The expiry a choice means, counted from `now`. `custom` takes an ISO 8601 instant with its
 * offset (the browser converts the local date and time it shows), at least a minute ahead.
 */
export function resolveExpiration(choice: ExpirationChoice, customAt: string | null | undefined, now: Date): ExpiryResult {
  if (choice === "never") return { ok: true, expiresAt: null };
  if (choice !== "custom") {
    const spec = EXPIRATION_CHOICES.find((entry) => entry.id === choice);
    if (!spec?.ms) return { ok: false, message: "Choose an expiration." };
    return { ok: true, expiresAt: new Date(now.getTime() + spec.ms) };
  }
  if (!customAt) return { ok: false, message: "Enter the date and time the key expires." };
  // Only full ISO instants with an explicit offset: a bare date or time would be read in the
  // server's time zone, not the user's.
  const parts = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/.exec(customAt);
  const at = new Date(customAt);
  if (!parts || Number.isNaN(at.getTime())) return { ok: false, message: "Expires at is not a valid date and time." };
  // Date would read February 31st as March 3rd: the calendar date and time must exist as written.
  const [year, month, day, hour, minute] = parts.slice(1, 6).map(Number) as [number, number, number, number, number];
  const exists = month >= 1 && month <= 12 && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && hour <= 23 && minute <= 59;
  if (!exists) return { ok: false, message: "Expires at is not a valid date and time." };
  if (at.getTime() < now.getTime() + MIN_CUSTOM_AHEAD_MS) return { ok: false, message: "Expires at must be at least one minute from now." };
  if (at.getTime() > now.getTime() + MAX_CUSTOM_AHEAD_MS) return { ok: false, message: "Expires at must be within ten years." };
  return { ok: true, expiresAt: at };
}

export const GRACE_CHOICES = [
  { id: "now", label: "Expire now", ms: 0 },
  { id: "1h", label: "1 hour", ms: HOUR },
  { id: "24h", label: "24 hours", ms: DAY },
  { id: "7d", label: "7 days", ms: 7 * DAY },
  // Ends at the new secret's first successful use, and after 7 days at the latest.
  { id: "first_use", label: "Until the new key is first used", ms: 7 * DAY },
] as const;
export type GraceChoice = (typeof GRACE_CHOICES)[number]["id"];
export const GRACE_IDS = GRACE_CHOICES.map((choice) => choice.id) as [GraceChoice, ...GraceChoice[]];

/** When the old secret stops verifying (null: at once, it is not kept), and whether first use ends it sooner. */
export function resolveGrace(choice: GraceChoice, now: Date): { validUntil: Date | null; untilFirstUse: boolean } {
  const spec = GRACE_CHOICES.find((entry) => entry.id === choice);
  if (!spec || spec.ms === 0) return { validUntil: null, untilFirstUse: false };
  return { validUntil: new Date(now.getTime() + spec.ms), untilFirstUse: choice === "first_use" };
}

export const ELEVATION_DURATIONS = [
  { id: "15m", label: "15 minutes", ms: 15 * MINUTE },
  { id: "1h", label: "1 hour", ms: HOUR },
  { id: "4h", label: "4 hours", ms: 4 * HOUR },
  { id: "24h", label: "24 hours", ms: DAY },
] as const;
export type ElevationDuration = (typeof ELEVATION_DURATIONS)[number]["id"];
export const ELEVATION_DURATION_IDS = ELEVATION_DURATIONS.map((choice) => choice.id) as [ElevationDuration, ...ElevationDuration[]];

export function elevationEnd(duration: ElevationDuration, now: Date): Date {
  const spec = ELEVATION_DURATIONS.find((entry) => entry.id === duration);
  if (!spec) throw new Error("unknown elevation duration");
  return new Date(now.getTime() + spec.ms);
}

/**
 * What an elevation applies to: GraphQL, every endpoint, or one endpoint (by id). As a string in
 * forms and the database: `graphql`, `endpoints`, `endpoint:<id>`.
 */
export type ElevationTarget = { resource: "graphql" } | { resource: "endpoints" } | { resource: "endpoint"; endpointId: string };

export function elevationTargetKey(target: ElevationTarget): string {
  return target.resource === "endpoint" ? `endpoint:${target.endpointId}` : target.resource;
}

export function parseElevationTarget(value: string): ElevationTarget | null {
  if (value === "graphql" || value === "endpoints") return { resource: value };
  if (value.startsWith("endpoint:") && value.length > "endpoint:".length && value.length <= 137) {
    return { resource: "endpoint", endpointId: value.slice("endpoint:".length) };
  }
  return null;
}
