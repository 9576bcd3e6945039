import { LEVEL_LABELS, type RequiredLevel } from "@/lib/core/scopes/levels";
import { GRAPHQL_RESOURCE, UNKNOWN_RESOURCE, USAGE_CODES, type UsageCode, type UsageVia } from "@/lib/core/usage/tally";
import type { UsageRange } from "@/lib/dal/usage";

// SPEC §10, the key's page: what the `Requests` chart, its table and `Usage by resource` show, as
// one plain value. The page renders it on the server and the usage route answers it as JSON for
// the browser's polling, so both paints go through the same functions here.

export const USAGE_RANGE_CHOICES: readonly { id: UsageRange; label: string }[] = [
  { id: "24h", label: "24 hours" },
  { id: "30d", label: "30 days" },
];

export type UsageResourceRow = {
  /** Stable across polls, for React keys: way in, resource id and access. */
  id: string;
  name: string;
  /** LEVEL_LABELS of the access the requests asked for. */
  access: string;
  allowed: number;
  denied: number;
  /** Epoch ms of the latest request counted. */
  lastAt: number;
};

export type UsageView = {
  range: UsageRange;
  /** When the server read it (epoch ms): `Last seen` is said relative to this, so the server's and the browser's first paint agree. */
  now: number;
  bucketMs: number;
  /** Oldest first; every bucket of the range is there, empty ones with no counts. */
  buckets: { start: number; counts: Partial<Record<UsageCode, number>> }[];
  resources: UsageResourceRow[];
};

/** Allowed is named as people say it; each denial by the code the APIs answer with (`Refused: <CODE>`). */
export function outcomeLabel(code: UsageCode): string {
  return code === "VALID" ? "Allowed" : code;
}

/** The outcomes to show: `Allowed` always, then each denial code with any request in the range, in USAGE_CODES order. */
export function outcomeCodes(buckets: UsageView["buckets"]): UsageCode[] {
  return USAGE_CODES.filter((code) => code === "VALID" || buckets.some((bucket) => (bucket.counts[code] ?? 0) > 0));
}

export type UsageTableRow = { start: number; counts: number[]; total: number };

/** The chart's numbers as a table: a row per bucket, a column per outcome (outcomeCodes) and the totals. */
export function usageTable(buckets: UsageView["buckets"]): { codes: UsageCode[]; rows: UsageTableRow[]; totals: number[]; total: number } {
  const codes = outcomeCodes(buckets);
  const totals = codes.map(() => 0);
  const rows = buckets.map((bucket) => {
    const counts = codes.map((code, i) => {
      const count = bucket.counts[code] ?? 0;
      totals[i] = (totals[i] ?? 0) + count;
      return count;
    });
    return { start: bucket.start, counts, total: counts.reduce((sum, count) => sum + count, 0) };
  });
  return { codes, rows, totals, total: totals.reduce((sum, count) => sum + count, 0) };
}

/**
 * `Usage by resource`'s name for a row: `GraphQL`, the endpoint's name, `Deleted endpoint` for an
 * id no longer among the account's endpoints, `Unknown endpoint` for ids that never were; requests
 * the verify API answered on a caller's behalf read `Verify API: …`.
 */
export function resourceName(resource: string, via: UsageVia, endpointNames: ReadonlyMap<string, string>): string {
  const name =
    resource === GRAPHQL_RESOURCE ? "GraphQL" : resource === UNKNOWN_RESOURCE ? "Unknown endpoint" : (endpointNames.get(resource) ?? "Deleted endpoint");
  return via === "verify" ? `Verify API: ${name}` : name;
}

export function accessLabel(access: RequiredLevel): string {
  return LEVEL_LABELS[access];
}

const counts = new Intl.NumberFormat("en-US");

/** 1234567 → "1,234,567". */
export function formatCount(count: number): string {
  return counts.format(count);
}

/**
 * A bucket's name. Hours are UTC hours, named in `timeZone` (the browser's own once the page is
 * live, UTC until then so that the server's HTML and the first browser render agree); days are
 * UTC days, named by their date. `tick` is the axis's short form, `row` the table's.
 */
export function bucketLabel(start: number, range: UsageRange, form: "tick" | "row", timeZone?: string): string {
  const date = new Date(start);
  if (range === "24h") {
    const options: Intl.DateTimeFormatOptions =
      form === "tick" ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    return new Intl.DateTimeFormat("en-US", { ...options, timeZone }).format(date);
  }
  const options: Intl.DateTimeFormatOptions = form === "tick" ? { month: "short", day: "numeric" } : { weekday: "short", month: "short", day: "numeric" };
  return new Intl.DateTimeFormat("en-US", { ...options, timeZone: "UTC" }).format(date);
}
