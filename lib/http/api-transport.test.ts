import { removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { randomUUID } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import { getDataPlane } from "@/lib/server/data-plane";
import { generateScopedKey } from "@/lib/core/keys/generate";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { MAX_JSON_DEPTH } from "./read-body";
import { handleEndpointApi, healthBody } from "./endpoint-api";
import { handleVerifyApi } from "./verify-api";
import { startTestGateway, type TestGateway } from "@/testing/test-gateway";

// One table of requests, each sent three ways: to the Fetch handler as Next.js calls it, to the
// gateway with every route on Fetch, and to the gateway with its node:http fast path. The answers
// must not differ by a byte (but the Date header and a new job's id), nor the access log lines.
vi.hoisted(() => {
  process.env.ECHO_WORKER_POLL_MS = "60000";
  process.env.LAST_USED_FLUSH_MS = "60000";
  process.env.ACCESS_LOG = "1";
});

type Auth = string | string[] | null;
// A string is sent at once; `parts` one after another, the request still open in between (so the
// body is read as it arrives, not found whole); `chunked` is that many bytes of "a".
type Body = string | { parts: string[] } | { chunked: number };
type Case = {
  label: string;
  method: string;
  path: () => string;
  auth?: () => Auth;
  body?: () => Body;
  /** Served by the fast path (no Request or Response object), or by Fetch in both gateways. */
  hot: boolean;
  status: number;
  /** `error.code` of an error, or `code` of a verify answer. */
  code?: string;
};

type Exchange = { status: number; statusMessage: string; headers: [string, string][]; body: string; logLines: string[] };

let fetchGateway: TestGateway | undefined;
let nativeGateway: TestGateway | undefined;
const agents = { fetch: new Agent({ keepAlive: true, maxSockets: 1 }), native: new Agent({ keepAlive: true, maxSockets: 1 }) };
const secrets: string[] = [];
const seen: string[] = [];

let ep = "";
let otherEp = "";
let job = "";
let otherJob = "";
const keys = { rw: "", read: "", none: "", disabled: "", neverIssued: generateScopedKey(), wrongChecksum: "" };

async function newKey(accountId: string, graphql: AccessLevel, endpointsAll: AccessLevel) {
  const result = await createScopedApiKey(accountId, { name: "transport", scopes: { graphql, endpointsAll, endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  secrets.push(result.value.plaintext);
  return result.value;
}

async function insertCompletedJob(accountId: string, endpointId: string): Promise<string> {
  const id = randomUUID();
  await (await getDataPlane()).sql.run(
    "INSERT INTO jobs (id, account_id, endpoint_id, status, input, output, created_at, started_at, completed_at) VALUES (?1, ?2, ?3, 'COMPLETED', ?4, ?4, 1000, 1500, 1750)",
    [id, accountId, endpointId, JSON.stringify({ prompt: "héllo ✓" })],
  );
  return id;
}

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("transport"), "password-transport-1"), createAccount(uniqueEmail("other"), "password-other-1")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  const [own, other] = await Promise.all([createEndpoint(a.value.id, "transport", { type: "dashboard" }), createEndpoint(b.value.id, "other", { type: "dashboard" })]);
  if (!own.ok || !other.ok) throw new Error("setup: endpoints");
  ep = own.value.id;
  otherEp = other.value.id;
  keys.rw = (await newKey(a.value.id, "read", "read_write")).plaintext;
  keys.read = (await newKey(a.value.id, "none", "read")).plaintext;
  keys.none = (await newKey(a.value.id, "none", "none")).plaintext;
  const disabled = await newKey(a.value.id, "read_write", "read_write");
  if (!(await setApiKeyEnabled(a.value.id, disabled.key.id, false, { type: "dashboard" })).ok) throw new Error("setup: disable");
  keys.disabled = disabled.plaintext;
  keys.wrongChecksum = keys.rw.slice(0, -1) + (keys.rw.endsWith("A") ? "B" : "A");
  // Queued jobs stay queued: the answers must not depend on when the worker ran.
  (await getDataPlane()).worker.stop();
  job = await insertCompletedJob(a.value.id, ep);
  otherJob = await insertCompletedJob(b.value.id, otherEp);
  fetchGateway = await startTestGateway({ fastPath: false });
  nativeGateway = await startTestGateway();
});

afterAll(async () => {
  agents.fetch.destroy();
  agents.native.destroy();
  await fetchGateway?.close();
  await nativeGateway?.close();
  await removeTestDatabase();
});

const bearer = (key: () => string) => () => `Bearer ${key()}`;
const json = (value: unknown) => () => JSON.stringify(value);
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
// Thunks: ids and keys exist only once beforeAll has run.
const verifyBody = (key: () => string, rest: () => Record<string, unknown>) => () => JSON.stringify({ key: key(), ...rest() });
const VERIFY = "/api/v1/keys/verify";
const UNKNOWN_JOB = randomUUID();

const CASES: Case[] = [
  // GET /v2/{id}/health
  { label: "health, read_write key", method: "GET", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.rw), hot: true, status: 200 },
  { label: "health, read key, lower-case scheme", method: "GET", path: () => `/v2/${ep}/health`, auth: () => `bearer ${keys.read}`, hot: true, status: 200 },
  { label: "health, an unknown query parameter", method: "GET", path: () => `/v2/${ep}/health?wait=abc&x="y"`, auth: bearer(() => keys.rw), hot: true, status: 200 },
  { label: "health, no Authorization", method: "GET", path: () => `/v2/${ep}/health`, hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, empty Authorization", method: "GET", path: () => `/v2/${ep}/health`, auth: () => "", hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, Basic scheme", method: "GET", path: () => `/v2/${ep}/health`, auth: () => `Basic ${keys.rw}`, hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, wrong checksum", method: "GET", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.wrongChecksum), hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, never issued", method: "GET", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.neverIssued), hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, two Authorization headers", method: "GET", path: () => `/v2/${ep}/health`, auth: () => [`Bearer ${keys.rw}`, `Bearer ${keys.rw}`], hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, the key in the query string", method: "GET", path: () => `/v2/${ep}/health?api_key=${keys.rw}`, hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "health, disabled key", method: "GET", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.disabled), hot: true, status: 401, code: "KEY_DISABLED" },
  { label: "health, key without endpoint access", method: "GET", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.none), hot: true, status: 403, code: "INSUFFICIENT_SCOPE" },
  { label: "health, another account's endpoint", method: "GET", path: () => `/v2/${otherEp}/health`, auth: bearer(() => keys.rw), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "health, unknown endpoint", method: "GET", path: () => `/v2/no-such-endpoint/health`, auth: bearer(() => keys.rw), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "health, an id over 128 characters", method: "GET", path: () => `/v2/${"e".repeat(129)}/health`, auth: bearer(() => keys.rw), hot: true, status: 404, code: "NOT_FOUND" },
  // GET /v2/{id}/status/{job}
  { label: "status of a finished job", method: "GET", path: () => `/v2/${ep}/status/${job}`, auth: bearer(() => keys.read), hot: true, status: 200 },
  { label: "status, unknown job", method: "GET", path: () => `/v2/${ep}/status/${UNKNOWN_JOB}`, auth: bearer(() => keys.read), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "status, another account's job", method: "GET", path: () => `/v2/${ep}/status/${otherJob}`, auth: bearer(() => keys.rw), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "status, disabled key", method: "GET", path: () => `/v2/${ep}/status/${job}`, auth: bearer(() => keys.disabled), hot: true, status: 401, code: "KEY_DISABLED" },
  { label: "status, key without endpoint access", method: "GET", path: () => `/v2/${ep}/status/${job}`, auth: bearer(() => keys.none), hot: true, status: 403, code: "INSUFFICIENT_SCOPE" },
  // POST /v2/{id}/run and runsync
  { label: "run", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: json({ input: { prompt: "héllo ✓", n: [1, 2] } }), hot: true, status: 200 },
  { label: "run, the body in two parts", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: () => ({ parts: ['{"input":{"pa', 'rts":2}}'] }), hot: true, status: 200 },
  { label: "run, read key", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.read), body: json({ input: 1 }), hot: true, status: 403, code: "INSUFFICIENT_SCOPE" },
  { label: "run, disabled key", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.disabled), body: json({ input: 1 }), hot: true, status: 401, code: "KEY_DISABLED" },
  { label: "run, no key", method: "POST", path: () => `/v2/${ep}/run`, body: json({ input: 1 }), hot: true, status: 401, code: "UNAUTHENTICATED" },
  { label: "run, another account's endpoint", method: "POST", path: () => `/v2/${otherEp}/run`, auth: bearer(() => keys.rw), body: json({ input: 1 }), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "run, body not JSON", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: () => "{input: 1", hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, empty body", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, blank body", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: () => " \n ", hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, JSON null", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: () => "null", hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, a JSON array", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: json([{ input: 1 }]), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, missing input", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: json({ inputs: 1 }), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, nested too deep", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: () => `{"input":${nested(MAX_JSON_DEPTH)}}`, hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, over 1 MB with a Content-Length", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: json({ input: "a".repeat(1_100_000) }), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, over 1 MB chunked", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), body: () => ({ chunked: 1_200_000 }), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "run, 1.1 MB with a refused key", method: "POST", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.read), body: json({ input: "a".repeat(1_100_000) }), hot: true, status: 403, code: "INSUFFICIENT_SCOPE" },
  { label: "runsync, wait=0", method: "POST", path: () => `/v2/${ep}/runsync?wait=0`, auth: bearer(() => keys.rw), body: json({ input: "sync" }), hot: true, status: 200 },
  ...["abc", "-1", "1.5", "", "1e3"].map((wait): Case => ({
    label: `runsync, wait=${JSON.stringify(wait)}`,
    method: "POST",
    path: () => `/v2/${ep}/runsync?wait=${wait}`,
    auth: bearer(() => keys.rw),
    body: json({ input: 1 }),
    hot: true,
    status: 400,
    code: "BAD_REQUEST",
  })),
  { label: "runsync, read key", method: "POST", path: () => `/v2/${ep}/runsync?wait=0`, auth: bearer(() => keys.read), body: json({ input: 1 }), hot: true, status: 403, code: "INSUFFICIENT_SCOPE" },
  // POST /api/v1/keys/verify: always 200 with the decision, 400 for a malformed body.
  { label: "verify, allowed", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.rw, () => ({ resource: "endpoint", endpointId: ep, access: "read_write" })), hot: true, status: 200, code: "VALID" },
  { label: "verify, the body in two parts", method: "POST", path: () => VERIFY, body: () => ({ parts: [`{"key":"${keys.rw}",`, `"resource":"graphql","access":"read"}`] }), hot: true, status: 200, code: "VALID" },
  { label: "verify, GraphQL allowed", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.rw, () => ({ resource: "graphql", access: "read" })), hot: true, status: 200, code: "VALID" },
  { label: "verify, never issued", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.neverIssued, () => ({ resource: "endpoint", endpointId: ep, access: "read" })), hot: true, status: 200, code: "UNAUTHENTICATED" },
  { label: "verify, garbage key", method: "POST", path: () => VERIFY, body: verifyBody(() => "x", () => ({ resource: "graphql", access: "read" })), hot: true, status: 200, code: "UNAUTHENTICATED" },
  { label: "verify, disabled", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.disabled, () => ({ resource: "endpoint", endpointId: ep, access: "read" })), hot: true, status: 200, code: "KEY_DISABLED" },
  { label: "verify, insufficient scope", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.read, () => ({ resource: "endpoint", endpointId: ep, access: "read_write" })), hot: true, status: 200, code: "INSUFFICIENT_SCOPE" },
  { label: "verify, GraphQL insufficient scope", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.read, () => ({ resource: "graphql", access: "read" })), hot: true, status: 200, code: "INSUFFICIENT_SCOPE" },
  { label: "verify, another account's endpoint", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.rw, () => ({ resource: "endpoint", endpointId: otherEp, access: "read" })), hot: true, status: 200, code: "NOT_FOUND" },
  { label: "verify, body not JSON", method: "POST", path: () => VERIFY, body: () => "{", hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "verify, empty body", method: "POST", path: () => VERIFY, hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "verify, wrong shape", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.rw, () => ({ resource: "pods", access: "read" })), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "verify, nested too deep", method: "POST", path: () => VERIFY, body: () => nested(MAX_JSON_DEPTH + 1), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "verify, over 16 kB", method: "POST", path: () => VERIFY, body: verifyBody(() => keys.rw, () => ({ resource: "graphql", access: "read", pad: "a".repeat(17_000) })), hot: true, status: 400, code: "BAD_REQUEST" },
  { label: "verify, GET", method: "GET", path: () => VERIFY, hot: true, status: 404, code: "NOT_FOUND" },
  { label: "verify, PUT", method: "PUT", path: () => VERIFY, body: verifyBody(() => keys.rw, () => ({ resource: "graphql", access: "read" })), hot: true, status: 404, code: "NOT_FOUND" },
  // Unknown routes and methods, odd paths: hot ones answered natively, the rest through Fetch.
  { label: "POST to health", method: "POST", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.rw), body: json({ input: 1 }), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "DELETE health", method: "DELETE", path: () => `/v2/${ep}/health`, auth: bearer(() => keys.rw), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "GET run", method: "GET", path: () => `/v2/${ep}/run`, auth: bearer(() => keys.rw), hot: true, status: 404, code: "NOT_FOUND" },
  { label: "unknown route", method: "GET", path: () => `/v2/${ep}/unknown`, auth: bearer(() => keys.rw), hot: false, status: 404, code: "NOT_FOUND" },
  { label: "status without a job", method: "GET", path: () => `/v2/${ep}/status`, auth: bearer(() => keys.rw), hot: false, status: 404, code: "NOT_FOUND" },
  { label: "health with an extra segment", method: "GET", path: () => `/v2/${ep}/health/extra`, auth: bearer(() => keys.rw), hot: false, status: 404, code: "NOT_FOUND" },
  { label: "an escaped space in the id", method: "GET", path: () => `/v2/bad%20id/health`, auth: bearer(() => keys.rw), hot: false, status: 404, code: "NOT_FOUND" },
  { label: "a doubled slash", method: "GET", path: () => `/v2/${ep}//health`, auth: bearer(() => keys.rw), hot: false, status: 200 },
  { label: "a dot segment", method: "GET", path: () => `/v2/x/../${ep}/health`, auth: bearer(() => keys.rw), hot: false, status: 200 },
  { label: "a cold route (stream)", method: "GET", path: () => `/v2/${ep}/stream/${job}`, auth: bearer(() => keys.rw), hot: false, status: 200 },
  { label: "a cold route (purge-queue)", method: "POST", path: () => `/v2/${ep}/purge-queue`, auth: bearer(() => keys.read), hot: false, status: 403, code: "INSUFFICIENT_SCOPE" },
];

