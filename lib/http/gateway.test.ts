import { rawRows, removeTestDatabase, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { startGatewayProcess } from "@/testing/gateway-process";
import { connect } from "node:net";
import { getIntrospectionQuery } from "graphql";
import runpodSdk from "runpod-sdk";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { getDataPlane } from "@/lib/server/data-plane";
import { createEndpoint } from "@/lib/dal/endpoints";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { routeRequest } from "./gateway";
import { GRAPHQL_LIMITS } from "./graphql/limits";
import { startTestGateway, type TestGateway } from "@/testing/test-gateway";
import { rawExchange } from "@/testing/raw-http";

vi.hoisted(() => {
  process.env.ECHO_WORKER_POLL_MS = "60000";
  process.env.LAST_USED_FLUSH_MS = "60000";
});

let gateway: TestGateway | undefined;
let origin = "";
let accountId = "";
let endpointId = "";
let otherEndpointId = "";
let rwKey = "";
let readKey = "";
const secrets: string[] = [];
const seen: string[] = [];

async function newKeyWithId(account: string, graphql: AccessLevel, endpointsAll: AccessLevel) {
  const result = await createScopedApiKey(account, { name: "gateway", scopes: { graphql, endpointsAll, endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  secrets.push(result.value.plaintext);
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

const newKey = async (account: string, graphql: AccessLevel, endpointsAll: AccessLevel) => (await newKeyWithId(account, graphql, endpointsAll)).plaintext;

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("gw"), "password-gw-123"), createAccount(uniqueEmail("other"), "password-other-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  accountId = a.value.id;
  const endpoint = await createEndpoint(accountId, "gateway", { type: "dashboard" });
  const other = await createEndpoint(b.value.id, "other", { type: "dashboard" });
  if (!endpoint.ok || !other.ok) throw new Error("setup: endpoint");
  endpointId = endpoint.value.id;
  otherEndpointId = other.value.id;
  rwKey = await newKey(accountId, "read", "read_write");
  readKey = await newKey(accountId, "none", "read");
  gateway = await startTestGateway();
  origin = gateway.origin;
});

afterAll(async () => {
  await gateway?.close();
  await removeTestDatabase();
});

async function call(path: string, init: RequestInit = {}) {
  const response = await fetch(origin + path, init);
  const text = await response.text();
  seen.push(text);
  response.headers.forEach((value, name) => seen.push(`${name}: ${value}`));
  return { status: response.status, headers: response.headers, text };
}

const sdk = (key: string, endpoint = endpointId) => runpodSdk(key, { baseUrl: `${origin}/v2` }).endpoint(endpoint)!;

describe("the real runpod-sdk against the gateway", () => {
  it("health", async () => {
    const health = await sdk(rwKey).health();
    expect(health).toMatchObject({
      jobs: { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 },
      workers: { idle: expect.any(Number), running: expect.any(Number) },
    });
  });

  it("run, then status until COMPLETED with output = input", async () => {
    const endpoint = sdk(rwKey);
    const input = { prompt: "a photo of a cat", steps: 20, tags: ["x", "y"] };
    const run = await endpoint.run({ input });
    expect(run).toEqual({ id: expect.any(String), status: "IN_QUEUE" });
    const id = (run as { id: string }).id;
    let status: Record<string, unknown> = {};
    await vi.waitFor(
      async () => {
        status = (await endpoint.status(id)) as Record<string, unknown>;
        expect(status.status).toBe("COMPLETED");
      },
      { timeout: 5000, interval: 20 },
    );
    expect(status).toMatchObject({ id, status: "COMPLETED", output: input, started: true, completed: true, succeeded: true });
  });

  it("runSync → COMPLETED with output = input", async () => {
    const input = { text: "héllo ✓", n: [1, 2, 3] };
    const result = await sdk(rwKey).runSync({ input }, 5000);
    expect(result).toMatchObject({ status: "COMPLETED", output: input, completed: true, succeeded: true });
  });

  it("statusSync and stream", async () => {
    const endpoint = sdk(rwKey);
    const run = (await endpoint.run({ input: "streamed" })) as { id: string };
    const status = await endpoint.statusSync(run.id, 5000);
    expect(status).toMatchObject({ id: run.id, status: "COMPLETED", output: "streamed" });
    const outputs: unknown[] = [];
    for await (const chunk of endpoint.stream(run.id, 5000)) outputs.push(chunk);
    expect(outputs).toEqual([{ output: "streamed" }]);
  });

  it("a read-only key is refused run with 403, and nothing runs", async () => {
    const before = await sdk(rwKey).health();
    const refused = await sdk(readKey)
      .run({ input: 1 })
      .catch((error: unknown) => ({ thrown: error }));
    // The SDK either returns {status} for a non-200 or throws, depending on its HTTP client.
    const status = "thrown" in refused ? (refused.thrown as { response?: { status?: number } }).response?.status : (refused as unknown as { status?: number }).status;
    expect(status).toBe(403);
    expect(await sdk(rwKey).health()).toEqual(before);
    expect(await sdk(readKey).health()).toEqual(before);
  });

  it("with the worker stopped: cancel a queued job, and purgeQueue the rest", async () => {
    (await getDataPlane()).worker.stop();
    const endpoint = sdk(rwKey);
    const jobs = [(await endpoint.run({ input: 1 })) as { id: string }, (await endpoint.run({ input: 2 })) as { id: string }, (await endpoint.run({ input: 3 })) as { id: string }];
    expect((await endpoint.status(jobs[0]!.id)) as Record<string, unknown>).toMatchObject({ status: "IN_QUEUE" });
    expect(await endpoint.cancel(jobs[0]!.id)).toEqual({ id: jobs[0]!.id, status: "CANCELLED" });
    expect((await endpoint.status(jobs[0]!.id)) as Record<string, unknown>).toMatchObject({ status: "CANCELLED", completed: true, succeeded: false });
    expect((await endpoint.health()).jobs).toMatchObject({ inQueue: 2 });
    expect(await endpoint.purgeQueue()).toEqual({ removed: 2, status: "completed" });
    expect((await endpoint.health()).jobs).toMatchObject({ inQueue: 0, inProgress: 0 });
  });
});

describe("the other routes through the gateway", () => {
  it("/healthz", async () => {
    const reply = await call("/healthz");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("cache-control")).toBe("no-store");
  });

  it.each(["/", "/unknown", "/v1/x/health", "/api/v1/keys", "/api/v1/keys/verify/extra", "/graphql/extra", "/healthz/x"])("%s → 404 JSON", async (path) => {
    const reply = await call(path, { headers: { authorization: `Bearer ${rwKey}` } });
    expect(reply.status).toBe(404);
    expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
    expect(reply.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(reply.text)).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
  });

  it("POST /api/v1/keys/verify", async () => {
    const verify = (body: unknown) => call("/api/v1/keys/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const valid = await verify({ key: rwKey, resource: "endpoint", endpointId, access: "read_write" });
    expect(valid.status).toBe(200);
    expect(JSON.parse(valid.text)).toEqual({ valid: true, code: "VALID", keyId: expect.any(String), accountId });
    const denied = await verify({ key: readKey, resource: "endpoint", endpointId, access: "read_write" });
    expect(JSON.parse(denied.text)).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE" });
    const elsewhere = await verify({ key: rwKey, resource: "endpoint", endpointId: otherEndpointId, access: "read" });
    expect(JSON.parse(elsewhere.text)).toMatchObject({ valid: false, code: "NOT_FOUND" });
    const malformed = await call("/api/v1/keys/verify", { method: "POST", body: "{" });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toMatchObject({ error: { code: "BAD_REQUEST" } });
  });

  it("POST /graphql with a GraphQL read key", async () => {
    const reply = await call("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${rwKey}` },
      body: JSON.stringify({ query: "{ myself { id } }" }),
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toEqual({ data: { myself: { id: accountId } } });
    const refused = await call("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${readKey}` },
      body: JSON.stringify({ query: "{ myself { id } }" }),
    });
    expect(refused.status).toBe(403);
  });

  // The document limits, on this host too (Next.js serves the very same handler).
  const graphql = (key: string, body: unknown) =>
    call("/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const ATTACK = `query Run { pods { id } } query Bad { apiKeys { id } } ${"{__typename} ".repeat(1240)}`;
  const FRAGMENTS = Array.from({ length: GRAPHQL_LIMITS.maxFragments + 1 }, (_, i) => `fragment F${i} on User { id }`).join(" ");

  it.each([
    ["the attack document (a small operation and ~1,240 unused ones)", { query: ATTACK, operationName: "Run" }, /^Too many operations: at most 20 per document\.$/],
    ["too many fragments", { query: `{ myself { ...F0 } } ${FRAGMENTS}` }, /^Too many fragments: at most 50 per document\.$/],
    ["an over-long query", { query: `{ myself { id } }${" ".repeat(GRAPHQL_LIMITS.maxQueryBytes)}` }, /^Query too long: at most 32768 bytes per document\.$/],
  ])("POST /graphql, %s → 400 naming the limit for a GraphQL read key, 403 for a key without", async (_label, body, message) => {
    const refused = await graphql(rwKey, body);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text)).toEqual({ error: { code: "BAD_REQUEST", message: expect.stringMatching(message) }, errors: [{ message: expect.stringMatching(message) }] });
    const denied = await graphql(readKey, body);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text)).toEqual({
      error: {
        code: "INSUFFICIENT_SCOPE",
        message: "This key has None on GraphQL; this request needs Read.",
        required: { resource: "graphql", access: "read" },
        granted: "none",
      },
    });
    expect((await call("/healthz")).status).toBe(200);
  });

  it.each([
    ["the standard introspection query", { query: getIntrospectionQuery() }, () => ({ __schema: expect.objectContaining({ types: expect.arrayContaining([expect.objectContaining({ name: "Pod" })]) }) })],
    ["an invalid operation that does not run", { query: "query Run { myself { id } } query Bad { apiKeys { id } }", operationName: "Run" }, () => ({ myself: { id: accountId } })],
    ["operationName picking one of several", { query: "query A { pods { id } } query B { myself { id } }", operationName: "B" }, () => ({ myself: { id: accountId } })],
  ])("POST /graphql, %s → 200", async (_label, body, expected) => {
    const reply = await graphql(rwKey, body);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toEqual({ data: expected() });
  });

  it("401 through the gateway keeps its headers", async () => {
    const reply = await call(`/v2/${endpointId}/health`, { headers: { authorization: "Basic abc" } });
    expect(reply.status).toBe(401);
    expect(reply.headers.get("www-authenticate")).toBe("Bearer");
    expect(reply.headers.get("cache-control")).toBe("no-store");
  });

  it("query strings reach the handler", async () => {
    const badWait = await call(`/v2/${endpointId}/runsync?wait=abc`, { method: "POST", headers: { authorization: `Bearer ${rwKey}` }, body: JSON.stringify({ input: 1 }) });
    expect(badWait.status).toBe(400);
  });

  // Each is answered before its body is read to the end; the connection must not then hang the
  // client's next requests behind the rest of it (clients keep connections alive).
  const chunkedBody = (bytes: number) => {
    const chunk = new TextEncoder().encode("a".repeat(64 * 1024));
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode('{"input":"')),
      pull(controller) {
        if (sent >= bytes) {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        } else {
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        }
      },
    });
  };
  it.each([
    ["over 1 MB with a Content-Length", () => ({ authorization: `Bearer ${rwKey}`, body: JSON.stringify({ input: "a".repeat(1_200_000) }) as BodyInit }), 400],
    ["over 1 MB, chunked", () => ({ authorization: `Bearer ${rwKey}`, body: chunkedBody(2_000_000) as BodyInit }), 400],
    ["1.2 MB with a key that is refused", () => ({ authorization: `Bearer ${readKey}`, body: JSON.stringify({ input: "a".repeat(1_200_000) }) as BodyInit }), 403],
  ])("a body %s is refused, and the next requests are answered at once", async (_label, make, status) => {
    const { authorization, body } = make();
    const reply = await call(`/v2/${endpointId}/run`, { method: "POST", headers: { authorization, "content-type": "application/json" }, body, duplex: "half" } as RequestInit);
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.text)).toMatchObject({ error: { code: status === 400 ? "BAD_REQUEST" : "INSUFFICIENT_SCOPE" } });
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      const next = await call(`/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${rwKey}` }, signal: AbortSignal.timeout(2000) });
      expect(next.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
    }
    expect((await sdk(rwKey).health()).jobs).toMatchObject({ inQueue: 0 });
  });

  it.each(["exa mple", "[", "a:b:c", "host:99999", "%"])("a Host header of %j is answered, and does not bring the gateway down", async (host) => {
    const port = gateway!.port;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.end(`GET /v2/${endpointId}/health HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${rwKey}\r\nConnection: close\r\n\r\n`);
      });
      let data = "";
      socket.on("data", (chunk) => (data += chunk.toString()));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 (200|400) /);
    seen.push(raw);
    expect((await call(`/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${rwKey}` } })).status).toBe(200);
  });

  it("routes by path to the same handlers Next.js serves", () => {
    expect(routeRequest("/v2/x/health")).not.toBeNull();
    expect(routeRequest("/graphql")).not.toBeNull();
    expect(routeRequest("/api/v1/keys/verify")).not.toBeNull();
    expect(routeRequest("/v2")).toBeNull();
    expect(routeRequest("/nothing")).toBeNull();
  });

  it("no response carried a key or its hash (this process)", () => {
    const all = seen.join("\n");
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(hashKey(secret));
    }
  });
});


