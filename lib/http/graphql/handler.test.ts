import { countRows, rawRows, removeTestDatabase, testDatabasePath, uniqueEmail } from "@/testing/test-database";
import { randomInt } from "node:crypto";
import { getIntrospectionQuery, parse } from "graphql";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as route from "@/app/graphql/route";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, deleteApiKey, importLegacyApiKeys, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import { createPod } from "@/lib/dal/pods";
import { DatabaseUnavailableError } from "@/db/unavailable";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { createGraphqlHandler, handleGraphqlRequest } from "./handler";
import { GRAPHQL_LIMITS } from "./limits";

// Read before the first database call (readEnv caches): a write waiting for another
// connection's lock gives up quickly, so the 503 test does not take the default 2 s.
process.env.DATABASE_BUSY_TIMEOUT_MS = "200";

afterAll(removeTestDatabase);

// Every plaintext key and its hash: no response body, header or log line may contain one.
const secrets: string[] = [];
const logged: string[] = [];
for (const method of ["error", "warn", "log", "info"] as const) {
  vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
    logged.push(args.map(String).join(" "));
  });
}

afterAll(() => {
  const everything = logged.join("\n");
  for (const secret of secrets) expect(everything).not.toContain(secret);
});

function remember(plaintext: string): string {
  secrets.push(plaintext, hashKey(plaintext));
  return plaintext;
}

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

async function newScopedKey(accountId: string, graphql: AccessLevel, name = `graphql-${graphql}`): Promise<{ id: string; plaintext: string }> {
  const result = await createScopedApiKey(accountId, { name, scopes: { graphql, endpointsAll: "none", endpoints: {} } }, { type: "dashboard" });
  if (!result.ok) throw new Error(`setup failed: ${result.message}`);
  return { id: result.value.key.id, plaintext: remember(result.value.plaintext) };
}

const LEGACY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

async function newLegacyKey(accountId: string, permission: "read" | "read_write"): Promise<string> {
  const plaintext = Array.from({ length: 32 }, () => LEGACY_ALPHABET[randomInt(LEGACY_ALPHABET.length)]).join("");
  const result = await importLegacyApiKeys(accountId, [
    { line: 1, name: `legacy-${permission}`, permission, keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") },
  ], { type: "dashboard" });
  if (!result.ok) throw new Error(`setup failed: ${result.message}`);
  return remember(plaintext);
}

async function newEndpointId(accountId: string, name: string): Promise<string> {
  const result = await createEndpoint(accountId, name, { type: "dashboard" });
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

async function newPodId(accountId: string, name: string): Promise<string> {
  const result = await createPod(accountId, name);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

// Response bodies are checked field by field below; a loose type keeps those checks readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
type Reply = { status: number; headers: Headers; text: string; json: Json };

async function send(request: Request, handler: (request: Request) => Promise<Response> = handleGraphqlRequest): Promise<Reply> {
  const response = await handler(request);
  const text = await response.text();
  const headerText = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    expect(headerText).not.toContain(secret);
  }
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
  return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
}

function postRequest(key: string | null, body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request("http://test/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
    body,
  });
}

function gql(key: string | null, query: string, extra: { variables?: unknown; operationName?: unknown } = {}): Promise<Reply> {
  return send(postRequest(key, JSON.stringify({ query, ...extra })));
}

function expectApiError(reply: Reply, status: number, code: string): void {
  expect(reply.status).toBe(status);
  // SPEC §4: a 403 explains itself — the GraphQL scope, the access the operation needs, and the key's level.
  if (code === "INSUFFICIENT_SCOPE") {
    expect(reply.json).toEqual({
      error: {
        code,
        message: expect.stringMatching(/^This key has (None|Read) on GraphQL; this request needs (Read|Read \/ Write)\.$/),
        required: { resource: "graphql", access: expect.stringMatching(/^read(_write)?$/) },
        granted: expect.stringMatching(/^(none|read)$/),
      },
    });
  } else expect(reply.json).toEqual({ error: { code, message: expect.any(String) } });
  expect(reply.headers.get("www-authenticate")).toBe(status === 401 ? "Bearer" : null);
  if (status === 503) expect(reply.headers.get("retry-after")).toMatch(/^\d+$/);
}

function expectBadRequest(reply: Reply, message?: RegExp): void {
  expect(reply.status).toBe(400);
  expect(reply.json).toEqual({
    error: { code: "BAD_REQUEST", message: expect.any(String) },
    errors: expect.arrayContaining([expect.objectContaining({ message: expect.any(String) })]),
  });
  expect(reply.json.error.message).toBe(reply.json.errors[0].message);
  if (message) expect(reply.json.errors.map((error: { message: string }) => error.message).join("\n")).toMatch(message);
}

let accountA = "";
let accountB = "";
const keys = {} as Record<"none" | "read" | "readWrite" | "legacyRead" | "legacyReadWrite" | "disabled" | "deleted" | "badChecksum" | "otherReadWrite", string>;
let endpointB = "";
let podB = "";
let readWriteKeyId = "";

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
  keys.none = (await newScopedKey(accountA, "none")).plaintext;
  keys.read = (await newScopedKey(accountA, "read")).plaintext;
  const readWrite = await newScopedKey(accountA, "read_write");
  keys.readWrite = readWrite.plaintext;
  readWriteKeyId = readWrite.id;
  keys.legacyRead = await newLegacyKey(accountA, "read");
  keys.legacyReadWrite = await newLegacyKey(accountA, "read_write");
  const disabled = await newScopedKey(accountA, "read_write", "disabled");
  await setApiKeyEnabled(accountA, disabled.id, false, { type: "dashboard" });
  keys.disabled = disabled.plaintext;
  const deleted = await newScopedKey(accountA, "read_write", "deleted");
  await deleteApiKey(accountA, deleted.id, { type: "dashboard" });
  keys.deleted = deleted.plaintext;
  // Right shape, wrong checksum: refused without a database read.
  keys.badChecksum = keys.readWrite.slice(0, -1) + (keys.readWrite.endsWith("0") ? "1" : "0");
  keys.otherReadWrite = (await newScopedKey(accountB, "read_write")).plaintext;
  endpointB = await newEndpointId(accountB, "b-endpoint");
  podB = await newPodId(accountB, "b-pod");
});