// Lines the access log writes to stdout while `work` runs (ACCESS_LOG=1), without their duration.
async function capturingLog<T>(work: () => Promise<T>): Promise<T & { logLines: string[] }> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith("api ")) {
      lines.push(text.trimEnd().replace(/ \d+\.\dms$/, " <ms>"));
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  });
  try {
    return { ...(await work()), logLines: lines };
  } finally {
    spy.mockRestore();
  }
}

function partsStream(parts: string[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    async pull(controller) {
      if (next > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      if (next === parts.length) return controller.close();
      controller.enqueue(new TextEncoder().encode(parts[next++]));
    },
  });
}

function chunkedStream(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      sent += 65_536;
      controller.enqueue(new Uint8Array(65_536).fill(0x61));
    },
  });
}

/** The Fetch handler, called as Next.js's route handlers call it. */
async function callFetchHandler(c: Case): Promise<Exchange> {
  return capturingLog(async () => {
    const headers = new Headers();
    const auth = c.auth?.() ?? null;
    for (const value of auth === null ? [] : [auth].flat()) headers.append("authorization", value);
    const body = c.body?.();
    if (body !== undefined) headers.set("content-type", "application/json");
    const request = new Request(`http://gateway.invalid${c.path()}`, {
      method: c.method,
      headers,
      body:
        body === undefined
          ? c.method === "POST" || c.method === "PUT"
            ? ""
            : undefined
          : typeof body === "string"
            ? body
            : "parts" in body
              ? partsStream(body.parts)
              : chunkedStream(body.chunked),
      duplex: "half",
    } as RequestInit);
    const handler = c.path().startsWith("/v2/") ? handleEndpointApi : handleVerifyApi;
    const response = await handler(request);
    return { status: response.status, statusMessage: "", headers: [...response.headers], body: await response.text() };
  });
}

