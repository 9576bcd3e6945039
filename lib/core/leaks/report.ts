// Leak reports from secret scanners (SPEC §9): the body's format and limits, its signature, and
// which tokens could be keys at all. Pure: the route (lib/http/leaks-api.ts) and the CLI
// (scripts/report-leak.ts) share it.
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { parsePresentedKey } from "@/lib/core/keys/format";

/** The largest body accepted, in bytes: 1,000 findings with long URLs fit with room to spare. */
export const LEAK_REPORT_MAX_BYTES = 1024 * 1024;
export const LEAK_REPORT_MAX_FINDINGS = 1_000;
/** A token longer than this is refused with the report: no key comes near it (lib/core/keys/format.ts). */
export const LEAK_TOKEN_MAX_LENGTH = 1_024;
// Where a key was found is kept and shown as given, cut to these many code points: a long URL
// should not make a scanner's whole report fail.
export const LEAK_TYPE_MAX_LENGTH = 100;
export const LEAK_URL_MAX_LENGTH = 2_048;
export const LEAK_SOURCE_MAX_LENGTH = 200;

export const LEAK_SIGNATURE_HEADER = "keyscope-signature";

/** A finding as a scanner sends it (GitHub's secret scanning partner format). */
export type LeakFinding = { token: string; type: string; url: string; source: string };

export type LeakLabel = "true_positive" | "false_positive";

// Characters that would disguise the text where it is shown (the dashboard's banner, the audit
// log, webhook payloads): C0/C1 controls, text-direction marks and overrides, line and paragraph
// separators, and lone surrogates (not storable as UTF-8).
const DISGUISING = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029]|\p{Cs}/gu;

/**
 * Metadata text (type, url, source) as it is stored and echoed: surrounding whitespace trimmed,
 * disguising characters within replaced by U+FFFD, then cut to `max` code points. Never refuses.
 */
export function cleanLeakText(raw: string, max: number): string {
  // Cut first, generously, so an oversized field costs no more than a long one.
  const text = raw.slice(0, 4 * max).trim().replace(DISGUISING, "\uFFFD");
  if (text.length <= max) return text;
  return [...text].slice(0, max).join("").trimEnd();
}

const metadata = (max: number) => z.string().transform((value) => cleanLeakText(value, max));

/** One finding: the token exactly as found (its hash is what the answer names), the rest cleaned. */
const findingSchema = z.object({
  token: z.string().min(1).max(LEAK_TOKEN_MAX_LENGTH),
  type: metadata(LEAK_TYPE_MAX_LENGTH),
  url: metadata(LEAK_URL_MAX_LENGTH),
  source: metadata(LEAK_SOURCE_MAX_LENGTH),
});

/** The body of `POST /api/v1/leaks`: a JSON array of at most 1,000 findings (not empty). */
export const leakReportSchema = z.array(findingSchema).min(1).max(LEAK_REPORT_MAX_FINDINGS);

export const LEAK_REPORT_FORMAT = `Expected a JSON array of 1 to ${LEAK_REPORT_MAX_FINDINGS} {"token", "type", "url", "source"} strings (token at most ${LEAK_TOKEN_MAX_LENGTH} characters).`;

/** `sha256=<hex HMAC-SHA256 of the body under secret>`: the Keyscope-Signature header's value. */
export function signLeakReport(body: Uint8Array | string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

const SIGNATURE_SHAPE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Whether `header` is the body's signature under `secret`. The digests are compared in constant
 * time (both are 32 bytes: the shape is checked first, and says nothing about the secret).
 */
export function hasValidLeakSignature(header: string | null, body: Uint8Array, secret: string): boolean {
  const match = header === null ? null : SIGNATURE_SHAPE.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!, "hex");
  const expected = createHmac("sha256", secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Whether a token could be a key here at all: a scoped key whose checksum holds, or a legacy
 * key's shape. Anything else is a false positive without a database read.
 */
export function couldBeKey(token: string): boolean {
  return parsePresentedKey(token).ok;
}