const rowCounts = async (accountId: string) => ({
  endpoints: await countRows("endpoints", "account_id = ?", [accountId]),
  pods: await countRows("pods", "account_id = ?", [accountId]),
});

describe("authorization: the graphql scope gates each operation before it runs", () => {
  const QUERY = "{ myself { id endpoints { id } pods { id } } }";
  const MUTATION = 'mutation { saveEndpoint(input: {name: "matrix"}) { id } podCreate(input: {name: "matrix"}) { id } }';

  it.each([
    ["scoped none", "none", "query", 403, "INSUFFICIENT_SCOPE"],
    ["scoped none", "none", "mutation", 403, "INSUFFICIENT_SCOPE"],
    ["scoped read", "read", "query", 200, null],
    ["scoped read", "read", "mutation", 403, "INSUFFICIENT_SCOPE"],
    ["scoped read_write", "readWrite", "query", 200, null],
    ["scoped read_write", "readWrite", "mutation", 200, null],
    ["legacy read", "legacyRead", "query", 200, null],
    ["legacy read", "legacyRead", "mutation", 403, "INSUFFICIENT_SCOPE"],
    ["legacy read_write", "legacyReadWrite", "query", 200, null],
    ["legacy read_write", "legacyReadWrite", "mutation", 200, null],
    ["disabled", "disabled", "query", 401, "KEY_DISABLED"],
    ["disabled", "disabled", "mutation", 401, "KEY_DISABLED"],
    ["deleted", "deleted", "query", 401, "UNAUTHENTICATED"],
    ["deleted", "deleted", "mutation", 401, "UNAUTHENTICATED"],
    ["wrong checksum", "badChecksum", "query", 401, "UNAUTHENTICATED"],
    ["wrong checksum", "badChecksum", "mutation", 401, "UNAUTHENTICATED"],
  ] as const)("%s key (%s): %s → %i %s", async (_label, keyName, operation, status, code) => {
    const before = await rowCounts(accountA);
    const reply = await gql(keys[keyName], operation === "query" ? QUERY : MUTATION);
    const after = await rowCounts(accountA);
    if (code) {
      expectApiError(reply, status, code);
      expect(after).toEqual(before);
    } else {
      expect(reply.status).toBe(200);
      expect(reply.json.errors).toBeUndefined();
      if (operation === "mutation") {
        expect(reply.json.data).toEqual({ saveEndpoint: { id: expect.any(String) }, podCreate: { id: expect.any(String) } });
        expect(after).toEqual({ endpoints: before.endpoints + 1, pods: before.pods + 1 });
      } else {
        expect(reply.json.data.myself.id).toBe(accountA);
        expect(after).toEqual(before);
      }
    }
  });

  it.each([
    ["no Authorization header", null],
    ["a non-Bearer scheme", "Basic dXNlcjpwYXNz"],
    ["Bearer without a key", "Bearer "],
    ["garbage", "Bearer not-a-key"],
    ["an oversized key", `Bearer rpa_${"A".repeat(5000)}`],
  ])("%s → 401 UNAUTHENTICATED with WWW-Authenticate: Bearer", async (_label, authorization) => {
    const request = new Request("http://test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization === null ? {} : { authorization }) },
      body: JSON.stringify({ query: "{ pods { id } }" }),
    });
    expectApiError(await send(request), 401, "UNAUTHENTICATED");
  });

  it("accepts the Bearer scheme in any case", async () => {
    const reply = await send(postRequest(null, JSON.stringify({ query: "{ pods { id } }" }), { authorization: `bEaReR ${keys.read}` }));
    expect(reply.status).toBe(200);
  });

  it("gates a mutation picked by operationName in a multi-operation document as a mutation", async () => {
    const document = 'query Look { pods { id } } mutation Sneak { podCreate(input: {name: "sneaky"}) { id } }';
    const before = await rowCounts(accountA);

    expectApiError(await gql(keys.read, document, { operationName: "Sneak" }), 403, "INSUFFICIENT_SCOPE");
    expect(await rowCounts(accountA)).toEqual(before);

    const look = await gql(keys.read, document, { operationName: "Look" });
    expect(look.status).toBe(200);
    expect(look.json.data.pods).toEqual(expect.any(Array));
    expect(await rowCounts(accountA)).toEqual(before);

    const sneak = await gql(keys.readWrite, document, { operationName: "Sneak" });
    expect(sneak.status).toBe(200);
    expect(await rowCounts(accountA)).toEqual({ ...before, pods: before.pods + 1 });
  });

  it("refuses a read key's mutation before looking at the document any further", async () => {
    const reply = await gql(keys.read, "mutation { podCreate(input: {name: 1}) { nope } }");
    expectApiError(reply, 403, "INSUFFICIENT_SCOPE");
  });

  it("answers a deleted key exactly like a key that never existed", async () => {
    const deleted = await gql(keys.deleted, "{ pods { id } }");
    const unknown = await gql(`rpa_${"0".repeat(36)}`, "{ pods { id } }");
    expect(deleted.json).toEqual(unknown.json);
  });
});