// The same front door as the Next.js app (lib/http/front-door.ts; e2e/front-door.spec.ts holds
// the same table against Next).
describe("the gateway's front door", () => {
  it.each(["/v2/%ff/health", "/graphql%ff", "/api/v1/keys/%E0%A4%A", "/%"])("a malformed path %s is a 400 JSON error", async (path) => {
    const reply = await call(path, { headers: { authorization: `Bearer ${rwKey}` } });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.text)).toEqual({ error: { code: "BAD_REQUEST", message: "The request path is not valid percent-encoding." } });
    expect(reply.headers.get("x-content-type-options")).toBe("nosniff");
    expect(reply.headers.get("cache-control")).toBe("no-store");
  });

  it.each([
    ["the valid key first", () => [rwKey, "rpa_x"]],
    ["the valid key last", () => ["rpa_x", rwKey]],
    ["the valid key twice", () => [rwKey, rwKey]],
  ])("two Authorization headers (%s) are refused 401, never one of them picked", async (_label, keys) => {
    const [first, second] = keys();
    const raw = await rawExchange(
      gateway!.port,
      `GET /v2/${endpointId}/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\nConnection: close\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 401 /);
    expect(raw).toContain('"code":"UNAUTHENTICATED"');
  });
});

// `npm run start:gateway` as its own process on the same database: what another process changes
// applies there at once, and SIGTERM / SIGINT flush the last-used dates it batched.
describe("the standalone gateway process", () => {
  const startGateway = () => startGatewayProcess({ DATABASE_URL: testDatabaseUrl, LAST_USED_FLUSH_MS: "60000" });

  async function lastUsedAt(plaintext: string): Promise<unknown> {
    const [row] = await rawRows("SELECT last_used_at AS at FROM api_keys WHERE key_hash = ?", [hashKey(plaintext)]);
    return row?.at;
  }

  it.each(["SIGTERM", "SIGINT"] as const)("a key disabled here is refused there after its revision poll; %s flushes last used", async (signal) => {
    const key = await newKeyWithId(accountId, "none", "read");
    const gateway = await startGateway();
    try {
      const health = (k: string) => fetch(`${gateway.url}/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${k}` } });
      // The gateway caches decisions and notices another process's change at its next revision
      // poll (every ≤ 50 ms; lib/dal/key-store.ts). How fast is the benchmark's business
      // (scripts/bench-decisions.ts); here a generous guard only, so a cache that never noticed fails.
      const statusSoon = async (k: string, wanted: number) => {
        let status = 0;
        for (let i = 0; i < 200 && status !== wanted; i++) {
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, 10));
          status = (await health(k)).status;
        }
        return status;
      };
      expect((await health(key.plaintext)).status).toBe(200);
      expect((await setApiKeyEnabled(accountId, key.id, false, { type: "dashboard" })).ok).toBe(true);
      expect(await statusSoon(key.plaintext, 401)).toBe(401);
      expect((await setApiKeyEnabled(accountId, key.id, true, { type: "dashboard" })).ok).toBe(true);
      expect(await statusSoon(key.plaintext, 200)).toBe(200);
      // Batched: not written yet (the interval is a minute).
      expect(await lastUsedAt(key.plaintext)).toBeNull();
      gateway.child.kill(signal);
      expect(await gateway.exited).toBe(0);
      expect(await lastUsedAt(key.plaintext)).toEqual(expect.any(Number));
      expect(gateway.output()).not.toContain(key.plaintext);
    } finally {
      if (gateway.child.exitCode === null && gateway.child.pid) process.kill(-gateway.child.pid, "SIGKILL");
    }
  }, 30_000);
});

// Issue 7: one account cannot slow another through jobs. At the default quota, through the gateway.
describe("per-account job quota through the gateway", () => {
  async function accountWithKey(label: string) {
    const account = await createAccount(uniqueEmail(label), `password-${label}-123`);
    if (!account.ok) throw new Error("setup: account");
    const endpoint = await createEndpoint(account.value.id, label, { type: "dashboard" });
    if (!endpoint.ok) throw new Error("setup: endpoint");
    return { accountId: account.value.id, endpointId: endpoint.value.id, key: await newKey(account.value.id, "none", "read_write") };
  }
  const submit = (path: string, key: string, input: unknown) =>
    call(path, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ input }) });
  const jobCount = async (accountId: string) => Number((await rawRows("SELECT count(*) AS n FROM jobs WHERE account_id = ?", [accountId]))[0]?.n);

  it("at JOB_QUEUE_MAX_PER_ACCOUNT unfinished jobs: 429 JOB_QUOTA_EXCEEDED with Retry-After and no-store, nothing written; another account is served", async () => {
    const { readEnv } = await import("@/lib/env");
    const limit = readEnv().JOB_QUEUE_MAX_PER_ACCOUNT;
    const plane = await getDataPlane();
    plane.worker.stop(); // nothing finishes: the queue stays full
    const full = await accountWithKey("quota-full");
    await plane.sql.run(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
       INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) SELECT 'quota-' || i, ?1, ?2, 'IN_QUEUE', '{}', ?4 FROM n`,
      [full.accountId, full.endpointId, limit - 1, Date.now()],
    );
    expect((await submit(`/v2/${full.endpointId}/run`, full.key, "the last place")).status).toBe(200);
    for (const path of [`/v2/${full.endpointId}/run`, `/v2/${full.endpointId}/runsync?wait=100`]) {
      const refused = await submit(path, full.key, "one too many");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      expect(refused.headers.get("cache-control")).toBe("no-store");
      expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
      expect(JSON.parse(refused.text)).toEqual({ error: { code: "JOB_QUOTA_EXCEEDED", message: expect.stringContaining(`at most ${limit} unfinished`) } });
    }
    expect(await jobCount(full.accountId)).toBe(limit);
    const other = await accountWithKey("quota-other");
    expect((await submit(`/v2/${other.endpointId}/run`, other.key, "mine")).status).toBe(200);
    expect(await jobCount(other.accountId)).toBe(1);
  });
});
