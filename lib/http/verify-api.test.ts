import { removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, deleteApiKey, getApiKey, importLegacyApiKeys, setApiKeyEnabled } from "@/lib/dal/api-keys";
import { getDataPlane } from "@/lib/server/data-plane";
import { createEndpoint } from "@/lib/dal/endpoints";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { handleVerifyApi } from "./verify-api";

// Last-used dates are flushed by the tests themselves, not by the timer.
vi.hoisted(() => {
  process.env.LAST_USED_FLUSH_MS = "60000";
});

afterAll(async () => {
  await removeTestDatabase();
});

type Json = Record<string, unknown>;
const seen: string[] = [];
const secrets: string[] = [];

async function verifyRaw(body: string | undefined, method = "POST"): Promise<{ status: number; json: Json; headers: Headers }> {
  const response = await handleVerifyApi(
    new Request("http://test/api/v1/keys/verify", { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body }),
  );
  const text = await response.text();
  seen.push(text);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return { status: response.status, json: JSON.parse(text) as Json, headers: response.headers };
}

const verify = (body: unknown) => verifyRaw(JSON.stringify(body));

let accountA = "";
let accountB = "";
let epA = "";
let epB = "";
const keys: Record<string, { id: string; plaintext: string }> = {};

async function scoped(accountId: string, graphql: AccessLevel, endpointsAll: AccessLevel, endpoints: Record<string, AccessLevel> = {}) {
  const result = await createScopedApiKey(accountId, { name: "verify test", scopes: { graphql, endpointsAll, endpoints } }, { type: "dashboard" });
  if (!result.ok) throw new Error("setup: key");
  secrets.push(result.value.plaintext);
  return { id: result.value.key.id, plaintext: result.value.plaintext };
}

async function legacy(accountId: string, permission: "read" | "read_write") {
  const plaintext = Array.from({ length: 32 }, () => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[Math.floor(Math.random() * 36)]).join("");
  secrets.push(plaintext);
  const result = await importLegacyApiKeys(accountId, [{ line: 1, name: "legacy", permission, keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }], { type: "dashboard" });
  if (!result.ok || !result.value.ids[0]) throw new Error("setup: legacy");
  return { id: result.value.ids[0], plaintext };
}

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("a"), "password-a-123"), createAccount(uniqueEmail("b"), "password-b-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  accountA = a.value.id;
  accountB = b.value.id;
  const [ea, eb] = [await createEndpoint(accountA, "a", { type: "dashboard" }), await createEndpoint(accountB, "b", { type: "dashboard" })];
  if (!ea.ok || !eb.ok) throw new Error("setup: endpoints");
  epA = ea.value.id;
  epB = eb.value.id;
  keys.graphqlRead = await scoped(accountA, "read", "none");
  keys.endpointsRead = await scoped(accountA, "none", "read");
  keys.overrideUp = await scoped(accountA, "none", "none", { [epA]: "read_write" });
  keys.overrideDown = await scoped(accountA, "read_write", "read_write", { [epA]: "none" });
  keys.disabled = await scoped(accountA, "read_write", "read_write");
  keys.deleted = await scoped(accountA, "read_write", "read_write");
  keys.legacyRead = await legacy(accountA, "read");
  keys.legacyReadWrite = await legacy(accountA, "read_write");
  expect((await setApiKeyEnabled(accountA, keys.disabled.id, false, { type: "dashboard" })).ok).toBe(true);
  expect((await deleteApiKey(accountA, keys.deleted.id, { type: "dashboard" })).ok).toBe(true);
});

const UNISSUED_RANDOM = "0123456789ABCDEFGHIJabcdefghij";
const UNISSUED = `rpa_${UNISSUED_RANDOM}${computeKeyChecksum(UNISSUED_RANDOM)}`;

