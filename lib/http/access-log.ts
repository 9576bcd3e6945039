import { readEnv } from "@/lib/env";
import type { Decision } from "@/lib/core/verify/verifier";

type FetchHandler = (request: Request) => Promise<Response>;
type WriteLine = (line: string) => void;

const decidedKeys = new WeakMap<Request, string>();

/** Remembers which key a request was decided for, so its log line can name it. */
export function noteDecision(request: Request, decision: Decision): Decision {
  if (decision.keyId) noteKeyId(request, decision.keyId);
  return decision;
}

export function noteKeyId(request: Request, keyId: string): void {
  decidedKeys.set(request, keyId);
}

const writeToStdout: WriteLine = (line) => void process.stdout.write(line + "\n");

/** Where log lines go, or null when ACCESS_LOG is off. Read on each request, not at import: the environment is read once, when first needed. */
export function accessLogWriter(writeLine?: WriteLine): WriteLine | null {
  return writeLine ?? (readEnv().ACCESS_LOG ? writeToStdout : null);
}

/**
 * One line per API request when ACCESS_LOG is on: method, path, status, the key's id (never the
 * key, its hash or any header) and the time taken. The path carries ids only; the query string
 * is left out. The gateway's node:http fast path writes the same line (lib/http/api-transport.ts).
 */
export function accessLine(method: string, path: string, status: number, keyId: string | undefined, started: number): string {
  return `api ${method} ${path} ${status} key=${keyId ?? "-"} ${(performance.now() - started).toFixed(1)}ms`;
}

export function withAccessLog(handler: FetchHandler, writeLine?: WriteLine): FetchHandler {
  return async (request) => {
    const write = accessLogWriter(writeLine);
    if (!write) return handler(request);
    const started = performance.now();
    const response = await handler(request);
    write(accessLine(request.method, new URL(request.url).pathname, response.status, decidedKeys.get(request), started));
    return response;
  };
}
