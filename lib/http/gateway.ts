import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { handleEndpointApi } from "./endpoint-api";
import { handleGraphqlRequest } from "./graphql-api";
import { handleVerifyApi } from "./verify-api";
import { readEnv } from "@/lib/env";
import { apiError } from "./api-error";
import { admitRequest, type FrontDoorOptions } from "./front-door";

type FetchHandler = (request: Request) => Promise<Response>;

/** The same Fetch handlers Next.js serves, picked by path: nothing else decides here. */
export function routeRequest(pathname: string): FetchHandler | null {
  if (pathname.startsWith("/v2/")) return handleEndpointApi;
  if (pathname === "/graphql") return handleGraphqlRequest;
  if (pathname === "/api/v1/keys/verify") return handleVerifyApi;
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

/** The standalone data plane: a plain node:http server around the Fetch handlers. */
export function createGatewayServer(frontDoor: FrontDoorOptions = { trustedProxies: readEnv().TRUST_PROXY }): Server {
  return createServer((req, res) => {
    if (!admitRequest(req, res, frontDoor)) return;
    // Not the Host header: it is the client's to choose, and one that is not a valid host made
    // `new Request` throw here, outside any promise, taking the process down. Handlers read only
    // the path and query.
    const origin = "http://gateway.invalid";
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    if (pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" }).end("ok");
      return;
    }
    const handler = routeRequest(pathname);
    const respond = handler ? Promise.resolve().then(() => handler(toRequest(req, origin))) : Promise.resolve(apiError("NOT_FOUND", "No such route."));
    respond
      .then((response) => send(res, response))
      .catch(() => send(res, apiError("UNAVAILABLE")))
      .catch(() => res.destroy());
  });
}
