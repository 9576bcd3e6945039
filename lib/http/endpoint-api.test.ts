import { rawRows, removeTestDatabase, testDatabasePath, uniqueEmail } from "@/testing/test-database";
import { randomUUID } from "node:crypto";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, deleteApiKey, getApiKey, importLegacyApiKeys, setApiKeyEnabled, updateApiKeyScopes } from "@/lib/dal/api-keys";
import { getDataPlane } from "@/lib/server/data-plane";
import { createEndpoint } from "@/lib/dal/endpoints";
import type { JobStatus } from "@/lib/dal/jobs";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { generateScopedKey } from "@/lib/core/keys/generate";
import { hashKey } from "@/lib/core/keys/hash";
import { LEVEL_LABELS, type AccessLevel } from "@/lib/core/scopes/levels";
import { decide, type KeyStore } from "@/lib/core/verify/verifier";
import { handleEndpointApi } from "./endpoint-api";

// Before any import reads the environment: the worker runs only when a request wakes it (so
// jobs inserted by a test stay queued until then), and last-used dates flush only when asked.
vi.hoisted(() => {
  process.env.ECHO_WORKER_POLL_MS = "60000";
  process.env.LAST_USED_FLUSH_MS = "60000";
  process.env.ECHO_WORKER_DELAY_MS = "0";
  process.env.DATABASE_BUSY_TIMEOUT_MS = "250";
  // Small job quotas, reached in a few requests; no other test here keeps as many jobs unfinished.
  process.env.JOB_QUEUE_MAX_PER_ACCOUNT = "20";
  process.env.JOB_QUEUE_MAX_BYTES_PER_ACCOUNT = "2500000";
});

afterAll(async () => {
  await removeTestDatabase();
});

type Json = Record<string, unknown>;
type Reply = { status: number; headers: Headers; text: string; json: Json };

// Every response body and header this file sees, checked for secrets at the end.
const seen: string[] = [];
// Every key (and so every hash) this file knows.
const secrets: string[] = [];

async function send(path: string, init: { method?: "GET" | "POST"; authorization?: string | null; body?: string } = {}): Promise<Reply> {
  const headers = new Headers();
  if (init.authorization) headers.set("authorization", init.authorization);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  const response = await handleEndpointApi(new Request(`http://test${path}`, { method: init.method ?? "GET", headers, body: init.body }));
  const text = await response.text();
  seen.push(text);
  response.headers.forEach((value, name) => seen.push(`${name}: ${value}`));
  // SPEC §4: errors and successes alike are never cached.
  expect(response.headers.get("cache-control")).toBe("no-store");
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Json };
}

const bearer = (key: string) => `Bearer ${key}`;
const get = (path: string, key: string | null) => send(path, { authorization: key === null ? null : bearer(key) });
const post = (path: string, key: string, body?: unknown) =>
  send(path, { method: "POST", authorization: bearer(key), body: body === undefined ? undefined : JSON.stringify(body) });

function expectError(reply: Reply, status: number, code: string) {
  expect({ status: reply.status, code: (reply.json.error as Json | undefined)?.code }).toEqual({ status, code });
  expect(Object.keys(reply.json)).toEqual(["error"]);
  // SPEC §4: a 403 explains itself with `required` and `granted`; every other error is code and message only.
  expect(Object.keys(reply.json.error as Json).sort()).toEqual(code === "INSUFFICIENT_SCOPE" ? ["code", "granted", "message", "required"] : ["code", "message"]);
  expect(typeof (reply.json.error as Json).message).toBe("string");
}

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup: account");
  return result.value.id;
}