type Case = { name: string; key: () => string; resource: "graphql" | "endpoint"; endpoint?: () => string; access: "read" | "read_write"; code: string };
const cases: Case[] = [
  { name: "scoped graphql read → graphql read", key: () => keys.graphqlRead!.plaintext, resource: "graphql", access: "read", code: "VALID" },
  { name: "scoped graphql read → graphql read_write", key: () => keys.graphqlRead!.plaintext, resource: "graphql", access: "read_write", code: "INSUFFICIENT_SCOPE" },
  { name: "scoped graphql read → endpoint read", key: () => keys.graphqlRead!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read", code: "INSUFFICIENT_SCOPE" },
  { name: "scoped endpoints read → endpoint read", key: () => keys.endpointsRead!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read", code: "VALID" },
  { name: "scoped endpoints read → endpoint read_write", key: () => keys.endpointsRead!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read_write", code: "INSUFFICIENT_SCOPE" },
  { name: "scoped endpoints read → graphql read", key: () => keys.endpointsRead!.plaintext, resource: "graphql", access: "read", code: "INSUFFICIENT_SCOPE" },
  { name: "scoped endpoints read → another account's endpoint", key: () => keys.endpointsRead!.plaintext, resource: "endpoint", endpoint: () => epB, access: "read", code: "NOT_FOUND" },
  { name: "scoped endpoints read → unknown endpoint", key: () => keys.endpointsRead!.plaintext, resource: "endpoint", endpoint: () => "nope", access: "read", code: "NOT_FOUND" },
  { name: "override up → endpoint read_write", key: () => keys.overrideUp!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read_write", code: "VALID" },
  { name: "override down → endpoint read", key: () => keys.overrideDown!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read", code: "INSUFFICIENT_SCOPE" },
  { name: "override down → graphql read_write", key: () => keys.overrideDown!.plaintext, resource: "graphql", access: "read_write", code: "VALID" },
  { name: "legacy read → graphql read", key: () => keys.legacyRead!.plaintext, resource: "graphql", access: "read", code: "VALID" },
  { name: "legacy read → graphql read_write", key: () => keys.legacyRead!.plaintext, resource: "graphql", access: "read_write", code: "INSUFFICIENT_SCOPE" },
  { name: "legacy read → endpoint read", key: () => keys.legacyRead!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read", code: "VALID" },
  { name: "legacy read → endpoint read_write", key: () => keys.legacyRead!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read_write", code: "INSUFFICIENT_SCOPE" },
  { name: "legacy read → another account's endpoint", key: () => keys.legacyRead!.plaintext, resource: "endpoint", endpoint: () => epB, access: "read", code: "NOT_FOUND" },
  { name: "legacy read_write → graphql read_write", key: () => keys.legacyReadWrite!.plaintext, resource: "graphql", access: "read_write", code: "VALID" },
  { name: "legacy read_write → endpoint read_write", key: () => keys.legacyReadWrite!.plaintext, resource: "endpoint", endpoint: () => epA, access: "read_write", code: "VALID" },
  { name: "disabled key", key: () => keys.disabled!.plaintext, resource: "graphql", access: "read", code: "KEY_DISABLED" },
  { name: "disabled key, another account's endpoint", key: () => keys.disabled!.plaintext, resource: "endpoint", endpoint: () => epB, access: "read", code: "KEY_DISABLED" },
  { name: "deleted key", key: () => keys.deleted!.plaintext, resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "valid checksum, never issued", key: () => UNISSUED, resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "wrong checksum", key: () => keys.graphqlRead!.plaintext.slice(0, -1) + (keys.graphqlRead!.plaintext.endsWith("0") ? "1" : "0"), resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "legacy-shaped unknown", key: () => "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "empty key", key: () => "", resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "10 kB key", key: () => "rpa_" + "x".repeat(10_000), resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "key with surrounding spaces", key: () => ` ${keys.graphqlRead!.plaintext} `, resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "key with a NUL byte", key: () => `${keys.graphqlRead!.plaintext}\0`, resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "non-ASCII key", key: () => `rpa_${"ключ".repeat(9)}`, resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
  { name: "the key's own hash", key: () => hashKey(keys.graphqlRead!.plaintext), resource: "graphql", access: "read", code: "UNAUTHENTICATED" },
];

describe("always 200 {valid, code, keyId?, accountId?}", () => {
  it.each(cases)("$name → $code", async ({ key, resource, endpoint, access, code }) => {
    const reply = await verify({ key: key(), resource, ...(endpoint ? { endpointId: endpoint() } : {}), access });
    expect(reply.status).toBe(200);
    if (code === "VALID") {
      expect(reply.json).toEqual({ valid: true, code: "VALID", keyId: expect.stringMatching(/^key_/), accountId: accountA });
    } else {
      expect(reply.json).toMatchObject({ valid: false, code });
      // A denial names no account (it would let anyone holding a key learn its owner's id).
      expect(reply.json.accountId).toBeUndefined();
    }
  });

  it("keyId is the key that was verified", async () => {
    const reply = await verify({ key: keys.legacyRead!.plaintext, resource: "graphql", access: "read" });
    expect(reply.json.keyId).toBe(keys.legacyRead!.id);
  });

  it("unknown extra fields are ignored, not an error", async () => {
    const reply = await verify({ key: keys.graphqlRead!.plaintext, resource: "graphql", access: "read", extra: 1 });
    expect(reply.json).toMatchObject({ valid: true, code: "VALID" });
  });
});

describe("a malformed body → 400 BAD_REQUEST", () => {
  const k = () => keys.graphqlRead!.plaintext;
  it.each([
    ["not JSON", () => "{key:"],
    ["empty", () => ""],
    ["JSON null", () => "null"],
    ["a JSON array", () => JSON.stringify([{ key: k(), resource: "graphql", access: "read" }])],
    ["a JSON string", () => JSON.stringify(k())],
    ["missing key", () => JSON.stringify({ resource: "graphql", access: "read" })],
    ["key not a string", () => JSON.stringify({ key: 123, resource: "graphql", access: "read" })],
    ["key null", () => JSON.stringify({ key: null, resource: "graphql", access: "read" })],
    ["missing resource", () => JSON.stringify({ key: k(), access: "read" })],
    ["unknown resource", () => JSON.stringify({ key: k(), resource: "pods", access: "read" })],
    ["missing access", () => JSON.stringify({ key: k(), resource: "graphql" })],
    ["access none", () => JSON.stringify({ key: k(), resource: "graphql", access: "none" })],
    ["access write", () => JSON.stringify({ key: k(), resource: "graphql", access: "write" })],
    ["access upper case", () => JSON.stringify({ key: k(), resource: "graphql", access: "READ" })],
    ["endpoint without endpointId", () => JSON.stringify({ key: k(), resource: "endpoint", access: "read" })],
    ["endpoint with empty endpointId", () => JSON.stringify({ key: k(), resource: "endpoint", endpointId: "", access: "read" })],
    ["endpoint with numeric endpointId", () => JSON.stringify({ key: k(), resource: "endpoint", endpointId: 5, access: "read" })],
    ["larger than 16 kB", () => JSON.stringify({ key: k(), resource: "graphql", access: "read", pad: "x".repeat(20_000) })],
  ])("%s", async (_label, body) => {
    const reply = await verifyRaw(body());
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ error: { code: "BAD_REQUEST", message: expect.any(String) } });
    expect(JSON.stringify(reply.json)).not.toContain(k());
  });

  it("a GET is not a verification", async () => {
    const reply = await verifyRaw(undefined, "GET");
    expect(reply.status).not.toBe(200);
    expect(reply.json.valid).toBeUndefined();
  });
});

describe("last used", () => {
  it("a valid verification moves last used, in one batched write; a denied one does not", async () => {
    const plane = await getDataPlane();
    const used = await scoped(accountA, "read", "none");
    const denied = await scoped(accountA, "read", "none");
    await plane.usage.flush();
    const flushes = plane.usage.stats.flushes;
    const before = Date.now();
    for (let i = 0; i < 50; i++) expect((await verify({ key: used.plaintext, resource: "graphql", access: "read" })).json.valid).toBe(true);
    expect((await verify({ key: denied.plaintext, resource: "graphql", access: "read_write" })).json.code).toBe("INSUFFICIENT_SCOPE");
    expect((await verify({ key: denied.plaintext, resource: "endpoint", endpointId: epB, access: "read" })).json.code).toBe("NOT_FOUND");
    expect((await getApiKey(accountA, used.id))?.lastUsedAt).toBeNull();
    await plane.usage.flush();
    expect(plane.usage.stats.flushes).toBe(flushes + 1);
    const lastUsedAt = (await getApiKey(accountA, used.id))?.lastUsedAt;
    expect(lastUsedAt).toBeInstanceOf(Date);
    expect(lastUsedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(lastUsedAt!.getTime()).toBeLessThanOrEqual(Date.now());
    expect((await getApiKey(accountA, denied.id))?.lastUsedAt).toBeNull();
  });

  it("a disabled key's verification does not move last used", async () => {
    const plane = await getDataPlane();
    await plane.usage.flush();
    expect((await verify({ key: keys.disabled!.plaintext, resource: "graphql", access: "read" })).json.code).toBe("KEY_DISABLED");
    await plane.usage.flush();
    expect((await getApiKey(accountA, keys.disabled!.id))?.lastUsedAt).toBeNull();
  });
});

describe("no response carries a key or its hash", () => {
  it("checked over every response of this file", () => {
    const all = seen.join("\n");
    expect(seen.length).toBeGreaterThan(40);
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
      expect(all).not.toContain(hashKey(secret));
    }
  });
});