/** One exchange with a gateway over a kept-alive connection, as sent on the wire. */
function callGateway(port: number, agent: Agent, c: Case): Promise<Exchange> {
  return capturingLog(
    () =>
      new Promise<Omit<Exchange, "logLines">>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port, method: c.method, path: c.path(), agent });
        const auth = c.auth?.() ?? null;
        if (auth !== null) req.setHeader("authorization", auth);
        const body = c.body?.();
        if (body !== undefined) req.setHeader("content-type", "application/json");
        let answered = false;
        req.on("response", (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const headers: [string, string][] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
            resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, headers, body: Buffer.concat(chunks).toString("utf8") });
          });
        });
        // Answered before the body was all sent: the server closes the connection, and the rest
        // of the upload fails. Only a failure before an answer counts.
        req.on("error", (error) => {
          if (!answered) reject(error);
        });
        if (body === undefined) return void req.end(c.method === "POST" || c.method === "PUT" ? "" : undefined);
        if (typeof body === "string") return void req.end(body);
        if ("parts" in body) {
          const [first, ...rest] = body.parts;
          req.write(first!);
          return void setTimeout(() => req.end(rest.join("")), 20);
        }
        let sent = 0;
        const pump = () => {
          while (sent < body.chunked) {
            sent += 65_536;
            if (!req.write(Buffer.alloc(65_536, 0x61))) return void req.once("drain", pump);
          }
          req.end();
        };
        pump();
      }),
  );
}