describe("account isolation: a key reads and writes only its own account", () => {
  it("myself returns the key's own account, endpoints and pods only", async () => {
    const ownEndpoint = await newEndpointId(accountA, "a-own-endpoint");
    const ownPod = await newPodId(accountA, "a-own-pod");
    const reply = await gql(keys.read, "{ myself { id email endpoints { id name createdAt } pods { id name status createdAt } } pods { id } }");
    expect(reply.status).toBe(200);
    const { myself, pods } = reply.json.data;
    expect(myself.id).toBe(accountA);
    expect(myself.email).toMatch(/^a-\d+-\d+@example\.test$/);
    const [endpointRows, podRows] = [
      await rawRows("SELECT id FROM endpoints WHERE account_id = ?", [accountA]),
      await rawRows("SELECT id FROM pods WHERE account_id = ?", [accountA]),
    ];
    expect(myself.endpoints.map((e: { id: string }) => e.id).sort()).toEqual(endpointRows.map((row) => row.id).sort());
    expect(myself.pods.map((p: { id: string }) => p.id).sort()).toEqual(podRows.map((row) => row.id).sort());
    expect(pods.map((p: { id: string }) => p.id).sort()).toEqual(podRows.map((row) => row.id).sort());
    expect(myself.endpoints.map((e: { id: string }) => e.id)).toContain(ownEndpoint);
    expect(myself.pods.map((p: { id: string }) => p.id)).toContain(ownPod);
    expect(reply.text).not.toContain(endpointB);
    expect(reply.text).not.toContain(podB);
    for (const endpoint of myself.endpoints) expect(new Date(endpoint.createdAt).toISOString()).toBe(endpoint.createdAt);
    for (const pod of myself.pods) expect(new Date(pod.createdAt).toISOString()).toBe(pod.createdAt);
  });

  it("endpoint(id): own → the endpoint; another account's or unknown → null", async () => {
    const own = await newEndpointId(accountA, "lookup");
    const query = "query ($id: String!) { endpoint(id: $id) { id name createdAt } }";
    const ownReply = await gql(keys.read, query, { variables: { id: own } });
    expect(ownReply.json).toEqual({ data: { endpoint: { id: own, name: "lookup", createdAt: expect.any(String) } } });
    for (const id of [endpointB, "nosuchendpoint00", ""]) {
      const reply = await gql(keys.read, query, { variables: { id } });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ data: { endpoint: null } });
    }
  });

  it("saveEndpoint with another account's id is NOT_FOUND and leaves that endpoint unchanged", async () => {
    const before = await rawRows("SELECT * FROM endpoints WHERE id = ?", [endpointB]);
    const reply = await gql(keys.readWrite, "mutation ($id: String) { saveEndpoint(input: {id: $id, name: \"hijacked\"}) { id name } }", {
      variables: { id: endpointB },
    });
    expect(reply.status).toBe(200);
    expect(reply.json.data).toBeNull();
    expect(reply.json.errors).toEqual([expect.objectContaining({ message: expect.any(String), path: ["saveEndpoint"], extensions: { code: "NOT_FOUND" } })]);
    expect(await rawRows("SELECT * FROM endpoints WHERE id = ?", [endpointB])).toEqual(before);
    expect(await countRows("endpoints", "name = 'hijacked'")).toBe(0);
  });

  it("deleteEndpoint with another account's id is NOT_FOUND and deletes nothing", async () => {
    const reply = await gql(keys.readWrite, `mutation { deleteEndpoint(id: "${endpointB}") }`);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ data: null, errors: [expect.objectContaining({ path: ["deleteEndpoint"], extensions: { code: "NOT_FOUND" } })] });
    expect(await countRows("endpoints", "id = ? AND account_id = ?", [endpointB, accountB])).toBe(1);
  });

  it("podTerminate with another account's id is NOT_FOUND and the pod keeps running", async () => {
    const reply = await gql(keys.readWrite, `mutation { podTerminate(id: "${podB}") }`);
    expect(reply.json).toEqual({ data: null, errors: [expect.objectContaining({ path: ["podTerminate"], extensions: { code: "NOT_FOUND" } })] });
    expect(await rawRows("SELECT status, account_id FROM pods WHERE id = ?", [podB])).toEqual([{ status: "RUNNING", account_id: accountB }]);
  });

  it("the other account still sees its own data, untouched", async () => {
    const reply = await gql(keys.otherReadWrite, "{ myself { id endpoints { id name } pods { id name status } } }");
    expect(reply.json.data.myself).toEqual({
      id: accountB,
      endpoints: [{ id: endpointB, name: "b-endpoint" }],
      pods: [{ id: podB, name: "b-pod", status: "RUNNING" }],
    });
  });
});

