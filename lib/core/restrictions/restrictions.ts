// SPEC §9: the `Restrictions` form of a key, as one rule that the server action (for messages on
// the right field) and the DAL (for every other caller) both apply.
import { parseAllowlist } from "@/lib/core/restrictions/addresses";
import { MAX_RATE_LIMIT, RATE_WINDOWS, type RateRule, type RateWindow } from "@/lib/core/restrictions/rate-limit";

export const RATE_LIMIT_MESSAGE = `Rate limit must be a whole number from 1 to ${MAX_RATE_LIMIT.toLocaleString("en-US")}.`;
export const PER_MESSAGE = "Choose per second, minute or hour.";

/** As the form sends it: the textarea's text, and a limit (null: none) with its window. */
export type RestrictionsInput = { allowedIps: string; rateLimit: number | null; per: RateWindow | null };

/** As stored and shown: null means no restriction of that kind. */
export type Restrictions = { allowedIps: string[] | null; rateLimit: RateRule | null };

export type RestrictionsResult =
  | { ok: true; restrictions: Restrictions }
  | { ok: false; field: keyof RestrictionsInput; message: string };

/** The first field that is wrong, with its message; `per` counts only when there is a limit. */
export function normalizeRestrictions(input: RestrictionsInput): RestrictionsResult {
  const allowlist = parseAllowlist(input.allowedIps);
  if (!allowlist.ok) return { ok: false, field: "allowedIps", message: allowlist.message };
  const allowedIps = allowlist.ranges.length > 0 ? allowlist.ranges : null;
  if (input.rateLimit === null) return { ok: true, restrictions: { allowedIps, rateLimit: null } };
  const limit = input.rateLimit;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RATE_LIMIT) return { ok: false, field: "rateLimit", message: RATE_LIMIT_MESSAGE };
  if (input.per === null || !(RATE_WINDOWS as readonly string[]).includes(input.per)) return { ok: false, field: "per", message: PER_MESSAGE };
  return { ok: true, restrictions: { allowedIps, rateLimit: { limit, per: input.per } } };
}

/** "100 requests per minute", "1 request per second". */
export function describeRateLimit(rule: RateRule): string {
  return `${rule.limit.toLocaleString("en-US")} ${rule.limit === 1 ? "request" : "requests"} per ${rule.per}`;
}

/** The stored columns as the dashboard shows them; a list that cannot be read shows as empty, not as "any address". */
export function storedRestrictions(allowedIps: string | null, rateLimit: number | null, per: RateWindow | null): Restrictions {
  let ranges: string[] | null = null;
  if (allowedIps !== null) {
    try {
      const parsed: unknown = JSON.parse(allowedIps);
      ranges = Array.isArray(parsed) ? parsed.filter((range): range is string => typeof range === "string") : [];
    } catch {
      ranges = [];
    }
  }
  return { allowedIps: ranges, rateLimit: rateLimit !== null && per !== null ? { limit: rateLimit, per } : null };
}

/** A stored range as a person writes it: a single address without its /32 or /128. */
export function displayRange(range: string): string {
  return range.replace(range.includes(":") ? /\/128$/ : /\/32$/, "");
}
