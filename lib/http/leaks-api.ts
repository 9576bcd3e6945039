import { hashKey } from "@/lib/core/keys/hash";
import {
  couldBeKey,
  hasValidLeakSignature,
  LEAK_REPORT_FORMAT,
  LEAK_REPORT_MAX_BYTES,
  LEAK_SIGNATURE_HEADER,
  leakReportSchema,
  type LeakLabel,
} from "@/lib/core/leaks/report";
import { reportLeaks, type LeakReport } from "@/lib/dal/leaks";
import { readEnv } from "@/lib/env";
import { withAccessLog } from "./access-log";
import { apiErrorReply, jsonReply, toResponse, unavailableReply, type ApiReply } from "./api-error";
import { parseJsonBody, readBodyBytes } from "./read-body";

// A plain Fetch handler rather than an ApiRequest core (lib/http/api-transport.ts): the signature
// is over the raw body and in a header of its own, and reports are far too rare for the gateway's
// native fast path, so both servers carry it through Fetch.

export type LeaksApiOptions = {
  /** LEAK_REPORT_SECRET; unset, the route does not exist. */
  secret: string | undefined;
  now?: Date;
};

const BAD_SIGNATURE = "Missing or invalid Keyscope-Signature: send sha256=<hex HMAC-SHA256 of the raw body under LEAK_REPORT_SECRET>.";

/**
 * `POST /api/v1/leaks` (SPEC §9), for secret scanners: a signed JSON array of findings. Every
 * token that is a key here — any account's, scoped or legacy, its current secret or a previous
 * one still valid — disables that key. The answer labels each token by its SHA-256, in order, and
 * never carries a token.
 */
export async function leaksApi(request: Request, options: LeaksApiOptions): Promise<ApiReply> {
  // As if there were no such route: nothing tells a prober the feature exists.
  if (!options.secret || request.method !== "POST") return apiErrorReply("NOT_FOUND", "No such route.");
  const signature = request.headers.get(LEAK_SIGNATURE_HEADER);
  // Before the body is read: an unsigned request costs nothing more.
  if (signature === null) return apiErrorReply("UNAUTHENTICATED", BAD_SIGNATURE);
  const body = await readBodyBytes(request, LEAK_REPORT_MAX_BYTES);
  if (!body.ok) return apiErrorReply("BAD_REQUEST", body.message);
  // Nothing of the body is parsed before its signature holds.
  if (!hasValidLeakSignature(signature, body.bytes, options.secret)) return apiErrorReply("UNAUTHENTICATED", BAD_SIGNATURE);
  const json = parseJsonBody(body.bytes);
  if (!json.ok) return apiErrorReply("BAD_REQUEST", json.message);
  const parsed = leakReportSchema.safeParse(json.value);
  if (!parsed.success) {
    // Where, never what: the field could be a token.
    const where = parsed.error.issues[0]?.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
    return apiErrorReply("BAD_REQUEST", where ? `${LEAK_REPORT_FORMAT} First problem at ${where}.` : LEAK_REPORT_FORMAT);
  }
  const findings = parsed.data;
  const hashes = findings.map((finding) => hashKey(finding.token));
  // A token that cannot be a key (a checksum that fails, a shape no key has) is never looked up.
  const candidates: LeakReport[] = [];
  findings.forEach((finding, i) => {
    if (couldBeKey(finding.token)) candidates.push({ hash: hashes[i]!, url: finding.url, source: finding.source, type: finding.type });
  });
  let matched: Set<string>;
  try {
    matched = await reportLeaks(candidates, options.now ?? new Date());
  } catch (error) {
    return unavailableReply(error);
  }
  return jsonReply(
    findings.map((finding, i) => ({
      token_hash: hashes[i]!,
      token_type: finding.type,
      label: (matched.has(hashes[i]!) ? "true_positive" : "false_positive") satisfies LeakLabel,
    })),
  );
}

export const handleLeaksApi = withAccessLog(async (request) => {
  let reply: ApiReply;
  try {
    reply = await leaksApi(request, { secret: readEnv().LEAK_REPORT_SECRET });
  } catch (error) {
    reply = unavailableReply(error);
  }
  return toResponse(reply);
});
