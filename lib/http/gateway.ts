import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { endpointApi, handleEndpointApi } from "./endpoint-api";
import { handleGraphqlRequest } from "./graphql/handler";
import { handleVerifyApi, verifyApi } from "./verify-api";
import { handleLeaksApi } from "./leaks-api";
import { readEnv } from "@/lib/env";
import { apiError } from "./api-error";
import { serveNode, type ApiCore } from "./api-transport";
import { admitRequest, type FrontDoorOptions } from "./front-door";

type FetchHandler = (request: Request) => Promise<Response>;

/** The same Fetch handlers Next.js serves, picked by path: nothing else decides here. */
export function routeRequest(pathname: string): FetchHandler | null {
  if (pathname.startsWith("/v2/")) return handleEndpointApi;
  if (pathname === "/graphql") return handleGraphqlRequest;
  if (pathname === "/api/v1/keys/verify") return handleVerifyApi;
  // Leak reports (SPEC §9) are rare: the Fetch path only, never fastRoute.
  if (pathname === "/api/v1/leaks") return handleLeaksApi;
  return null;
}

// The hottest routes, served on the node:http objects without Request or Response (README,
// "Benchmarks"). Only paths that are plain ASCII ids and slashes, and a query string without a
// fragment, come here: for those the path and query read the same as through `new URL`, so the
// same core gives the same answer; anything odder takes the Fetch path, as before.
const HOT_ENDPOINT_ROUTE = /^\/v2\/[A-Za-z0-9_-]+\/(?:health|run|runsync|status\/[A-Za-z0-9_-]+)$/;
const PLAIN_QUERY = /^[\x21-\x22\x24-\x7e]*$/; // printable ASCII but "#"

/** The core that serves a request natively, or null for the Fetch path. */
export function fastRoute(path: string, query: string): ApiCore | null {
  if (query !== "" && !PLAIN_QUERY.test(query)) return null;
  if (path === "/api/v1/keys/verify") return verifyApi;
  if (path.startsWith("/v2/") && HOT_ENDPOINT_ROUTE.test(path)) return endpointApi;
  return null;
}

function toRequest(req: IncomingMessage, origin: string): Request {
  // From req.headers, as the front door left them (forwarding headers dropped or checked,
  // duplicate Authorization headers joined), not from the raw ones.
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(origin + (req.url ?? "/"), {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    // Required by undici for streamed request bodies.
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  const body = Buffer.from(await response.arrayBuffer());
  headers["content-length"] = String(body.byteLength);
  res.writeHead(response.status, headers);
  res.end(body);
}

const destroy = (res: ServerResponse) => () => res.destroy();

export type GatewayOptions = {
  /** Serve the hot routes natively (the default); false sends every route through Fetch, as the benchmark and tests compare. */
  fastPath?: boolean;
};

/** The standalone data plane: a plain node:http server around the API cores. */
export function createGatewayServer(frontDoor: FrontDoorOptions = { trustedProxies: readEnv().TRUST_PROXY }, options: GatewayOptions = {}): Server {
  const fastPath = options.fastPath ?? true;
  return createServer((req, res) => {
    if (!admitRequest(req, res, frontDoor)) return;
    const url = req.url ?? "/";
    const mark = url.indexOf("?");
    const pathname = mark === -1 ? url : url.slice(0, mark);
    if (pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" }).end("ok");
      return;
    }
    if (fastPath) {
      const query = mark === -1 ? "" : url.slice(mark + 1);
      const core = fastRoute(pathname, query);
      if (core) return void serveNode(core, req, res, pathname, query);
    }
    // Not the Host header: it is the client's to choose, and one that is not a valid host made
    // `new Request` throw here, outside any promise, taking the process down. Handlers read only
    // the path and query.
    const origin = "http://gateway.invalid";
    const handler = routeRequest(pathname);
    const respond = handler ? Promise.resolve().then(() => handler(toRequest(req, origin))) : Promise.resolve(apiError("NOT_FOUND", "No such route."));
    respond
      .then((response) => send(res, response))
      .catch(() => send(res, apiError("UNAVAILABLE")))
      .catch(destroy(res));
  });
}