async function newEndpoint(accountId: string, name: string): Promise<string> {
  const result = await createEndpoint(accountId, name, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: endpoint");
  return result.value.id;
}

async function newKey(accountId: string, scopes: { graphql?: AccessLevel; endpointsAll: AccessLevel; endpoints?: Record<string, AccessLevel> }) {
  const result = await createScopedApiKey(accountId, { name: "test key", scopes: { graphql: "none", endpoints: {}, ...scopes } }, { type: "dashboard" });
  if (!result.ok) throw new Error(`setup: key ${result.message}`);
  secrets.push(result.value.plaintext);
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

function legacyPlaintext(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
}

async function newLegacyKey(accountId: string, permission: "read" | "read_write") {
  const plaintext = legacyPlaintext();
  secrets.push(plaintext);
  const result = await importLegacyApiKeys(accountId, [
    { line: 1, name: `legacy ${permission}`, permission, keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") },
  ], { type: "dashboard" });
  if (!result.ok || !result.value.ids[0]) throw new Error("setup: legacy key");
  return { id: result.value.ids[0], plaintext };
}

/** A job written straight to the table: no request, so nothing wakes the worker. */
async function insertJob(accountId: string, endpointId: string, status: JobStatus, input: unknown = { inserted: true }): Promise<string> {
  const id = randomUUID();
  const finished = status !== "IN_QUEUE" && status !== "IN_PROGRESS";
  await (await getDataPlane()).sql.run(
    "INSERT INTO jobs (id, account_id, endpoint_id, status, input, output, created_at, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [id, accountId, endpointId, status, JSON.stringify(input), status === "COMPLETED" ? JSON.stringify(input) : null, Date.now(), finished ? Date.now() : null],
  );
  return id;
}

const jobsSnapshot = () => rawRows("SELECT * FROM jobs ORDER BY id");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the worker has nothing left to do, so a test's own queued rows stay queued. */
async function quiesce() {
  for (let i = 0; i < 200; i++) {
    await sleep(5);
    const [row] = await rawRows("SELECT count(*) AS n FROM jobs WHERE status IN ('IN_QUEUE', 'IN_PROGRESS')");
    if (Number(row?.n) === 0) return;
  }
  throw new Error("worker did not settle");
}

async function jobStatus(jobId: string): Promise<string | undefined> {
  const [row] = await rawRows("SELECT status FROM jobs WHERE id = ?", [jobId]);
  return row?.status as string | undefined;
}

let accountA = "";
let accountB = "";
let epA1 = "";
let epA2 = "";
let epB1 = "";
let keyB = { id: "", plaintext: "" };

type KeyCase = { label: string; plaintext: string; a1: AccessLevel; a2: AccessLevel };
const keyCases: KeyCase[] = [];

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
  epA1 = await newEndpoint(accountA, "a-one");
  epA2 = await newEndpoint(accountA, "a-two");
  epB1 = await newEndpoint(accountB, "b-one");
  keyB = await newKey(accountB, { endpointsAll: "read_write" });
  // Effective level on A1 (the one with overrides) and on A2 (falls back to `all`).
  const specs: [string, Parameters<typeof newKey>[1] | "legacy read" | "legacy read_write", AccessLevel, AccessLevel][] = [
    ["scoped, all none", { endpointsAll: "none" }, "none", "none"],
    ["scoped, all read", { endpointsAll: "read" }, "read", "read"],
    ["scoped, all read_write", { endpointsAll: "read_write" }, "read_write", "read_write"],
    ["scoped, override up (all none, A1 read_write)", { endpointsAll: "none", endpoints: { [epA1]: "read_write" } }, "read_write", "none"],
    ["scoped, override down (all read_write, A1 none)", { endpointsAll: "read_write", endpoints: { [epA1]: "none" } }, "none", "read_write"],
    // GraphQL read_write must not leak into endpoints.
    ["scoped, graphql read_write only", { graphql: "read_write", endpointsAll: "none" }, "none", "none"],
    ["legacy read", "legacy read", "read", "read"],
    ["legacy read_write", "legacy read_write", "read_write", "read_write"],
  ];
  for (const [label, spec, a1, a2] of specs) {
    const key =
      spec === "legacy read" ? await newLegacyKey(accountA, "read") : spec === "legacy read_write" ? await newLegacyKey(accountA, "read_write") : await newKey(accountA, spec);
    keyCases.push({ label, plaintext: key.plaintext, a1, a2 });
  }
});

describe("decision matrix: key × endpoint level × route × account", () => {
  const ROUTES = [
    { route: "health", method: "GET", needs: "read", job: false },
    { route: "status", method: "GET", needs: "read", job: true },
    { route: "status-sync", method: "GET", needs: "read", job: true },
    { route: "stream", method: "GET", needs: "read", job: true },
    { route: "run", method: "POST", needs: "read_write", job: false },
    { route: "runsync", method: "POST", needs: "read_write", job: false },
    { route: "cancel", method: "POST", needs: "read_write", job: true },
    { route: "retry", method: "POST", needs: "read_write", job: true },
    { route: "purge-queue", method: "POST", needs: "read_write", job: false },
  ] as const;
  const TARGETS = ["own endpoint with override", "own endpoint without override", "other account's endpoint", "unknown endpoint"] as const;
  const KEY_LABELS = [
    "scoped, all none",
    "scoped, all read",
    "scoped, all read_write",
    "scoped, override up (all none, A1 read_write)",
    "scoped, override down (all read_write, A1 none)",
    "scoped, graphql read_write only",
    "legacy read",
    "legacy read_write",
  ];
  const RANK: Record<AccessLevel, number> = { none: 0, read: 1, read_write: 2 };
  const cases = KEY_LABELS.flatMap((keyLabel) => TARGETS.flatMap((target) => ROUTES.map((route) => ({ keyLabel, target, ...route }))));

  // One finished job per endpoint for the read routes; other account's job for its endpoint.
  const completedJob: Record<string, string> = {};
  beforeAll(async () => {
    const all = await newKey(accountA, { endpointsAll: "read_write" });
    for (const ep of [epA1, epA2]) {
      const reply = await post(`/v2/${ep}/runsync?wait=5000`, all.plaintext, { input: { ep } });
      expect(reply.json.status).toBe("COMPLETED");
      completedJob[ep] = reply.json.id as string;
    }
    completedJob[epB1] = (await post(`/v2/${epB1}/run`, keyB.plaintext, { input: 1 })).json.id as string;
  });

  it("covers every key kind, target and route", () => {
    expect(cases).toHaveLength(KEY_LABELS.length * TARGETS.length * ROUTES.length);
  });

  it.each(cases)("$keyLabel · $target · $method $route", async ({ keyLabel, target, route, method, needs, job }) => {
    const key = keyCases.find((k) => k.label === keyLabel)!;
    const endpointId = { "own endpoint with override": epA1, "own endpoint without override": epA2, "other account's endpoint": epB1, "unknown endpoint": "no-such-endpoint" }[target];
    const own = endpointId === epA1 || endpointId === epA2;
    let jobId: string | null = null;
    if (job) {
      // Retry needs a retryable job to answer 200; the others take any job of that endpoint.
      if (route === "retry" && own) jobId = await insertJob(accountA, endpointId, "CANCELLED");
      else jobId = completedJob[endpointId] ?? randomUUID();
    }
    const path = `/v2/${endpointId}/${route}${jobId ? `/${jobId}` : ""}${route === "runsync" || route === "status-sync" ? "?wait=5000" : ""}`;
    const before = route === "retry" && own ? await jobStatus(jobId!) : undefined;
    const reply =
      method === "GET" ? await get(path, key.plaintext) : await post(path, key.plaintext, route === "run" || route === "runsync" ? { input: { keyLabel } } : undefined);

    const level = endpointId === epA1 ? key.a1 : key.a2;
    if (!own) {
      expectError(reply, 404, "NOT_FOUND");
    } else if (RANK[level] < RANK[needs]) {
      expectError(reply, 403, "INSUFFICIENT_SCOPE");
      const name = endpointId === epA1 ? "a-one" : "a-two";
      expect(reply.json.error).toEqual({
        code: "INSUFFICIENT_SCOPE",
        message: `This key has ${LEVEL_LABELS[level]} on endpoint "${name}"; this request needs ${LEVEL_LABELS[needs]}.`,
        required: { resource: "endpoint", endpointId, access: needs },
        granted: level,
      });
      if (route === "retry") expect(await jobStatus(jobId!)).toBe(before);
    } else {
      expect(reply.status).toBe(200);
      expect(reply.json.error).toBeUndefined();
    }
  });
});

describe("authentication failures", () => {
  let endpoint = "";
  let valid = "";
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "auth");
    valid = (await newKey(accountA, { endpointsAll: "read" })).plaintext;
  });

  const wrongChecksum = () => {
    const last = valid.at(-1) === "A" ? "B" : "A";
    return valid.slice(0, -1) + last;
  };
  const neverIssued = () => generateScopedKey();
  const RANDOM = "ABCDEFGHIJabcdefghij0123456789";

  // `dbRead`: whether the key may reach the database at all (SPEC §2: the checksum keeps
  // garbage and typos away from it).
  const cases: { name: string; authorization: () => string | null; presented: () => string; dbRead: boolean }[] = [
    { name: "no Authorization header", authorization: () => null, presented: () => "", dbRead: false },
    { name: "Basic scheme with a valid key", authorization: () => `Basic ${valid}`, presented: () => valid, dbRead: false },
    { name: "Token scheme with a valid key", authorization: () => `Token ${valid}`, presented: () => valid, dbRead: false },
    { name: "Basic credentials", authorization: () => `Basic ${Buffer.from(`user:${valid}`).toString("base64")}`, presented: () => valid, dbRead: false },
    { name: "key without a scheme", authorization: () => valid, presented: () => valid, dbRead: false },
    { name: "empty bearer", authorization: () => "Bearer", presented: () => "", dbRead: false },
    { name: "bearer with trailing space only", authorization: () => "Bearer    ", presented: () => "", dbRead: false },
    { name: "10 kB key", authorization: () => bearer(`rpa_${"a".repeat(10_000)}`), presented: () => `rpa_${"a".repeat(10_000)}`, dbRead: false },
    { name: "valid key with 10 kB appended", authorization: () => bearer(valid + "A".repeat(10_000)), presented: () => valid + "A".repeat(10_000), dbRead: false },
    { name: "non-ASCII (latin1) key", authorization: () => bearer(`rpa_${"é".repeat(36)}`), presented: () => `rpa_${"é".repeat(36)}`, dbRead: false },
    { name: "SQL metacharacters", authorization: () => bearer(`rpa_'OR'1'='1';--`), presented: () => `rpa_'OR'1'='1';--`, dbRead: false },
    { name: "SQL metacharacters, legacy length", authorization: () => bearer(`'OR''='';DROP/**/TABLE/**/api_k`), presented: () => `'OR''='';DROP/**/TABLE/**/api_k`, dbRead: false },
    { name: "key with a space in it", authorization: () => `Bearer ${valid.slice(0, 10)} ${valid.slice(10)}`, presented: () => valid.slice(10), dbRead: false },
    { name: "two keys", authorization: () => `Bearer ${valid}, Bearer ${valid}`, presented: () => `${valid},`, dbRead: false },
    { name: "lower-case prefix", authorization: () => bearer(valid.toUpperCase()), presented: () => valid.toUpperCase(), dbRead: false },
    { name: "right shape, wrong checksum", authorization: () => bearer(wrongChecksum()), presented: wrongChecksum, dbRead: false },
    { name: "the sha256 hex of a valid key", authorization: () => bearer(hashKey(valid)), presented: () => hashKey(valid), dbRead: false },
    { name: "valid checksum, never issued", authorization: () => bearer(`rpa_${RANDOM}${computeKeyChecksum(RANDOM)}`), presented: () => `rpa_${RANDOM}${computeKeyChecksum(RANDOM)}`, dbRead: true },
    { name: "freshly generated, never issued", authorization: () => bearer(neverIssued()), presented: () => "", dbRead: true },
    { name: "legacy-shaped unknown key", authorization: () => bearer("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"), presented: () => "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dbRead: true },
  ];

  it.each(cases)("$name → 401 UNAUTHENTICATED", async ({ authorization, presented, dbRead }) => {
    const plane = await getDataPlane();
    const spy = vi.spyOn(plane.keyStore, "findKeyByHash");
    try {
      const reply = await send(`/v2/${endpoint}/health`, { authorization: authorization() });
      expectError(reply, 401, "UNAUTHENTICATED");
      expect(reply.headers.get("www-authenticate")).toBe("Bearer");
      const value = presented();
      if (value) {
        expect(reply.text).not.toContain(value);
        expect(reply.text).not.toContain(hashKey(value));
      }
      expect(reply.text).not.toContain(valid);
      expect(spy).toHaveBeenCalledTimes(dbRead ? 1 : 0);
    } finally {
      spy.mockRestore();
    }
  });

  it("a NUL byte cannot be sent in a header; the decision refuses it without a database read", async () => {
    // The Fetch API refuses NUL in header values, so no request can carry it to the handler.
    expect(() => new Headers({ authorization: `Bearer ${valid}\0` })).toThrow(TypeError);
    const findKeyByHash = vi.fn(() => null);
    const store: KeyStore = { findKeyByHash, recordDecision: vi.fn(), endGraceOnFirstUse: vi.fn(), rateLimit: vi.fn() };
    for (const presented of [`${valid}\0`, `\0${valid}`, `${valid.slice(0, 20)}\0${valid.slice(21)}`, "\0".repeat(40)]) {
      expect(await decide(presented, { resource: "endpoint", endpointId: endpoint, access: "read" }, store)).toEqual({ ok: false, code: "UNAUTHENTICATED" });
    }
    expect(findKeyByHash).not.toHaveBeenCalled();
  });

  it.each(["bearer", "BEARER", "BeArEr"])("scheme %s works (case-insensitive)", async (scheme) => {
    const reply = await send(`/v2/${endpoint}/health`, { authorization: `${scheme} ${valid}` });
    expect(reply.status).toBe(200);
  });

  it.each(["api_key", "key", "token", "authorization"])("a key in the URL (?%s=…) is never accepted", async (param) => {
    const reply = await send(`/v2/${endpoint}/health?${param}=${valid}`, {});
    expectError(reply, 401, "UNAUTHENTICATED");
  });

  it("a 401 on a POST route does not read or act on the body", async () => {
    const before = await jobsSnapshot();
    const reply = await send(`/v2/${endpoint}/run`, { method: "POST", authorization: bearer(wrongChecksum()), body: JSON.stringify({ input: 1 }) });
    expectError(reply, 401, "UNAUTHENTICATED");
    expect(await jobsSnapshot()).toEqual(before);
  });
});

