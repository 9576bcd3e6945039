// The file `npm run keys:report-leak -- <file>` sends (scripts/report-leak.ts): a scanner's JSON
// findings, or one token per line found by hand. Messages name a finding or a line by number,
// never its token.
import { z } from "zod";
import {
  cleanLeakText,
  LEAK_REPORT_MAX_BYTES,
  LEAK_REPORT_MAX_FINDINGS,
  LEAK_SOURCE_MAX_LENGTH,
  LEAK_TOKEN_MAX_LENGTH,
  LEAK_TYPE_MAX_LENGTH,
  LEAK_URL_MAX_LENGTH,
  type LeakFinding,
} from "@/lib/core/leaks/report";

export type FindingsFile = { ok: true; findings: LeakFinding[] } | { ok: false; message: string };

/** What a token found by hand is reported as. */
export type ManualFinding = { url: string; source: string };

export const MANUAL_TYPE = "manual";

// The route's format (lib/core/leaks/report.ts); the metadata is cleaned and cut here as the
// server would, so that no single finding can outgrow a request.
const findingSchema = z.object({
  token: z.string().min(1, "its token is empty").max(LEAK_TOKEN_MAX_LENGTH, `its token is longer than ${LEAK_TOKEN_MAX_LENGTH} characters`),
  type: z.string({ error: '"type" must be a string' }),
  url: z.string({ error: '"url" must be a string' }),
  source: z.string({ error: '"source" must be a string' }),
});

/**
 * A JSON array of `{"token", "type", "url", "source"}` (the route's format, any length: it is sent
 * in parts), or, when the text does not start with `[`, one token per line with type `manual` and
 * the given url and source; blank lines and `#` comments are skipped.
 */
export function parseFindingsFile(text: string, manual: ManualFinding): FindingsFile {
  const content = text.replace(/^\uFEFF/, "");
  return content.trimStart().startsWith("[") ? parseJsonFindings(content) : parseTokenLines(content, manual);
}

function parseJsonFindings(text: string): FindingsFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: "the file is not valid JSON" };
  }
  if (!Array.isArray(value)) return { ok: false, message: "expected a JSON array of findings" };
  const findings: LeakFinding[] = [];
  for (const [index, item] of value.entries()) {
    const parsed = findingSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const why = issue?.code === "invalid_type" && issue.path.length === 0 ? 'expected {"token", "type", "url", "source"}' : issue?.message;
      return { ok: false, message: `finding ${index + 1}: ${why ?? "invalid"}` };
    }
    findings.push(cleanFinding(parsed.data));
  }
  return { ok: true, findings };
}

function cleanFinding({ token, type, url, source }: LeakFinding): LeakFinding {
  return {
    token,
    type: cleanLeakText(type, LEAK_TYPE_MAX_LENGTH),
    url: cleanLeakText(url, LEAK_URL_MAX_LENGTH),
    source: cleanLeakText(source, LEAK_SOURCE_MAX_LENGTH),
  };
}

function parseTokenLines(text: string, manual: ManualFinding): FindingsFile {
  const findings: LeakFinding[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const token = raw.trim();
    if (token === "" || token.startsWith("#")) continue;
    if (token.length > LEAK_TOKEN_MAX_LENGTH) return { ok: false, message: `line ${index + 1}: longer than ${LEAK_TOKEN_MAX_LENGTH} characters` };
    findings.push(cleanFinding({ token, type: MANUAL_TYPE, url: manual.url, source: manual.source }));
  }
  return { ok: true, findings };
}

/**
 * The findings as request bodies, in order, each within the route's limits (at most 1,000
 * findings and 1 MB): JSON arrays, exactly the bytes that are signed and sent.
 */
export function reportBodies(findings: LeakFinding[], maxFindings = LEAK_REPORT_MAX_FINDINGS, maxBytes = LEAK_REPORT_MAX_BYTES): string[] {
  const bodies: string[] = [];
  let items: string[] = [];
  let bytes = 2; // the brackets
  for (const finding of findings) {
    const item = JSON.stringify({ token: finding.token, type: finding.type, url: finding.url, source: finding.source });
    const size = Buffer.byteLength(item) + (items.length > 0 ? 1 : 0);
    if (items.length > 0 && (items.length >= maxFindings || bytes + size > maxBytes)) {
      bodies.push(`[${items.join(",")}]`);
      items = [];
      bytes = 2;
    }
    items.push(item);
    bytes += Buffer.byteLength(item) + (items.length > 1 ? 1 : 0);
  }
  if (items.length > 0) bodies.push(`[${items.join(",")}]`);
  return bodies;
}