describe("mutations", () => {
  it("creates, renames and deletes an endpoint", async () => {
    const created = await gql(keys.readWrite, 'mutation { saveEndpoint(input: {name: "  first  "}) { id name createdAt } }');
    expect(created.status).toBe(200);
    const endpoint = created.json.data.saveEndpoint;
    expect(endpoint).toEqual({ id: expect.stringMatching(/^[0-9a-z]{16}$/), name: "first", createdAt: expect.any(String) });
    expect(new Date(endpoint.createdAt).toISOString()).toBe(endpoint.createdAt);
    expect(await rawRows("SELECT account_id, name FROM endpoints WHERE id = ?", [endpoint.id])).toEqual([{ account_id: accountA, name: "first" }]);

    const renamed = await gql(keys.readWrite, "mutation ($input: EndpointInput!) { saveEndpoint(input: $input) { id name createdAt } }", {
      variables: { input: { id: endpoint.id, name: "second" } },
    });
    expect(renamed.json).toEqual({ data: { saveEndpoint: { ...endpoint, name: "second" } } });

    const read = await gql(keys.read, `{ endpoint(id: "${endpoint.id}") { name } }`);
    expect(read.json).toEqual({ data: { endpoint: { name: "second" } } });

    const deleted = await gql(keys.readWrite, `mutation { deleteEndpoint(id: "${endpoint.id}") }`);
    expect(deleted.json).toEqual({ data: { deleteEndpoint: true } });
    expect(await countRows("endpoints", "id = ?", [endpoint.id])).toBe(0);

    const again = await gql(keys.readWrite, `mutation { deleteEndpoint(id: "${endpoint.id}") }`);
    expect(again.json.errors[0].extensions).toEqual({ code: "NOT_FOUND" });
  });

  it("records the request's key as the actor of every change it makes, in the audit log", async () => {
    const actorsOf = async (endpointId: string) =>
      (await rawRows("SELECT action, actor FROM audit_log WHERE account_id = ? AND target_id = ? ORDER BY id", [accountA, endpointId])).map((row) => ({
        action: row.action,
        actor: JSON.parse(String(row.actor)),
      }));
    const created = await gql(keys.readWrite, 'mutation { saveEndpoint(input: {name: "audited"}) { id } }');
    const id: string = created.json.data.saveEndpoint.id;
    await gql(keys.readWrite, `mutation { saveEndpoint(input: {id: "${id}", name: "audited-2"}) { id } }`);
    await gql(keys.readWrite, `mutation { deleteEndpoint(id: "${id}") }`);
    const byKey = { type: "api_key", keyId: readWriteKeyId, keyName: "graphql-read_write" };
    expect(await actorsOf(id)).toEqual([
      { action: "endpoint.created", actor: byKey },
      { action: "endpoint.renamed", actor: byKey },
      { action: "endpoint.deleted", actor: byKey },
    ]);

    // A legacy key is named the same way, by its own id.
    const legacy = await gql(keys.legacyReadWrite, 'mutation { saveEndpoint(input: {name: "audited-legacy"}) { id } }');
    const legacyEndpoint: string = legacy.json.data.saveEndpoint.id;
    const [legacyKey] = await rawRows("SELECT id FROM api_keys WHERE account_id = ? AND name = 'legacy-read_write'", [accountA]);
    expect(await actorsOf(legacyEndpoint)).toEqual([
      { action: "endpoint.created", actor: { type: "api_key", keyId: legacyKey?.id, keyName: "legacy-read_write" } },
    ]);
    const actors = JSON.stringify(await rawRows("SELECT actor FROM audit_log"));
    for (const secret of secrets) expect(actors).not.toContain(secret);
  });

  it.each([
    ["empty", "", /^Name is required/],
    ["blank", "   ", /^Name is required/],
    ["too long", "x".repeat(65), /^Name must be at most 64 characters/],
  ])("refuses a %s name with a GraphQL error, creating nothing", async (_label, name, message) => {
    const before = await rowCounts(accountA);
    for (const mutation of [
      "mutation ($name: String!) { saveEndpoint(input: {name: $name}) { id } }",
      "mutation ($name: String!) { podCreate(input: {name: $name}) { id } }",
    ]) {
      const reply = await gql(keys.readWrite, mutation, { variables: { name } });
      expect(reply.status).toBe(200);
      expect(reply.json.data).toBeNull();
      expect(reply.json.errors).toHaveLength(1);
      expect(reply.json.errors[0].message).toMatch(message);
      expect(reply.json.errors[0].extensions).toEqual({ code: "BAD_REQUEST" });
    }
    expect(await rowCounts(accountA)).toEqual(before);
  });

  it("refuses to rename an endpoint to an invalid name and leaves it unchanged", async () => {
    const id = await newEndpointId(accountA, "keep-name");
    const reply = await gql(keys.readWrite, `mutation { saveEndpoint(input: {id: "${id}", name: " "}) { id } }`);
    expect(reply.json.errors[0].extensions).toEqual({ code: "BAD_REQUEST" });
    expect(await rawRows("SELECT name FROM endpoints WHERE id = ?", [id])).toEqual([{ name: "keep-name" }]);
  });

  it("creates and terminates a pod", async () => {
    const created = await gql(keys.readWrite, "mutation ($input: PodInput!) { podCreate(input: $input) { id name status createdAt } }", {
      variables: { input: { name: "trainer" } },
    });
    const pod = created.json.data.podCreate;
    expect(pod).toEqual({ id: expect.stringMatching(/^[0-9a-z]{16}$/), name: "trainer", status: "RUNNING", createdAt: expect.any(String) });

    const terminated = await gql(keys.readWrite, `mutation { podTerminate(id: "${pod.id}") }`);
    expect(terminated.json).toEqual({ data: { podTerminate: true } });

    const listed = await gql(keys.read, "{ pods { id status } myself { pods { id status } } }");
    expect(listed.json.data.pods).toContainEqual({ id: pod.id, status: "TERMINATED" });
    expect(listed.json.data.myself.pods).toContainEqual({ id: pod.id, status: "TERMINATED" });
    expect(await rawRows("SELECT account_id, status FROM pods WHERE id = ?", [pod.id])).toEqual([{ account_id: accountA, status: "TERMINATED" }]);
  });

  it("refuses variables that do not fit the operation with a 400, before anything runs", async () => {
    const before = await rowCounts(accountA);
    const reply = await gql(keys.readWrite, "mutation ($input: PodInput!) { podCreate(input: $input) { id } }", { variables: { input: { name: 42 } } });
    expectBadRequest(reply, /\$input/);
    expectBadRequest(await gql(keys.readWrite, "mutation ($input: PodInput!) { podCreate(input: $input) { id } }"), /\$input/);
    expect(await rowCounts(accountA)).toEqual(before);
  });

  it("runs the mutations of one operation in order, each for the key's account", async () => {
    const reply = await gql(keys.readWrite, 'mutation { one: podCreate(input: {name: "p1"}) { name } two: podCreate(input: {name: "p2"}) { name } }');
    expect(reply.json).toEqual({ data: { one: { name: "p1" }, two: { name: "p2" } } });
  });
});

