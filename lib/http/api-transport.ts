// The endpoint and verify APIs are written once, against ApiRequest → ApiReply, and carried by two
// thin adapters: Fetch (Next.js's route handlers, the gateway's cold routes) and node:http (the
// gateway's hot routes, where building undici's Request and Response cost more than all the rest
// of a request; README, "Benchmarks"). Same status, headers and body either way
// (lib/http/api-transport.test.ts runs one table of cases through both).
import type { IncomingMessage, ServerResponse } from "node:http";
import { accessLine, accessLogWriter, noteKeyId, withAccessLog } from "./access-log";
import { apiErrorReply, toResponse, type ApiReply } from "./api-error";
import { CLIENT_ADDRESS_HEADER } from "./front-door";
import { readJsonBody, readNodeJsonBody, type JsonBody } from "./read-body";

/** What the APIs read of a request, whichever server received it. */
export interface ApiRequest {
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
  /** The Authorization header; several were joined by the front door (lib/http/front-door.ts). */
  readonly authorization: string | null;
  /** The client address the front door decided on. */
  readonly clientAddress: string | null;
  /** A query parameter, as URLSearchParams reads it. */
  param(name: string): string | null;
  /** The JSON body under lib/http/read-body.ts's rules (byte cap while streaming, depth); never throws. */
  readJsonBody(maxBytes: number): Promise<JsonBody>;
}

export type ApiCore = (request: ApiRequest) => Promise<ApiReply>;

class FetchApiRequest implements ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  readonly clientAddress: string | null;
  private readonly url: URL;

  constructor(private readonly request: Request) {
    this.url = new URL(request.url);
    this.method = request.method;
    this.path = this.url.pathname;
    this.authorization = request.headers.get("authorization");
    this.clientAddress = request.headers.get(CLIENT_ADDRESS_HEADER);
  }

  param(name: string): string | null {
    return this.url.searchParams.get(name);
  }

  readJsonBody(maxBytes: number): Promise<JsonBody> {
    return readJsonBody(this.request, maxBytes);
  }
}

/** The Fetch handler for a core: what Next.js's route handlers export. */
export function fetchHandler(core: ApiCore): (request: Request) => Promise<Response> {
  return withAccessLog(async (request) => {
    const reply = await core(new FetchApiRequest(request));
    if (reply.keyId) noteKeyId(request, reply.keyId);
    return toResponse(reply);
  });
}

class NodeApiRequest implements ApiRequest {
  readonly method: string;
  readonly authorization: string | null;
  readonly clientAddress: string | null;

  /** `path` and `query` as the gateway split them; it sends only plain paths here (lib/http/gateway.ts). */
  constructor(
    private readonly req: IncomingMessage,
    readonly path: string,
    private readonly query: string,
  ) {
    this.method = req.method ?? "GET";
    this.authorization = req.headers.authorization ?? null;
    const address = req.headers[CLIENT_ADDRESS_HEADER];
    this.clientAddress = typeof address === "string" ? address : null;
  }

  param(name: string): string | null {
    return this.query === "" ? null : new URLSearchParams(this.query).get(name);
  }

  readJsonBody(maxBytes: number): Promise<JsonBody> {
    return readNodeJsonBody(this.req, maxBytes);
  }
}

/**
 * Serves one request with a core on the raw node:http objects: no Request, no Response. Resolves
 * once the reply is written; never rejects (a reply that cannot be written destroys the socket).
 */
export async function serveNode(core: ApiCore, req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
  const write = accessLogWriter();
  const started = write ? performance.now() : 0;
  let reply: ApiReply;
  try {
    reply = await core(new NodeApiRequest(req, path, query));
  } catch {
    // As the Fetch path's gateway answers a handler that throws.
    reply = apiErrorReply("UNAVAILABLE");
  }
  try {
    writeReply(res, reply);
  } catch {
    res.destroy();
    return;
  }
  if (write) write(accessLine(req.method ?? "GET", path, reply.status, reply.keyId, started));
}

/** The headers in the order the Fetch path writes them: the reply's, then content-length. */
export function writeReply(res: ServerResponse, reply: ApiReply): void {
  const headers: string[] = [];
  for (const name in reply.headers) headers.push(name, reply.headers[name]!);
  headers.push("content-length", String(Buffer.byteLength(reply.body)));
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}
