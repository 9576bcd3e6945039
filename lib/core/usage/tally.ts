// Usage (SPEC §10): every decision about a known key counts into that key's usage by hour,
// resource, access and outcome. These are the shapes the counter, the DAL, the suggestion rules,
// the impact preview and the dashboard share.
import type { RequiredLevel } from "@/lib/core/scopes/levels";

/** Outcome codes a decision about a known key can have: allowed, or one of the denials. */
export const USAGE_CODES = [
  "VALID",
  "KEY_DISABLED",
  "KEY_EXPIRED",
  "IP_NOT_ALLOWED",
  "NOT_FOUND",
  "INSUFFICIENT_SCOPE",
  "RATE_LIMITED",
] as const;
export type UsageCode = (typeof USAGE_CODES)[number];

/** Which API asked: the endpoint API and GraphQL (`api`), or the verify API on the caller's behalf (`verify`). */
export type UsageVia = "api" | "verify";

/**
 * What a request asked for: `graphql`, the id of an endpoint of the key's own account, or
 * `unknown` for an endpoint id that is not (so a key holder cannot grow the counters with
 * made-up ids, and nothing about other accounts' endpoints is kept).
 */
export const GRAPHQL_RESOURCE = "graphql";
export const UNKNOWN_RESOURCE = "unknown";

/** How many requests of one key asked for `resource` at `access` through `via` and got `code`, over some window. */
export type UsageTally = {
  resource: string;
  via: UsageVia;
  access: RequiredLevel;
  code: UsageCode;
  count: number;
};

/** Outcomes that passed the scope check: the request used the level it asked for (a rate-limited request would have been allowed). */
export function passedScope(code: UsageCode): boolean {
  return code === "VALID" || code === "RATE_LIMITED";
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The start of the UTC hour `at` falls in: usage is counted by these. */
export function hourOf(at: number): number {
  return at - (((at % HOUR_MS) + HOUR_MS) % HOUR_MS);
}

/** The start of the UTC day `at` falls in: the daily roll-up's buckets. */
export function dayOf(at: number): number {
  return at - (((at % DAY_MS) + DAY_MS) % DAY_MS);
}