describe("key lifecycle takes effect on the next request", () => {
  let endpoint = "";
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "lifecycle");
  });

  it("disabled → 401 KEY_DISABLED; enabled again → 200 with the same secret", async () => {
    const key = await newKey(accountA, { endpointsAll: "read" });
    expect((await get(`/v2/${endpoint}/health`, key.plaintext)).status).toBe(200);
    expect((await setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" })).ok).toBe(true);
    const disabled = await get(`/v2/${endpoint}/health`, key.plaintext);
    expectError(disabled, 401, "KEY_DISABLED");
    expect(disabled.headers.get("www-authenticate")).toBe("Bearer");
    // Disabled wins over every other answer, even on another account's endpoint.
    expectError(await get(`/v2/${epB1}/health`, key.plaintext), 401, "KEY_DISABLED");
    expect((await setApiKeyEnabled(accountA, key.id, true, { type: "dashboard" })).ok).toBe(true);
    expect((await get(`/v2/${endpoint}/health`, key.plaintext)).status).toBe(200);
  });

  it("a disabled legacy key is refused too, and restored", async () => {
    const key = await newLegacyKey(accountA, "read_write");
    expect((await setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" })).ok).toBe(true);
    expectError(await post(`/v2/${endpoint}/purge-queue`, key.plaintext), 401, "KEY_DISABLED");
    expect((await setApiKeyEnabled(accountA, key.id, true, { type: "dashboard" })).ok).toBe(true);
    expect((await post(`/v2/${endpoint}/purge-queue`, key.plaintext)).status).toBe(200);
  });

  it("deleted → 401 UNAUTHENTICATED", async () => {
    const key = await newKey(accountA, { endpointsAll: "read_write" });
    expect((await get(`/v2/${endpoint}/health`, key.plaintext)).status).toBe(200);
    expect((await deleteApiKey(accountA, key.id, { type: "dashboard" })).ok).toBe(true);
    const reply = await get(`/v2/${endpoint}/health`, key.plaintext);
    expectError(reply, 401, "UNAUTHENTICATED");
    expect(reply.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("narrowing scopes takes effect on the very next request", async () => {
    const key = await newKey(accountA, { endpointsAll: "read_write" });
    expect((await post(`/v2/${endpoint}/purge-queue`, key.plaintext)).status).toBe(200);
    expect((await updateApiKeyScopes(accountA, key.id, { graphql: "none", endpointsAll: "read", endpoints: {} }, { type: "dashboard" })).ok).toBe(true);
    expectError(await post(`/v2/${endpoint}/purge-queue`, key.plaintext), 403, "INSUFFICIENT_SCOPE");
    expect((await get(`/v2/${endpoint}/health`, key.plaintext)).status).toBe(200);
    expect((await updateApiKeyScopes(accountA, key.id, { graphql: "none", endpointsAll: "read", endpoints: { [endpoint]: "none" } }, { type: "dashboard" })).ok).toBe(true);
    expectError(await get(`/v2/${endpoint}/health`, key.plaintext), 403, "INSUFFICIENT_SCOPE");
    expect((await get(`/v2/${epA2}/health`, key.plaintext)).status).toBe(200);
  });

  it("successful requests move last used in one batched write; denied ones do not", async () => {
    const plane = await getDataPlane();
    const used = await newKey(accountA, { endpointsAll: "read" });
    const denied = await newKey(accountA, { endpointsAll: "read" });
    await plane.usage.flush();
    const flushes = plane.usage.stats.flushes;
    for (let i = 0; i < 100; i++) expect((await get(`/v2/${endpoint}/health`, used.plaintext)).status).toBe(200);
    expectError(await post(`/v2/${endpoint}/run`, denied.plaintext, { input: 1 }), 403, "INSUFFICIENT_SCOPE");
    expectError(await get(`/v2/${epB1}/health`, denied.plaintext), 404, "NOT_FOUND");
    expect((await getApiKey(accountA, used.id))?.lastUsedAt).toBeNull();
    await plane.usage.flush();
    expect(plane.usage.stats.flushes).toBe(flushes + 1);
    expect((await getApiKey(accountA, used.id))?.lastUsedAt).toBeInstanceOf(Date);
    expect((await getApiKey(accountA, denied.id))?.lastUsedAt).toBeNull();
  });
});

describe("a denied request has no side effect", () => {
  let endpoint = "";
  let readKey = "";
  let legacyRead = "";
  const queued: string[] = [];
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "denied");
    readKey = (await newKey(accountA, { endpointsAll: "read" })).plaintext;
    legacyRead = (await newLegacyKey(accountA, "read")).plaintext;
    await quiesce();
    for (let i = 0; i < 3; i++) queued.push(await insertJob(accountA, endpoint, "IN_QUEUE"));
    queued.push(await insertJob(accountA, endpoint, "CANCELLED"));
  });

  it.each([
    ["read-only scoped key", () => readKey],
    ["legacy read key", () => legacyRead],
  ])("%s: run, runsync, cancel, retry and purge-queue leave the jobs table unchanged", async (_label, key) => {
    const before = await jobsSnapshot();
    expect(before.filter((row) => row.endpoint_id === endpoint && row.status === "IN_QUEUE")).toHaveLength(3);
    expectError(await post(`/v2/${endpoint}/run`, key(), { input: "x" }), 403, "INSUFFICIENT_SCOPE");
    expectError(await post(`/v2/${endpoint}/runsync?wait=100`, key(), { input: "x" }), 403, "INSUFFICIENT_SCOPE");
    expectError(await post(`/v2/${endpoint}/cancel/${queued[0]}`, key()), 403, "INSUFFICIENT_SCOPE");
    expectError(await post(`/v2/${endpoint}/retry/${queued[3]}`, key()), 403, "INSUFFICIENT_SCOPE");
    expectError(await post(`/v2/${endpoint}/purge-queue`, key()), 403, "INSUFFICIENT_SCOPE");
    // Another account's key, whatever it may do on its own endpoints.
    expectError(await post(`/v2/${endpoint}/purge-queue`, keyB.plaintext), 404, "NOT_FOUND");
    expectError(await post(`/v2/${endpoint}/cancel/${queued[0]}`, keyB.plaintext), 404, "NOT_FOUND");
    expectError(await post(`/v2/${endpoint}/run`, keyB.plaintext, { input: "x" }), 404, "NOT_FOUND");
    await sleep(20);
    expect(await jobsSnapshot()).toEqual(before);
  });

  afterAll(async () => {
    // Leave nothing queued for later tests.
    await rawRows("DELETE FROM jobs WHERE endpoint_id = ?", [endpoint]);
  });
});

describe("response shapes (SPEC §4)", () => {
  let endpoint = "";
  let key = "";
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "shapes");
    key = (await newKey(accountA, { endpointsAll: "read_write" })).plaintext;
  });

  it("health of a new endpoint", async () => {
    const reply = await get(`/v2/${endpoint}/health`, key);
    expect(reply.status).toBe(200);
    expect(reply.json.jobs).toEqual({ completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });
    expect(reply.json.workers).toMatchObject({ idle: expect.any(Number), running: expect.any(Number) });
    expect(Object.keys(reply.json).sort()).toEqual(["jobs", "workers"]);
  });

  it("run → {id, status: IN_QUEUE}", async () => {
    const reply = await post(`/v2/${endpoint}/run`, key, { input: { prompt: "hello" } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ id: expect.any(String), status: "IN_QUEUE" });
    const status = await get(`/v2/${endpoint}/status-sync/${reply.json.id as string}?wait=5000`, key);
    expect(status.json).toMatchObject({ id: reply.json.id, status: "COMPLETED", output: { prompt: "hello" } });
  });

  const input = { text: "héllo ✓ 🚀", list: [1, 2.5, -3, null, true, "x"], nested: { deep: { deeper: [] as unknown[] } }, empty: "" };
  let completed = "";

  it("runsync → {id, status: COMPLETED, output} with output = input", async () => {
    const reply = await post(`/v2/${endpoint}/runsync?wait=5000`, key, { input });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ id: expect.any(String), status: "COMPLETED" });
    expect(reply.json.output).toStrictEqual(input);
    completed = reply.json.id as string;
  });

  it.each([["a string"], [0], [null], [[1, 2]], [false]])("runsync echoes input %j exactly", async (value) => {
    const reply = await post(`/v2/${endpoint}/runsync?wait=5000`, key, { input: value });
    expect(reply.json.status).toBe("COMPLETED");
    expect(reply.json.output).toStrictEqual(value);
  });

  it("status → {id, status, output}", async () => {
    const reply = await get(`/v2/${endpoint}/status/${completed}`, key);
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ id: completed, status: "COMPLETED", output: input });
  });

  it("stream of a completed job → {status, stream: [{output}]}", async () => {
    const reply = await get(`/v2/${endpoint}/stream/${completed}`, key);
    expect(reply.json).toEqual({ status: "COMPLETED", stream: [{ output: input }] });
  });

  it("status-sync waits for the job to finish", async () => {
    await quiesce();
    const plane = await getDataPlane();
    const jobId = await insertJob(accountA, endpoint, "IN_QUEUE", { waited: true });
    const started = Date.now();
    const waking = sleep(250).then(() => plane.worker.wake());
    const reply = await get(`/v2/${endpoint}/status-sync/${jobId}?wait=5000`, key);
    await waking;
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(reply.json).toMatchObject({ id: jobId, status: "COMPLETED", output: { waited: true } });
  });

  it("status-sync returns after `wait` when the job is still queued; stream of a queued job is empty", async () => {
    await quiesce();
    const jobId = await insertJob(accountA, endpoint, "IN_QUEUE");
    const started = Date.now();
    const reply = await get(`/v2/${endpoint}/status-sync/${jobId}?wait=150`, key);
    const elapsed = Date.now() - started;
    expect(reply.json).toMatchObject({ id: jobId, status: "IN_QUEUE" });
    expect(reply.json.output).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1500);
    expect((await get(`/v2/${endpoint}/stream/${jobId}`, key)).json).toEqual({ status: "IN_QUEUE", stream: [] });
    expect((await get(`/v2/${endpoint}/status/${jobId}`, key)).json).toEqual({ id: jobId, status: "IN_QUEUE" });
  });

  it("purge-queue → {removed: n, status: completed}; purged jobs are cancelled, others untouched", async () => {
    // The job left queued by the test above is still queued: nothing woke the worker since.
    const [left] = await rawRows("SELECT count(*) AS n FROM jobs WHERE endpoint_id = ? AND status = 'IN_QUEUE'", [endpoint]);
    const queued = [await insertJob(accountA, endpoint, "IN_QUEUE"), await insertJob(accountA, endpoint, "IN_QUEUE")];
    const otherEndpointJob = await insertJob(accountA, epA2, "IN_QUEUE");
    const reply = await post(`/v2/${endpoint}/purge-queue`, key);
    expect(reply.json).toEqual({ removed: Number(left?.n) + 2, status: "completed" });
    for (const id of queued) expect(await jobStatus(id)).toBe("CANCELLED");
    expect(await jobStatus(completed)).toBe("COMPLETED");
    expect(await jobStatus(otherEndpointJob)).toBe("IN_QUEUE");
    expect((await post(`/v2/${endpoint}/purge-queue`, key)).json).toEqual({ removed: 0, status: "completed" });
    await rawRows("DELETE FROM jobs WHERE id = ?", [otherEndpointJob]);
  });

  it("retry of a COMPLETED job → 400 BAD_REQUEST, job unchanged", async () => {
    expectError(await post(`/v2/${endpoint}/retry/${completed}`, key), 400, "BAD_REQUEST");
    expect(await jobStatus(completed)).toBe("COMPLETED");
  });

  it("health counts the endpoint's jobs", async () => {
    const reply = await get(`/v2/${endpoint}/health`, key);
    expect(reply.json.jobs).toMatchObject({ inQueue: 0, inProgress: 0, failed: 0, retried: 0 });
    const [row] = await rawRows("SELECT count(*) AS n FROM jobs WHERE endpoint_id = ? AND status = 'COMPLETED'", [endpoint]);
    expect((reply.json.jobs as Json).completed).toBe(Number(row?.n));
    expect(Number(row?.n)).toBeGreaterThanOrEqual(7);
  });
});