describe("invalid requests: described only to a caller who may read", () => {
  const invalidBodies: [string, BodyInit][] = [
    ["malformed JSON", "{"],
    ["an empty body", ""],
    ["a JSON array", "[]"],
    ["a non-string query", JSON.stringify({ query: 42 })],
    ["variables as an array", JSON.stringify({ query: "{ pods { id } }", variables: [] })],
    ["a non-string operationName", JSON.stringify({ query: "{ pods { id } }", operationName: 5 })],
    ["a syntax error", JSON.stringify({ query: "{ pods { id " })],
    ["an unknown field", JSON.stringify({ query: "{ apiKeys { id } }" })],
    ["no operation", JSON.stringify({ query: "fragment F on Query { pods { id } }" })],
    ["several operations and no operationName", JSON.stringify({ query: "query A { pods { id } } query B { pods { name } }" })],
    ["an unknown operationName", JSON.stringify({ query: "query A { pods { id } }", operationName: "B" })],
    ["a subscription", JSON.stringify({ query: "subscription { pods { id } }" })],
    ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ];

  it.each(invalidBodies)("%s → 400 with both error shapes for a read key", async (_label, body) => {
    expectBadRequest(await send(postRequest(keys.read, body)));
  });

  it.each(invalidBodies)("%s → 401 without a key, 401 for garbage, 403 for a key without graphql", async (_label, body) => {
    expectApiError(await send(postRequest(null, body)), 401, "UNAUTHENTICATED");
    expectApiError(await send(postRequest("garbage", body)), 401, "UNAUTHENTICATED");
    expectApiError(await send(postRequest(keys.disabled, body)), 401, "KEY_DISABLED");
    expectApiError(await send(postRequest(keys.none, body)), 403, "INSUFFICIENT_SCOPE");
  });

  it("accepts null variables and operationName, as several clients send them", async () => {
    const reply = await gql(keys.read, "{ pods { id } }", { variables: null, operationName: null });
    expect(reply.status).toBe(200);
  });

  describe("body size", () => {
    const query = "{ pods { id } }";
    const padded = (bytes: number) => {
      const base = JSON.stringify({ query, variables: { pad: "" } });
      return JSON.stringify({ query, variables: { pad: "x".repeat(bytes - base.length) } });
    };

    it("accepts a body of exactly the limit", async () => {
      const body = padded(GRAPHQL_LIMITS.maxBodyBytes);
      expect(Buffer.byteLength(body)).toBe(100 * 1024);
      expect((await send(postRequest(keys.read, body))).status).toBe(200);
    });

    it("refuses one byte more: 400 with a key, 401 without", async () => {
      const body = padded(GRAPHQL_LIMITS.maxBodyBytes + 1);
      expectBadRequest(await send(postRequest(keys.read, body)), /102400 bytes/);
      expectApiError(await send(postRequest(null, body)), 401, "UNAUTHENTICATED");
    });

    it("refuses a declared Content-Length over the limit without reading the body", async () => {
      const reply = await send(postRequest(keys.read, JSON.stringify({ query }), { "content-length": String(200 * 1024) }));
      expectBadRequest(reply, /102400 bytes/);
    });

    it("counts what actually arrives when the declared length is small", async () => {
      const big = new TextEncoder().encode(padded(300 * 1024));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < big.length; offset += 16 * 1024) controller.enqueue(big.slice(offset, offset + 16 * 1024));
          controller.close();
        },
      });
      const request = new Request("http://test/graphql", {
        method: "POST",
        headers: { authorization: `Bearer ${keys.read}`, "content-type": "application/json", "content-length": "20" },
        body: stream,
        duplex: "half",
      } as RequestInit);
      expectBadRequest(await send(request), /102400 bytes/);
    });
  });

  it.each(["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])("%s → 405 with Allow: POST", async (method) => {
    const reply = await send(new Request("http://test/graphql?query=%7Bpods%7Bid%7D%7D", { method, headers: { authorization: `Bearer ${keys.read}` } }));
    expect(reply.status).toBe(405);
    expect(reply.headers.get("allow")).toBe("POST");
    expect(reply.json).toEqual({ error: { code: "BAD_REQUEST", message: expect.any(String) } });
  });
});

