import { DatabaseUnavailableError } from "@/db/unavailable";
import { LEVEL_LABELS } from "@/lib/core/scopes/levels";
import type { RateState } from "@/lib/core/restrictions/rate-limit";
import type { Decision, DenialCode, ScopeShortfall } from "@/lib/core/verify/verifier";

// JOB_QUOTA_EXCEEDED is the account's cap on unfinished jobs (lib/dal/jobs.ts), not SPEC §9's
// per-key rate limit (RATE_LIMITED): waiting for jobs to finish lifts it, not slowing down.
export type ApiErrorCode = DenialCode | "BAD_REQUEST" | "JOB_QUOTA_EXCEEDED" | "UNAVAILABLE";

const STATUS: Record<ApiErrorCode, number> = {
  UNAUTHENTICATED: 401,
  KEY_DISABLED: 401,
  KEY_EXPIRED: 401,
  IP_NOT_ALLOWED: 403,
  RATE_LIMITED: 429,
  INSUFFICIENT_SCOPE: 403,
  NOT_FOUND: 404,
  BAD_REQUEST: 400,
  JOB_QUOTA_EXCEEDED: 429,
  UNAVAILABLE: 503,
};

const MESSAGES: Record<ApiErrorCode, string> = {
  UNAUTHENTICATED: "Missing or invalid API key. Send it as `Authorization: Bearer <key>`.",
  KEY_DISABLED: "This API key is disabled.",
  KEY_EXPIRED: "This API key has expired.",
  IP_NOT_ALLOWED: "This API key may not be used from this address.",
  RATE_LIMITED: "This API key is over its rate limit. Retry after the time in Retry-After.",
  INSUFFICIENT_SCOPE: "This API key's scopes do not allow this request.",
  NOT_FOUND: "Not found.",
  BAD_REQUEST: "The request is invalid.",
  JOB_QUOTA_EXCEEDED: "This account has too many unfinished jobs. Retry once some have finished.",
  UNAVAILABLE: "The service is temporarily unavailable. Retry shortly.",
};

export const RETRY_AFTER_SECONDS = 1;

// Seconds a client should wait before trying again, by code. A full job queue frees a place as
// soon as one job finishes, which the echo worker does in milliseconds.
const RETRY_AFTER: Partial<Record<ApiErrorCode, number>> = { JOB_QUOTA_EXCEEDED: RETRY_AFTER_SECONDS, UNAVAILABLE: RETRY_AFTER_SECONDS };

/**
 * A response as plain data: what the endpoint and verify APIs return, whichever server carries it
 * (lib/http/api-transport.ts turns it into a Fetch `Response` or writes it to node:http). `keyId`
 * is for the access log only, never sent.
 */
export type ApiReply = { status: number; headers: Record<string, string>; body: string; keyId?: string };

// Names in the order a Fetch `Headers` lists them (sorted), so that the gateway's node:http path
// writes them as its Fetch path does: the errors' extras (retry-after, www-authenticate) sort
// between content-type and x-content-type-options (lib/http/api-transport.test.ts).
function replyHeaders(extra: Record<string, string> | undefined): Record<string, string> {
  // nosniff here, not only in next.config.ts, so the standalone gateway sends it too.
  return { "cache-control": "no-store", "content-type": "application/json; charset=utf-8", ...extra, "x-content-type-options": "nosniff" };
}

export function jsonReply(body: unknown, status = 200, headers?: Record<string, string>): ApiReply {
  return { status, headers: replyHeaders(headers), body: JSON.stringify(body) };
}

/** A reply whose JSON text is already written (hot routes build it without JSON.stringify). */
export function jsonTextReply(body: string, status = 200): ApiReply {
  return { status, headers: replyHeaders(undefined), body };
}

export function toResponse(reply: ApiReply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return toResponse(jsonReply(body, status, headers));
}

/**
 * The only way an API error leaves the server: `{"error": {"code", "message"}}`, no-store, with
 * `WWW-Authenticate` on 401 and `Retry-After` on 429 and 503. `message` must never carry a key or
 * hash.
 */
export function apiErrorReply(code: ApiErrorCode, message: string = MESSAGES[code]): ApiReply {
  const retryAfter = RETRY_AFTER[code];
  const headers = STATUS[code] === 401 ? WWW_AUTHENTICATE : retryAfter !== undefined ? { "retry-after": String(retryAfter) } : undefined;
  return jsonReply({ error: { code, message } }, STATUS[code], headers);
}

const WWW_AUTHENTICATE = { "www-authenticate": "Bearer" };

/** `This key has Read on endpoint "alpha"; this request needs Read / Write.` (SPEC §4) */
export function shortfallMessage({ required, granted, endpointName }: ScopeShortfall): string {
  const where = required.resource === "graphql" ? "GraphQL" : `endpoint "${endpointName ?? required.endpointId}"`;
  return `This key has ${LEVEL_LABELS[granted]} on ${where}; this request needs ${LEVEL_LABELS[required.access]}.`;
}

/** SPEC §9: every response to a key with a rate limit says where it stands (seconds for the reset). */
/** A refusal in words, as the API's error message says it (Check access shows the same). */
export function denialMessage(decision: Extract<Decision, { ok: false }>): string {
  return decision.code === "INSUFFICIENT_SCOPE" ? shortfallMessage(decision) : MESSAGES[decision.code];
}

export function rateLimitHeaders(state: RateState): Record<string, string> {
  return { "ratelimit-limit": String(state.limit), "ratelimit-remaining": String(state.remaining), "ratelimit-reset": String(state.resetSeconds) };
}

/** Adds the decision's `RateLimit-*` headers to a reply, when its key has a limit. */
export function withRateLimit(reply: ApiReply, decision: Decision): ApiReply {
  if (decision.rateLimit) Object.assign(reply.headers, rateLimitHeaders(decision.rateLimit));
  return reply;
}

/**
 * The answer to a refused decision, the same on every route: a 403 for scope adds what was
 * required and what the key has there (its effective level, elevations included), and says it in
 * words; a 429 says when to retry; a key with a rate limit gets its `RateLimit-*` headers.
 */
export function denialReply(decision: Extract<Decision, { ok: false }>): ApiReply {
  if (decision.code === "RATE_LIMITED" && decision.rateLimit) {
    const reply = apiErrorReply("RATE_LIMITED");
    reply.headers["retry-after"] = String(decision.rateLimit.retryAfterSeconds);
    return withRateLimit(reply, decision);
  }
  if (decision.code !== "INSUFFICIENT_SCOPE") return withRateLimit(apiErrorReply(decision.code), decision);
  const { required, granted } = decision;
  const requiredBody =
    required.resource === "endpoint"
      ? { resource: "endpoint", endpointId: required.endpointId, access: required.access }
      : { resource: "graphql", access: required.access };
  return withRateLimit(
    jsonReply({ error: { code: "INSUFFICIENT_SCOPE", message: shortfallMessage(decision), required: requiredBody, granted } }, STATUS.INSUFFICIENT_SCOPE),
    decision,
  );
}

export function apiError(code: ApiErrorCode, message?: string): Response {
  return toResponse(apiErrorReply(code, message));
}

/** Any failure below a handler is a 503 with Retry-After: never a 500, never the error's text. */
export function unavailableReply(error: unknown): ApiReply {
  if (!(error instanceof DatabaseUnavailableError)) console.error(`api: ${error instanceof Error ? error.name : "unknown error"}`);
  return apiErrorReply("UNAVAILABLE");
}

export function unavailable(error: unknown): Response {
  return toResponse(unavailableReply(error));
}