describe("body and parameter rules", () => {
  let endpoint = "";
  let key = "";
  let otherEndpointJob = "";
  let otherAccountJob = "";
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "bodies");
    key = (await newKey(accountA, { endpointsAll: "read_write" })).plaintext;
    otherEndpointJob = await insertJob(accountA, epA2, "CANCELLED");
    otherAccountJob = await insertJob(accountB, epB1, "CANCELLED");
  });

  const raw = (path: string, body: string) => send(path, { method: "POST", authorization: bearer(key), body });

  it.each([
    ["larger than 1 MB", () => JSON.stringify({ input: "a".repeat(1_100_000) })],
    ["not JSON", () => "{input: 1"],
    ["empty", () => ""],
    ["JSON null", () => "null"],
    ["a JSON array", () => JSON.stringify([{ input: 1 }])],
    ["a JSON string", () => JSON.stringify("input")],
    ["missing input", () => JSON.stringify({ inputs: 1 })],
  ])("run and runsync with a body that is %s → 400, nothing enqueued", async (_label, body) => {
    const before = await jobsSnapshot();
    expectError(await raw(`/v2/${endpoint}/run`, body()), 400, "BAD_REQUEST");
    expectError(await raw(`/v2/${endpoint}/runsync?wait=100`, body()), 400, "BAD_REQUEST");
    expect(await jobsSnapshot()).toEqual(before);
  });

  it("a body of just under 1 MB is accepted", async () => {
    const reply = await raw(`/v2/${endpoint}/run`, JSON.stringify({ input: "a".repeat(990_000) }));
    expect(reply.status).toBe(200);
    await quiesce();
  });

  it.each(["abc", "-1", "1.5", "1e3", "", "0x10"])("wait=%j → 400", async (wait) => {
    const before = await jobsSnapshot();
    expectError(await raw(`/v2/${endpoint}/runsync?wait=${wait}`, JSON.stringify({ input: 1 })), 400, "BAD_REQUEST");
    expect(await jobsSnapshot()).toEqual(before);
    expectError(await get(`/v2/${epA2}/status-sync/${otherEndpointJob}?wait=${wait}`, key), 400, "BAD_REQUEST");
  });

  it.each(["status", "status-sync", "stream", "cancel", "retry"])("%s: a job of another endpoint or another account → 404, job unchanged", async (route) => {
    for (const jobId of [otherEndpointJob, otherAccountJob, randomUUID()]) {
      const path = `/v2/${endpoint}/${route}/${jobId}`;
      const reply = route === "cancel" || route === "retry" ? await post(path, key) : await get(path, key);
      expectError(reply, 404, "NOT_FOUND");
    }
    expect(await jobStatus(otherEndpointJob)).toBe("CANCELLED");
    expect(await jobStatus(otherAccountJob)).toBe("CANCELLED");
  });

  it.each([
    ["GET", "/v2/{ep}/unknown"],
    ["GET", "/v2/{ep}"],
    ["GET", "/v2"],
    ["GET", "/v2/{ep}/health/extra"],
    ["GET", "/v2/{ep}/status"],
    ["GET", "/v2/{ep}/status/a/b"],
    ["POST", "/v2/{ep}/run/extra"],
    ["GET", "/v2/{ep}/run"],
    ["POST", "/v2/{ep}/health"],
    ["GET", "/v2/{ep}/purge-queue"],
    ["GET", "/v2/{ep}/__proto__"],
    ["GET", "/v2/{ep}/constructor"],
    ["GET", "/v3/{ep}/health"],
    ["GET", "/v2/bad%20id/health"],
  ] as const)("%s %s → 404", async (method, template) => {
    const path = template.replace("{ep}", endpoint);
    const reply = method === "GET" ? await get(path, key) : await post(path, key, { input: 1 });
    expectError(reply, 404, "NOT_FOUND");
  });
});

