import { DatabaseUnavailableError } from "@/lib/dal/sql-runner";
import type { DenialCode } from "@/lib/verify/verifier";

export type ApiErrorCode = DenialCode | "BAD_REQUEST" | "UNAVAILABLE";

const STATUS: Record<ApiErrorCode, number> = {
  UNAUTHENTICATED: 401,
  KEY_DISABLED: 401,
  INSUFFICIENT_SCOPE: 403,
  NOT_FOUND: 404,
  BAD_REQUEST: 400,
  UNAVAILABLE: 503,
};

const MESSAGES: Record<ApiErrorCode, string> = {
  UNAUTHENTICATED: "Missing or invalid API key. Send it as `Authorization: Bearer <key>`.",
  KEY_DISABLED: "This API key is disabled.",
  INSUFFICIENT_SCOPE: "This API key's scopes do not allow this request.",
  NOT_FOUND: "Not found.",
  BAD_REQUEST: "The request is invalid.",
  UNAVAILABLE: "The service is temporarily unavailable. Retry shortly.",
};

export const RETRY_AFTER_SECONDS = 1;

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    // nosniff here, not only in next.config.ts, so the standalone gateway sends it too.
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers },
  });
}

/**
 * The only way an API error leaves the server: `{"error": {"code", "message"}}`, no-store, with
 * `WWW-Authenticate` on 401 and `Retry-After` on 503. `message` must never carry a key or hash.
 */
export function apiError(code: ApiErrorCode, message: string = MESSAGES[code]): Response {
  const headers: Record<string, string> = {};
  if (STATUS[code] === 401) headers["www-authenticate"] = "Bearer";
  if (code === "UNAVAILABLE") headers["retry-after"] = String(RETRY_AFTER_SECONDS);
  return jsonResponse({ error: { code, message } }, STATUS[code], headers);
}

/** Any failure below a handler is a 503 with Retry-After: never a 500, never the error's text. */
export function unavailable(error: unknown): Response {
  if (!(error instanceof DatabaseUnavailableError)) console.error(`api: ${error instanceof Error ? error.name : "unknown error"}`);
  return apiError("UNAVAILABLE");
}
