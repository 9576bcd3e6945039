import type { UsageCsvRow } from "@/lib/dal/usage";
import { GRAPHQL_RESOURCE, UNKNOWN_RESOURCE } from "@/lib/core/usage/tally";

// SPEC §10 `Download usage`: the key's daily counts as CSV (RFC 4180: CRLF lines, quoted cells).

export const USAGE_CSV_COLUMNS = ["day", "resource", "endpoint", "via", "access", "outcome", "requests", "last_seen"] as const;

// A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); endpoint
// names are the account's own text, so each such cell gets a leading apostrophe.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: defused when it would start a formula, quoted when it holds a comma, quote or line break. */
export function csvCell(value: string | number): string {
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The file: a header line, then a line per day × resource × way in × access × outcome, oldest
 * first. Days are UTC dates, `last_seen` a UTC ISO time; `endpoint` names an endpoint resource
 * (empty for GraphQL, unknown and deleted endpoints). A key with no usage gives the header alone.
 */
export function usageCsv(rows: readonly UsageCsvRow[], endpointNames: ReadonlyMap<string, string>): string {
  const lines = [USAGE_CSV_COLUMNS.join(",")];
  for (const row of rows) {
    const endpoint = row.resource === GRAPHQL_RESOURCE || row.resource === UNKNOWN_RESOURCE ? "" : (endpointNames.get(row.resource) ?? "");
    const cells = [
      new Date(row.day).toISOString().slice(0, 10),
      row.resource,
      endpoint,
      row.via,
      row.access,
      row.code,
      row.count,
      new Date(row.lastAt).toISOString(),
    ];
    lines.push(cells.map(csvCell).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** `<key name>-usage.csv`, with only characters every file system and header parser takes. */
export function usageCsvFilename(keyName: string): string {
  const safe = keyName
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 80)
    .replace(/[-.]+$/, "");
  return `${safe || "api-key"}-usage.csv`;
}
