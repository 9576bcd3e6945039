import { readEnv } from "@/lib/env";
import type { Decision } from "@/lib/core/verify/verifier";

type FetchHandler = (request: Request) => Promise<Response>;

const decidedKeys = new WeakMap<Request, string>();

/** Remembers which key a request was decided for, so its log line can name it. */
export function noteDecision(request: Request, decision: Decision): Decision {
  if (decision.keyId) decidedKeys.set(request, decision.keyId);
  return decision;
}

const writeToStdout = (line: string) => void process.stdout.write(line + "\n");

/**
 * One line per API request when ACCESS_LOG is on: method, path, status, the key's id (never the
 * key, its hash or any header) and the time taken. The path carries ids only; the query string
 * is left out.
 */
export function withAccessLog(handler: FetchHandler, writeLine?: (line: string) => void): FetchHandler {
  return async (request) => {
    // Read on each request, not at import: the environment is read once, when first needed.
    const write = writeLine ?? (readEnv().ACCESS_LOG ? writeToStdout : null);
    if (!write) return handler(request);
    const started = performance.now();
    const response = await handler(request);
    const path = new URL(request.url).pathname;
    const key = decidedKeys.get(request) ?? "-";
    write(`api ${request.method} ${path} ${response.status} key=${key} ${(performance.now() - started).toFixed(1)}ms`);
    return response;
  };
}