describe("while another process holds the database's write lock", () => {
  let endpoint = "";
  let key = "";
  let jobId = "";
  let holder: InstanceType<typeof Database>;
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "locked");
    key = (await newKey(accountA, { endpointsAll: "read_write" })).plaintext;
    jobId = await insertJob(accountA, endpoint, "COMPLETED", { done: 1 });
    await quiesce();
    holder = new Database(testDatabasePath);
    holder.exec("BEGIN IMMEDIATE");
    holder.exec("UPDATE jobs SET retries = retries WHERE 0");
  });
  afterAll(() => {
    if (holder.inTransaction) holder.exec("ROLLBACK");
    holder.close();
  });

  it("read routes keep answering, fast", async () => {
    const started = Date.now();
    expect((await get(`/v2/${endpoint}/health`, key)).status).toBe(200);
    expect((await get(`/v2/${endpoint}/status/${jobId}`, key)).json).toMatchObject({ status: "COMPLETED", output: { done: 1 } });
    expect(Date.now() - started).toBeLessThan(200);
  });

  it.each([
    ["run", () => post(`/v2/${endpoint}/run`, key, { input: 1 })],
    ["purge-queue", () => post(`/v2/${endpoint}/purge-queue`, key)],
  ])("%s → 503 UNAVAILABLE with Retry-After after the busy timeout, no side effect", async (_route, send) => {
    const before = await jobsSnapshot();
    const started = Date.now();
    const reply = await send();
    expectError(reply, 503, "UNAVAILABLE");
    expect(reply.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(await jobsSnapshot()).toEqual(before);
  });

  it("after the other process commits, writes work again", async () => {
    holder.exec("COMMIT");
    // This process's background writers (rate-limit heartbeat, last-used flush) may be queued on
    // the lock that was just released; with this file's 250 ms busy timeout a write that queues
    // behind them can run out of time. Once they have gone, a request's write must work.
    const { database } = await getDataPlane();
    await expect.poll(() => database.writesWaiting, { timeout: 5_000 }).toBe(0);
    expect((await post(`/v2/${endpoint}/run`, key, { input: 1 })).status).toBe(200);
    await quiesce();
  });
});

