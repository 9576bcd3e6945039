// The edge of both servers — the Next.js app (scripts/next-server.ts) and the standalone gateway
// (lib/http/gateway.ts): every request passes here, on the raw node:http objects, before any
// route, page or proxy sees it. Only node:http and pure modules: the Next.js server process
// loads this outside any bundle.
import type { IncomingMessage, ServerResponse } from "node:http";
import { clientAddress } from "@/lib/rate-limit/client-address";
import { API_CONTENT_SECURITY_POLICY, COMMON_SECURITY_HEADERS } from "@/lib/security/content-security-policy";

/**
 * Where the client address the front door decided on travels to the app. Set on every request,
 * replacing whatever a client sent under the same name; read by every per-address limit
 * (lib/rate-limit/process-limiter.ts).
 */
export const CLIENT_ADDRESS_HEADER = "x-keyscope-client-address";

// Forwarding headers say what a proxy saw. Without a trusted proxy only the client could have
// written them, so they are dropped and the servers fill in their own (Next.js sets the
// x-forwarded-* family from the socket and Host when none is present).
const FORWARDING_HEADERS = ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded", "x-real-ip"];

export type FrontDoorOptions = {
  /** TRUST_PROXY: how many proxies in front append to X-Forwarded-For (0: none is trusted). */
  trustedProxies: number;
};

/**
 * Admits a request, or answers it. Returns false when it has answered (the caller does nothing
 * more); otherwise the request's headers now say only what can be trusted, and a response sent
 * before the request body was all read closes the connection.
 */
export function admitRequest(req: IncomingMessage, res: ServerResponse, options: FrontDoorOptions): boolean {
  closeConnectionIfBodyUnread(req, res);
  if (!hasWellFormedPath(req.url ?? "/")) {
    sendJsonError(res, 400, "BAD_REQUEST", "The request path is not valid percent-encoding.");
    return false;
  }
  const address = clientAddress(header(req, "x-forwarded-for"), req.socket.remoteAddress, options.trustedProxies);
  if (options.trustedProxies <= 0) for (const name of FORWARDING_HEADERS) delete req.headers[name];
  req.headers[CLIENT_ADDRESS_HEADER] = address;
  // node:http keeps only the first of several Authorization headers; the gateway's Fetch
  // Headers joined them. One rule for both hosts: the decision function sees them all, joined,
  // which is no valid Bearer credential (401), rather than whichever came first.
  const authorizations = rawValues(req, "authorization");
  if (authorizations.length > 1) req.headers.authorization = authorizations.join(", ");
  return true;
}

/** Every percent-escape in the path decodes to UTF-8; the query string is left to the routes. */
export function hasWellFormedPath(url: string): boolean {
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  if (!path.includes("%")) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * An answer given before the request body was all read (too large, refused first, or a route
 * that never reads it) leaves the rest of the body on the wire: on a kept-alive connection the
 * client's next request would wait behind it. So such a response says `Connection: close`.
 */
function closeConnectionIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  // `complete` is false until the parser has seen the end of the message, even for a request
  // without a body when it is answered at once: only a request that has a body can leave one unread.
  const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
  if (!hasBody) return;
  const writeHead = res.writeHead;
  // writeHead is also what node:http calls for implicit headers (res.end without writeHead).
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse["writeHead"]>) {
    if (!req.complete) this.shouldKeepAlive = false;
    return writeHead.apply(this, args);
  } as ServerResponse["writeHead"];
}

/** `{"error": {"code", "message"}}` with the headers every API response carries. */
export function sendJsonError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const headers: Record<string, string | number> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "content-security-policy": API_CONTENT_SECURITY_POLICY,
  };
  for (const { key, value } of COMMON_SECURITY_HEADERS) headers[key.toLowerCase()] = value;
  res.writeHead(status, headers).end(body);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function rawValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) values.push(req.rawHeaders[i + 1]!);
  }
  return values;
}