describe("limits", () => {
  const aliases = (count: number, field = "email") => Array.from({ length: count }, (_, i) => `f${i}: ${field}`).join(" ");
  const DEPTH_9 = "{ myself { endpoints { a { b { c { d { e { f { g } } } } } } } } }";

  it("refuses depth 9 with a 400 to a read key, and says nothing to a caller without one", async () => {
    expectBadRequest(await gql(keys.read, DEPTH_9), /too deep: at most 8/);
    expectApiError(await gql(null, DEPTH_9), 401, "UNAUTHENTICATED");
    expectApiError(await gql(keys.none, DEPTH_9), 403, "INSUFFICIENT_SCOPE");
  });

  it("lets a document of depth 8 through to validation", async () => {
    const reply = await gql(keys.read, "{ myself { endpoints { a { b { c { d { e { f } } } } } } } }");
    expectBadRequest(reply);
    expect(reply.text).not.toMatch(/too deep/);
  });

  it("allows 200 field selections and refuses 201, aliases counted", async () => {
    expect((await gql(keys.read, `{ myself { ${aliases(199)} } }`)).status).toBe(200);
    expectBadRequest(await gql(keys.read, `{ myself { ${aliases(200)} } }`), /Too many fields: at most 200/);
  });

  it("counts fields with fragments expanded", async () => {
    const fragment = `fragment Twenty on User { ${aliases(20)} }`;
    expect((await gql(keys.read, `{ myself { ${"...Twenty ".repeat(9)} } } ${fragment}`)).status).toBe(200);
    expectBadRequest(await gql(keys.read, `{ myself { ${"...Twenty ".repeat(10)} } } ${fragment}`), /Too many fields/);
    const inline = `{ myself { ${"... on User { email } ".repeat(200)} } }`;
    expectBadRequest(await gql(keys.read, inline), /Too many fields/);
  });

  it("stops counting early on exponentially expanding fragments", async () => {
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment U${i} on User { ...U${i + 1} ...U${i + 1} }`).join(" ");
    expectBadRequest(await gql(keys.read, `{ myself { ...U0 } } ${fragments} fragment U40 on User { id }`), /Too many fields/);
  });

  it("refuses fragment cycles without looping", async () => {
    const mesh = Array.from({ length: 30 }, (_, i) => `fragment M${i} on User { ${Array.from({ length: 30 }, (_, j) => `...M${j}`).join(" ")} }`).join(" ");
    expectBadRequest(await gql(keys.read, `{ myself { ...M0 } } ${mesh}`), /within itself/);
    expectBadRequest(await gql(keys.read, "{ myself { ...A } } fragment A on User { id ...B } fragment B on User { email ...A }"));
  });

  it("allows 10 root fields and refuses 11", async () => {
    expect((await gql(keys.read, `{ ${aliases(10, "pods { id }")} }`)).status).toBe(200);
    expectBadRequest(await gql(keys.read, `{ ${aliases(11, "pods { id }")} }`), /Too many root fields: at most 10/);
    expectBadRequest(await gql(keys.read, `{ ${aliases(11, "__typename")} }`), /root fields/);
  });

  it("refuses a document of more tokens than any legitimate one needs", async () => {
    const query = `{ pods { id } } ${"fragment F on Query { pods { id } } ".repeat(600)}`;
    expect(Buffer.byteLength(query)).toBeLessThan(GRAPHQL_LIMITS.maxQueryBytes);
    expectBadRequest(await gql(keys.read, query), /more that 5000 tokens/);
  });
});

describe("document limits: the whole document is bounded, and only what would run is validated", () => {
  const named = (count: number, from = 0) => Array.from({ length: count }, (_, i) => `query Q${from + i} { __typename }`).join(" ");
  const fragments = (count: number) => Array.from({ length: count }, (_, i) => `fragment F${i} on User { id }`).join(" ");
  // The attack from the review: one small named operation and ~1,240 unused ones in about 17 KB,
  // under the token limit. One of the unused operations is invalid: an error about it would mean
  // graphql-js validated it.
  const ATTACK = `query Run { pods { id } } query Bad { apiKeys { id } } ${"{__typename} ".repeat(1240)}`;
  const { maxOperations, maxFragments, maxDefinitions, maxQueryBytes } = GRAPHQL_LIMITS;
  const padTo = (query: string, bytes: number, pad = " ") => query + pad.repeat((bytes - Buffer.byteLength(query)) / Buffer.byteLength(pad));

  it("the documents below are what their labels say", () => {
    // The attack gets past the body, byte and token limits: only the operations limit stops it.
    expect(Buffer.byteLength(ATTACK)).toBeGreaterThan(16_000);
    expect(Buffer.byteLength(ATTACK)).toBeLessThan(maxQueryBytes);
    expect(parse(ATTACK, { maxTokens: GRAPHQL_LIMITS.maxTokens }).definitions).toHaveLength(1242);
    expect(Buffer.byteLength(padTo("{ pods { id } }", maxQueryBytes))).toBe(maxQueryBytes);
    expect(Buffer.byteLength(padTo("{ pods { id } } ##", maxQueryBytes, "é"))).toBe(maxQueryBytes);
  });

  const refused: [string, string, string | undefined, RegExp][] = [
    ["the attack document, operationName picking the small one", ATTACK, "Run", /^Too many operations: at most 20 per document\.$/],
    ["the attack document without operationName", ATTACK, undefined, /^Too many operations: at most 20/],
    [`${maxOperations + 1} named operations`, named(maxOperations + 1), "Q0", /^Too many operations: at most 20/],
    [`${maxFragments + 1} fragments, one of them invalid`, `{ myself { ...F0 } } ${fragments(maxFragments)} fragment Bad on User { nope }`, undefined, /^Too many fragments: at most 50 per document\.$/],
    [
      `${maxDefinitions + 1} definitions (15 operations, 46 fragments), one of them invalid`,
      `query Run { myself { ...F0 } } ${named(14)} ${fragments(45)} fragment Bad on User { nope }`,
      "Run",
      /^Too many definitions: at most 60 operations and fragments per document\.$/,
    ],
    ["a query string one byte over the limit", padTo("{ pods { id } }", maxQueryBytes + 1), undefined, /^Query too long: at most 32768 bytes per document\.$/],
    // 16,384 two-byte characters: under the limit in UTF-16 code units, over it in bytes.
    ["a query string over the limit in UTF-8 bytes", `{ pods { id } } # ${"é".repeat(maxQueryBytes / 2)}`, undefined, /^Query too long/],
    ["a type definition beside the operation", "{ pods { id } } type Foo { a: Int }", undefined, /^The "Foo" definition is not executable\.$/],
    ["an anonymous operation beside the named one that runs", "query Run { pods { id } } { myself { id } }", "Run", /^This anonymous operation must be the only defined operation\.$/],
    ["two operations of the same name", "query Q { pods { id } } query Q { myself { id } }", "Q", /^There can be only one operation named "Q"\.$/],
    ["two fragments of the same name, both spread", "{ myself { ...F } } fragment F on User { id } fragment F on User { email }", undefined, /only one fragment named "F"/],
    ["an invalid fragment the operation spreads through another", "{ myself { ...A } } fragment A on User { id ...B } fragment B on User { apiKeys }", undefined, /Cannot query field "apiKeys"/],
    ["an invalid fragment spread inside an inline fragment", "{ myself { ... on User { ...B } } } fragment B on User { nope }", undefined, /Cannot query field "nope"/],
  ];

  it.each(refused)("%s → 400 naming the problem for a read key", async (_label, query, operationName, message) => {
    const reply = await gql(keys.read, query, { operationName });
    expectBadRequest(reply, message);
    expect(reply.json.errors).toHaveLength(1);
  });

  it.each(refused)("%s → the key's denial, not the limit, for a caller without GraphQL read", async (_label, query, operationName) => {
    expectApiError(await gql(null, query, { operationName }), 401, "UNAUTHENTICATED");
    expectApiError(await gql(keys.disabled, query, { operationName }), 401, "KEY_DISABLED");
    expectApiError(await gql(keys.none, query, { operationName }), 403, "INSUFFICIENT_SCOPE");
  });

  it("authorizes the operation that would run before describing the document: a read key's mutation gets 403", async () => {
    const oversized = `mutation Make { podCreate(input: {name: "never"}) { id } } ${named(maxOperations)}`;
    const before = await rowCounts(accountA);
    expectApiError(await gql(keys.read, oversized, { operationName: "Make" }), 403, "INSUFFICIENT_SCOPE");
    expectBadRequest(await gql(keys.readWrite, oversized, { operationName: "Make" }), /Too many operations/);
    expect(await rowCounts(accountA)).toEqual(before);
  });

  it("refuses a mutation hiding behind a query of the same name, whichever key, and runs nothing", async () => {
    const document = 'query Q { pods { id } } mutation Q { podCreate(input: {name: "hidden"}) { id } }';
    const before = await rowCounts(accountA);
    for (const key of [keys.read, keys.readWrite]) expectBadRequest(await gql(key, document, { operationName: "Q" }), /only one operation named "Q"/);
    expect(await rowCounts(accountA)).toEqual(before);
  });

  // Expected data as thunks: the account ids are known only once `beforeAll` has run.
  const pods = () => ({ pods: expect.any(Array) });
  const me = () => ({ myself: { id: accountA } });
  const chain = (count: number) => Array.from({ length: count }, (_, i) => `fragment F${i} on User { id ${i + 1 < count ? `...F${i + 1}` : ""} }`).join(" ");
  const spreads = (count: number) => Array.from({ length: count }, (_, i) => `...F${i}`).join(" ");
  const accepted: [string, string, string | undefined, () => Json][] = [
    ["an invalid operation that does not run", "query Run { pods { id } } query Bad { apiKeys { id } }", "Run", pods],
    ["an invalid fragment nothing spreads", "query { myself { ...Used } } fragment Used on User { id } fragment Unused on User { apiKeys { id } }", undefined, me],
    ["a fragment only another operation spreads", "query Mine { myself { ...F } } query Pods { pods { id } } fragment F on User { id }", "Pods", pods],
    ["several operations, operationName picking one", 'query Pods { pods { id } } query Me { myself { id } } mutation Make { podCreate(input: {name: "never"}) { id } }', "Me", me],
    [
      `${maxOperations} operations and ${maxDefinitions - maxOperations} fragments, a chain the one that runs spreads`,
      `${named(maxOperations - 1, 1)} query Q0 { myself { ...F0 } } ${chain(maxDefinitions - maxOperations)}`,
      "Q0",
      me,
    ],
    [`${maxFragments} fragments`, `{ myself { ${spreads(maxFragments)} } } ${fragments(maxFragments)}`, undefined, me],
    ["a query string of exactly the limit", padTo("{ pods { id } }", maxQueryBytes), undefined, pods],
    ["a query string of exactly the limit in UTF-8 bytes", padTo("{ pods { id } } ##", maxQueryBytes, "é"), undefined, pods],
  ];

  it.each(accepted)("%s → 200", async (_label, query, operationName, expected) => {
    const reply = await gql(keys.read, query, { operationName });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ data: expected() });
  });
});