// Last: stops this process's worker for good, so that jobs stay queued.
describe("with the worker stopped: cancel and retry", () => {
  let endpoint = "";
  let key = "";
  beforeAll(async () => {
    endpoint = await newEndpoint(accountA, "cancel");
    key = (await newKey(accountA, { endpointsAll: "read_write" })).plaintext;
    await quiesce();
    (await getDataPlane()).worker.stop();
  });

  it("run stays queued; cancel → {id, status: CANCELLED}; retry → {id, status: IN_QUEUE}, counted in health", async () => {
    const run = await post(`/v2/${endpoint}/run`, key, { input: { n: 1 } });
    expect(run.json).toEqual({ id: expect.any(String), status: "IN_QUEUE" });
    const id = run.json.id as string;
    await sleep(30);
    // A stopped worker must not take the job (and leave it IN_PROGRESS for ever).
    expect((await get(`/v2/${endpoint}/status/${id}`, key)).json).toEqual({ id, status: "IN_QUEUE" });

    const cancel = await post(`/v2/${endpoint}/cancel/${id}`, key);
    expect(cancel.json).toEqual({ id, status: "CANCELLED" });
    expect((await get(`/v2/${endpoint}/status/${id}`, key)).json).toMatchObject({ id, status: "CANCELLED" });
    expect((await get(`/v2/${endpoint}/health`, key)).json.jobs).toEqual({ completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });

    const retry = await post(`/v2/${endpoint}/retry/${id}`, key);
    expect(retry.json).toEqual({ id, status: "IN_QUEUE" });
    expect((await get(`/v2/${endpoint}/status/${id}`, key)).json).toEqual({ id, status: "IN_QUEUE" });
    expect((await get(`/v2/${endpoint}/health`, key)).json.jobs).toEqual({ completed: 0, failed: 0, inProgress: 0, inQueue: 1, retried: 1 });

    // A job that is no longer retryable: retry again → 400.
    expectError(await post(`/v2/${endpoint}/retry/${id}`, key), 400, "BAD_REQUEST");
    expect((await post(`/v2/${endpoint}/purge-queue`, key)).json).toEqual({ removed: 1, status: "completed" });
    expect((await get(`/v2/${endpoint}/status/${id}`, key)).json).toMatchObject({ id, status: "CANCELLED" });
  });

  it("runsync with a short wait answers with the job still queued", async () => {
    const reply = await post(`/v2/${endpoint}/runsync?wait=100`, key, { input: 1 });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ id: expect.any(String), status: "IN_QUEUE" });
  });
});