// The same Request and Response classes the app uses, counting what is built while `work` runs.
async function countingFetchObjects<T>(work: () => Promise<T>): Promise<{ result: T; built: number }> {
  const original = { Request: globalThis.Request, Response: globalThis.Response };
  let built = 0;
  globalThis.Request = class extends original.Request {
    constructor(...args: ConstructorParameters<typeof Request>) {
      super(...args);
      built += 1;
    }
  };
  globalThis.Response = class extends original.Response {
    constructor(...args: ConstructorParameters<typeof Response>) {
      super(...args);
      built += 1;
    }
  };
  try {
    return { result: await work(), built };
  } finally {
    globalThis.Request = original.Request;
    globalThis.Response = original.Response;
  }
}

/** A new job's id is new on every path; nothing else may differ. */
const sameJobIds = (body: string) => body.replace(/"id":"[0-9a-f-]{36}"/g, '"id":"<new job>"');
const withoutDate = (headers: [string, string][]) => headers.map(([name, value]): [string, string] => (name.toLowerCase() === "date" ? [name, "<date>"] : [name, value]));
// What node:http adds around an answer, on both gateway paths alike.
const TRANSPORT_HEADERS = new Set(["date", "connection", "keep-alive", "content-length", "transfer-encoding"]);

describe("one table, three ways: the Fetch handler, the gateway through Fetch, the gateway's fast path", () => {
  it("covers every hot route, each denial, bad bodies and odd routes", () => {
    const labels = CASES.map((c) => c.label);
    expect(new Set(labels).size).toBe(labels.length);
    const covered = new Set(CASES.filter((c) => c.hot).map((c) => (c.path().startsWith(VERIFY) ? "verify" : c.path().split(/[/?]/)[3])));
    expect([...covered].sort()).toEqual(["health", "run", "runsync", "status", "verify"]);
    const codes = new Set(CASES.map((c) => c.code));
    for (const code of ["UNAUTHENTICATED", "KEY_DISABLED", "INSUFFICIENT_SCOPE", "NOT_FOUND", "BAD_REQUEST", "VALID"]) expect(codes).toContain(code);
  });

  it.each(CASES)("$label", async (c) => {
    const direct = await callFetchHandler(c);
    const throughFetch = await callGateway(fetchGateway!.port, agents.fetch, c);
    const native = await countingFetchObjects(() => callGateway(nativeGateway!.port, agents.native, c));
    for (const exchange of [direct, throughFetch, native.result]) {
      seen.push(exchange.body, ...exchange.headers.flat(), ...exchange.logLines);
    }

    // The expected answer, so that three equal wrong answers cannot pass.
    expect(native.result.status).toBe(c.status);
    const parsed = JSON.parse(native.result.body) as { error?: { code: string }; code?: string };
    expect(parsed.error?.code ?? parsed.code).toBe(c.code);
    // The fast path built no Fetch object at all; the other routes still go through Fetch.
    if (c.hot) expect(native.built).toBe(0);
    else expect(native.built).toBeGreaterThan(0);

    // Byte for byte between the two gateways: status line, header names, order and values, body.
    expect({ ...native.result, headers: withoutDate(native.result.headers), body: sameJobIds(native.result.body) }).toEqual({
      ...throughFetch,
      headers: withoutDate(throughFetch.headers),
      body: sameJobIds(throughFetch.body),
    });
    // And what the handler itself answers, as Next.js serves it.
    const answered = native.result.headers.filter(([name]) => !TRANSPORT_HEADERS.has(name.toLowerCase())).map(([name, value]) => [name.toLowerCase(), value]);
    expect({ status: native.result.status, headers: answered, body: sameJobIds(native.result.body) }).toEqual({
      status: direct.status,
      headers: direct.headers,
      body: sameJobIds(direct.body),
    });
    // One access log line each, the same line.
    expect(direct.logLines).toHaveLength(1);
    expect(native.result.logLines).toEqual(direct.logLines);
    expect(throughFetch.logLines).toEqual(direct.logLines);
  });

  it("an answer given before the body ended closes the connection, on both gateways", async () => {
    const early = CASES.find((c) => c.label === "run, over 1 MB chunked")!;
    for (const [port, agent] of [
      [fetchGateway!.port, agents.fetch],
      [nativeGateway!.port, agents.native],
    ] as const) {
      const reply = await callGateway(port, agent, early);
      expect(reply.headers).toContainEqual(["Connection", "close"]);
      const next = await callGateway(port, agent, CASES[0]!);
      expect(next.status).toBe(200);
    }
  });

  it("no answer or log line carried a key or its hash", () => {
    expect(seen.length).toBeGreaterThan(CASES.length * 3);
    const all = seen.join("\n");
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(hashKey(secret));
    }
  });
});

describe("the health answer, written out", () => {
  it.each([
    { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 },
    { completed: 12, failed: 3, inProgress: 1, inQueue: 7, retried: 2 },
    { completed: 1_000_000, failed: 0, inProgress: 40, inQueue: 0, retried: 999 },
  ])("is JSON.stringify's text for %o", (counts) => {
    const running = counts.inProgress > 0 ? 1 : 0;
    const object = { jobs: counts, workers: { idle: 1 - running, initializing: 0, ready: 1 - running, running, throttled: 0, unhealthy: 0 } };
    expect(healthBody(counts)).toBe(JSON.stringify(object));
  });
});