describe("introspection", () => {
  it("works for a read key with the standard introspection query", async () => {
    for (const query of [
      getIntrospectionQuery(),
      getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }),
    ]) {
      const reply = await gql(keys.read, query);
      expect(reply.status).toBe(200);
      expect(reply.json.errors).toBeUndefined();
      const names = reply.json.data.__schema.types.map((type: { name: string }) => type.name);
      expect(names).toEqual(expect.arrayContaining(["Query", "Mutation", "User", "Endpoint", "Pod", "EndpointInput", "PodInput"]));
      expect(names.filter((name: string) => /key/i.test(name))).toEqual([]);
    }
  });

  it("is refused without a key, or with a key that has no graphql access", async () => {
    expectApiError(await gql(null, getIntrospectionQuery()), 401, "UNAUTHENTICATED");
    expectApiError(await gql(keys.none, getIntrospectionQuery()), 403, "INSUFFICIENT_SCOPE");
  });

  it("is bounded: no unbounded nesting of lists, no repeated full introspection", async () => {
    expectBadRequest(await gql(keys.read, "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"), /introspection depth/);
    const standard = getIntrospectionQuery();
    const fragments = standard.slice(standard.indexOf("fragment FullType"));
    const thrice = `{ a: __schema { types { ...FullType } } b: __schema { types { ...FullType } } c: __schema { types { ...FullType } } } ${fragments}`;
    expectBadRequest(await gql(keys.read, thrice), /Introspection too large/);
  });
});

