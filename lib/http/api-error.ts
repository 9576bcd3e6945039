import { DatabaseUnavailableError } from "@/lib/dal/sql-runner";
import type { DenialCode } from "@/lib/core/verify/verifier";

// JOB_QUOTA_EXCEEDED is the account's cap on unfinished jobs (lib/dal/jobs.ts), not SPEC §9's
// per-key rate limit (RATE_LIMITED): waiting for jobs to finish lifts it, not slowing down.
export type ApiErrorCode = DenialCode | "BAD_REQUEST" | "JOB_QUOTA_EXCEEDED" | "UNAVAILABLE";

const STATUS: Record<ApiErrorCode, number> = {
  UNAUTHENTICATED: 401,
  KEY_DISABLED: 401,
  INSUFFICIENT_SCOPE: 403,
  NOT_FOUND: 404,
  BAD_REQUEST: 400,
  JOB_QUOTA_EXCEEDED: 429,
  UNAVAILABLE: 503,
};

const MESSAGES: Record<ApiErrorCode, string> = {
  UNAUTHENTICATED: "Missing or invalid API key. Send it as `Authorization: Bearer <key>`.",
  KEY_DISABLED: "This API key is disabled.",
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

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    // nosniff here, not only in next.config.ts, so the standalone gateway sends it too.
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers },
  });
}

/**
 * The only way an API error leaves the server: `{"error": {"code", "message"}}`, no-store, with
 * `WWW-Authenticate` on 401 and `Retry-After` on 429 and 503. `message` must never carry a key or
 * hash.
 */
export function apiError(code: ApiErrorCode, message: string = MESSAGES[code]): Response {
  const headers: Record<string, string> = {};
  if (STATUS[code] === 401) headers["www-authenticate"] = "Bearer";
  const retryAfter = RETRY_AFTER[code];
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  return jsonResponse({ error: { code, message } }, STATUS[code], headers);
}

/** Any failure below a handler is a 503 with Retry-After: never a 500, never the error's text. */
export function unavailable(error: unknown): Response {
  if (!(error instanceof DatabaseUnavailableError)) console.error(`api: ${error instanceof Error ? error.name : "unknown error"}`);
  return apiError("UNAVAILABLE");
}
