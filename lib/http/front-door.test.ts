import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admitRequest, CLIENT_ADDRESS_HEADER, hasWellFormedPath } from "./front-door";

/** A server that admits through the front door and answers with the headers the app would see. */
async function startServer(trustedProxies: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (!admitRequest(req, res, { trustedProxies })) return;
    const body = JSON.stringify(req.headers);
    // Like a route that refuses before reading the body: the answer goes out with the body unread.
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

type Reply = { status: number; headers: IncomingHttpHeaders; body: string };

/** One request with raw headers (repeats allowed), on a fresh connection. */
function send(port: number, path: string, headers: [string, string][] = [], method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Raw headers as a flat list (so a name can repeat); node:http then adds no Host of its own.
    const raw = [["Host", `127.0.0.1:${port}`], ...headers].flat();
    const req = httpRequest({ host: "127.0.0.1", port, path, method, headers: raw, agent: false }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

let direct: { server: Server; port: number };
let behindProxy: { server: Server; port: number };

beforeAll(async () => {
  direct = await startServer(0);
  behindProxy = await startServer(1);
});

afterAll(() => {
  for (const { server } of [direct, behindProxy]) {
    server.closeAllConnections();
    server.close();
  }
});

describe("malformed paths", () => {
  it.each([
    ["/v2/%ff/health", false],
    ["/api/auth/%ff", false],
    ["/settings/%E0%A4%A", false],
    ["/%", false],
    ["/a%2", false],
    ["/%c0%ae", false], // an overlong encoding: not UTF-8
    ["/v2/abc/health", true],
    ["/v2/a%2Fb/health", true],
    ["/caf%C3%A9", true],
    ["/v2/x/health?wait=%ff", true], // the query string is the routes' to judge
    ["/x#%ff", true],
  ])("%s well-formed: %s", (path, ok) => {
    expect(hasWellFormedPath(path)).toBe(ok);
  });

  it.each(["/v2/%ff/health", "/api/auth/%ff", "/settings/%E0%A4%A"])("%s is a 400 JSON error with the API headers", async (path) => {
    const reply = await send(direct.port, path);
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toEqual({ error: { code: "BAD_REQUEST", message: "The request path is not valid percent-encoding." } });
    expect(reply.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(reply.headers["cache-control"]).toBe("no-store");
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
    expect(reply.headers["x-frame-options"]).toBe("DENY");
    expect(reply.headers["content-security-policy"]).toContain("default-src 'none'");
  });
});

describe("client address and forwarding headers", () => {
  const spoofed: [string, string][] = [
    ["X-Forwarded-For", "6.6.6.6"],
    ["X-Forwarded-Host", "evil.example"],
    ["X-Forwarded-Proto", "https"],
    ["X-Forwarded-Port", "443"],
    ["Forwarded", "for=6.6.6.6"],
    ["X-Real-IP", "6.6.6.6"],
    [CLIENT_ADDRESS_HEADER, "6.6.6.6"],
  ];

  it("without a trusted proxy the client address is the TCP peer and no forwarding header gets through", async () => {
    const seen = JSON.parse((await send(direct.port, "/", spoofed)).body) as Record<string, string>;
    expect(seen[CLIENT_ADDRESS_HEADER]).toBe("127.0.0.1");
    for (const name of ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded", "x-real-ip"]) {
      expect(seen[name], name).toBeUndefined();
    }
  });

  it("rotating X-Forwarded-For never changes the address without a trusted proxy", async () => {
    const addresses = new Set<string>();
    for (const ip of ["1.1.1.1", "2.2.2.2", "3.3.3.3, 4.4.4.4"]) {
      const seen = JSON.parse((await send(direct.port, "/", [["X-Forwarded-For", ip]])).body) as Record<string, string>;
      addresses.add(seen[CLIENT_ADDRESS_HEADER]!);
    }
    expect([...addresses]).toEqual(["127.0.0.1"]);
  });

  it("with one trusted proxy, the address that proxy appended; the client's own entries are ignored", async () => {
    const seen = JSON.parse((await send(behindProxy.port, "/", [["X-Forwarded-For", "6.6.6.6, 203.0.113.7"], ["X-Forwarded-Proto", "https"], [CLIENT_ADDRESS_HEADER, "6.6.6.6"]])).body) as Record<string, string>;
    expect(seen[CLIENT_ADDRESS_HEADER]).toBe("203.0.113.7");
    expect(seen["x-forwarded-proto"]).toBe("https");
  });
});

describe("Authorization", () => {
  it("several Authorization headers reach the app joined, which is no valid Bearer credential", async () => {
    const seen = JSON.parse((await send(direct.port, "/", [["Authorization", "Bearer first"], ["Authorization", "Bearer second"]])).body) as Record<string, string>;
    expect(seen.authorization).toBe("Bearer first, Bearer second");
  });

  it("one Authorization header is left as it is", async () => {
    const seen = JSON.parse((await send(direct.port, "/", [["Authorization", "Bearer only"]])).body) as Record<string, string>;
    expect(seen.authorization).toBe("Bearer only");
  });
});

describe("a response sent before the request body was read", () => {
  it("closes the connection, so the client's next request does not wait behind the rest of the body", async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: direct.port, path: "/", method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on("error", reject);
      // A body that is still arriving when the answer goes out.
      req.write("x".repeat(64 * 1024));
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe("close");
  });

  it("keeps the connection alive when the body was read (or there was none)", async () => {
    const reply = await send(direct.port, "/", [["Connection", "keep-alive"]]);
    expect(reply.headers.connection).toBe("keep-alive");
  });
});