describe("failures never become 500s and never leak", () => {
  it("turns an unexpected resolver error into a generic 'Internal error', logging only its name", async () => {
    const account = await newAccount("broken");
    const key = (await newScopedKey(account, "read")).plaintext;
    // A row the DTO cannot represent: its date does not parse.
    await rawRows("INSERT INTO pods (id, account_id, name, status, created_at) VALUES ('brokenpod0000000', ?, 'broken', 'RUNNING', 'not a date')", [account]);
    const before = logged.length;
    const reply = await gql(key, "{ myself { id } pods { id createdAt } }");
    expect(reply.status).toBe(200);
    expect(reply.json.data).toBeNull();
    expect(reply.json.errors).toEqual([{ message: "Internal error", locations: expect.any(Array), path: expect.any(Array), extensions: { code: "INTERNAL" } }]);
    expect(reply.text).not.toMatch(/Invalid time value|RangeError|at .*\.ts/);
    expect(logged.slice(before).filter((line) => line.startsWith("graphql:"))).toEqual(["graphql: resolver failed (RangeError)"]);
  });

  it.each([
    ["DatabaseUnavailableError", () => new DatabaseUnavailableError("locked")],
    ["an unexpected error", () => new Error(`boom with ${secrets[0]}`)],
  ])("answers 503 UNAVAILABLE when the key store throws %s", async (_label, makeError) => {
    const handler = createGraphqlHandler({
      loadKeyStore: async () => ({
        findKeyByHash: () => {
          throw makeError();
        },
        recordDecision: () => {},
        endGraceOnFirstUse: () => {},
        rateLimit: () => {
          throw new Error("not reached");
        },
      }),
    });
    const reply = await send(postRequest(keys.read, JSON.stringify({ query: "{ pods { id } }" })), handler);
    expectApiError(reply, 503, "UNAVAILABLE");
  });

  it("answers 503 UNAVAILABLE when the data plane cannot be opened", async () => {
    const handler = createGraphqlHandler({ loadKeyStore: () => Promise.reject(new Error("cannot open")) });
    expectApiError(await send(postRequest(keys.read, JSON.stringify({ query: "{ pods { id } }" })), handler), 503, "UNAVAILABLE");
  });

  it("answers 503 when a mutation waits for another process's write lock past the timeout; reads keep working", async () => {
    const before = await rowCounts(accountA);
    const other = new Database(testDatabasePath);
    other.exec("BEGIN IMMEDIATE");
    try {
      const write = await gql(keys.readWrite, 'mutation { podCreate(input: {name: "blocked"}) { id } }');
      expectApiError(write, 503, "UNAVAILABLE");
      const read = await gql(keys.read, "{ myself { id } pods { id } }");
      expect(read.status).toBe(200);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    expect(await rowCounts(accountA)).toEqual(before);
  });
});

describe("app/graphql/route.ts", () => {
  it("serves every method with the same handler", () => {
    for (const method of ["POST", "GET", "PUT", "PATCH", "DELETE", "OPTIONS"] as const) expect(route[method]).toBe(handleGraphqlRequest);
    expect(route.dynamic).toBe("force-dynamic");
  });
});

describe("names: the one rule in lib/core/names.ts", () => {
  const SAVE = "mutation ($input: EndpointInput!) { saveEndpoint(input: $input) { id name } }";
  const POD = "mutation ($input: PodInput!) { podCreate(input: $input) { id name } }";

  it.each([
    ["a bidi override", "invoice\u202Egpj.exe", "Name can't contain text-direction characters."],
    ["zero-width and no-break spaces only", "\u200B\u00A0\u200D\u00A0", "Name can't be blank or invisible."],
    ["a control character", "billing\u0000admin", "Name can't contain control characters."],
  ])("saveEndpoint and podCreate refuse %s with a BAD_REQUEST error, storing nothing", async (_label, name, message) => {
    const before = await rowCounts(accountA);
    for (const mutation of [SAVE, POD]) {
      const reply = await gql(keys.readWrite, mutation, { variables: { input: { name } } });
      expect(reply.json.data).toBeNull();
      expect(reply.json.errors).toEqual([expect.objectContaining({ message, extensions: { code: "BAD_REQUEST" } })]);
    }
    expect(await rowCounts(accountA)).toEqual(before);
  });

  it("saveEndpoint refuses to rename to a bidi name and leaves the endpoint as it was", async () => {
    const id = await newEndpointId(accountA, "stays-put");
    const reply = await gql(keys.readWrite, SAVE, { variables: { input: { id, name: "a\u2067b" } } });
    expect(reply.json.errors).toEqual([expect.objectContaining({ message: "Name can't contain text-direction characters.", extensions: { code: "BAD_REQUEST" } })]);
    expect(await rawRows("SELECT name FROM endpoints WHERE id = ?", [id])).toEqual([{ name: "stays-put" }]);
  });

  it("saveEndpoint and podCreate store and answer the NFC, trimmed form", async () => {
    const endpoint = await gql(keys.readWrite, SAVE, { variables: { input: { name: "\u200B\u00A0cafe\u0301\u3000" } } });
    expect(endpoint.json.data.saveEndpoint.name).toBe("caf\u00E9");
    expect(await rawRows("SELECT name FROM endpoints WHERE id = ?", [endpoint.json.data.saveEndpoint.id])).toEqual([{ name: "caf\u00E9" }]);
    const pod = await gql(keys.readWrite, POD, { variables: { input: { name: "\uFEFFpo\u0301d " } } });
    expect(pod.json.data.podCreate.name).toBe("p\u00F3d");
    expect(await rawRows("SELECT name FROM pods WHERE id = ?", [pod.json.data.podCreate.id])).toEqual([{ name: "p\u00F3d" }]);
  });
});