describe("per-account job quotas (JOB_QUEUE_MAX_PER_ACCOUNT = 20, JOB_QUEUE_MAX_BYTES_PER_ACCOUNT = 2500000)", () => {
  // With the worker stopped nothing finishes, so each account's unfinished jobs only grow.
  beforeAll(async () => {
    (await getDataPlane()).worker.stop();
  });

  const quotaRefusal = (reply: Reply, mentions: RegExp) => {
    expectError(reply, 429, "JOB_QUOTA_EXCEEDED");
    expect(reply.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((reply.json.error as Json).message).toMatch(mentions);
  };

  it("by count: the 20th unfinished job is accepted, the 21st refused with no side effect, on run and runsync; other accounts unaffected", async () => {
    const account = await newAccount("quota-count");
    const endpoint = await newEndpoint(account, "quota-count");
    const key = (await newKey(account, { endpointsAll: "read_write" })).plaintext;
    for (let i = 1; i <= 20; i++) expect((await post(`/v2/${endpoint}/run`, key, { input: i })).status).toBe(200);
    const before = await jobsSnapshot();
    quotaRefusal(await post(`/v2/${endpoint}/run`, key, { input: 21 }), /\b20 unfinished\b.*jobs/);
    quotaRefusal(await post(`/v2/${endpoint}/runsync?wait=100`, key, { input: 21 }), /\b20 unfinished\b.*jobs/);
    expect(await jobsSnapshot()).toEqual(before);
    // Another account is not refused.
    expect((await post(`/v2/${epB1}/run`, keyB.plaintext, { input: "b" })).status).toBe(200);
  });

  it("retry of a finished job obeys the same quota", async () => {
    const account = await newAccount("quota-retry");
    const endpoint = await newEndpoint(account, "quota-retry");
    const key = (await newKey(account, { endpointsAll: "read_write" })).plaintext;
    const ids: string[] = [];
    for (let i = 1; i <= 20; i++) ids.push((await post(`/v2/${endpoint}/run`, key, { input: i })).json.id as string);
    expect((await post(`/v2/${endpoint}/cancel/${ids[0]}`, key)).json).toMatchObject({ status: "CANCELLED" });
    expect((await post(`/v2/${endpoint}/run`, key, { input: 21 })).status).toBe(200);
    const before = await jobsSnapshot();
    quotaRefusal(await post(`/v2/${endpoint}/retry/${ids[0]}`, key), /\b20 unfinished\b.*jobs/);
    expect(await jobsSnapshot()).toEqual(before);
    expect(await jobStatus(ids[0]!)).toBe("CANCELLED");
    await post(`/v2/${endpoint}/cancel/${ids[1]}`, key);
    expect((await post(`/v2/${endpoint}/retry/${ids[0]}`, key)).json).toEqual({ id: ids[0], status: "IN_QUEUE" });
  });

  it("by input bytes, counted as UTF-8 bytes: up to 2,500,000 exactly is accepted, past it refused with no side effect", async () => {
    const account = await newAccount("quota-bytes");
    const endpoint = await newEndpoint(account, "quota-bytes");
    const key = (await newKey(account, { endpointsAll: "read_write" })).plaintext;
    const big = "a".repeat(990_000); // stored as 990,002 bytes of JSON
    expect((await post(`/v2/${endpoint}/run`, key, { input: big })).status).toBe(200);
    expect((await post(`/v2/${endpoint}/run`, key, { input: big })).status).toBe(200);
    const before = await jobsSnapshot();
    quotaRefusal(await post(`/v2/${endpoint}/run`, key, { input: big }), /\b2500000 bytes\b/);
    // 1,980,004 bytes queued; 519,996 left. 260,000 × é is 520,002 bytes but only 260,002
    // characters: refused, as a count of characters would not.
    quotaRefusal(await post(`/v2/${endpoint}/run`, key, { input: "é".repeat(260_000) }), /\b2500000 bytes\b/);
    expect(await jobsSnapshot()).toEqual(before);
    // 2 + 519,992 + 2 = 519,996 bytes: exactly the limit.
    expect((await post(`/v2/${endpoint}/run`, key, { input: `${"é".repeat(259_996)}aa` })).status).toBe(200);
    quotaRefusal(await post(`/v2/${endpoint}/run`, key, { input: 1 }), /\b2500000 bytes\b/);
  });
});

describe("no response carries a key or its hash", () => {
  it("checked over every response of this file", () => {
    expect(seen.length).toBeGreaterThan(300);
    const all = seen.join("\n");
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(hashKey(secret));
    }
  });
});
