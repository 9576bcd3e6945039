import { countRows, rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount } from "./accounts";
import { createScopedApiKey } from "./api-keys";
import { createEndpoint, deleteEndpoint, listEndpoints, renameEndpoint, type EndpointDto } from "./endpoints";

afterAll(removeTestDatabase);

let accountA = "";
let accountB = "";

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("a"), "password-a-123"), createAccount(uniqueEmail("b"), "password-b-123")]);
  if (!a?.ok || !b?.ok) throw new Error("setup failed");
  accountA = a.value.id;
  accountB = b.value.id;
});

async function newEndpoint(accountId: string, name: string, now?: Date): Promise<EndpointDto> {
  const result = await createEndpoint(accountId, name, { type: "dashboard" }, now);
  if (!result.ok) throw new Error(`createEndpoint failed: ${result.message}`);
  return result.value;
}

async function endpointRow(id: string) {
  const [row] = await rawRows("SELECT * FROM endpoints WHERE id = ?", [id]);
  return row;
}

describe("createEndpoint", () => {
  it("creates an endpoint with an opaque, URL-safe id, owned by the account", async () => {
    const now = new Date("2024-01-02T03:04:05.678Z");
    const endpoint = await newEndpoint(accountA, "image-gen", now);
    expect(endpoint).toEqual({ id: expect.stringMatching(/^[0-9a-z]{16}$/), name: "image-gen", createdAt: now });
    expect(encodeURIComponent(endpoint.id)).toBe(endpoint.id);
    expect(await endpointRow(endpoint.id)).toEqual({
      id: endpoint.id,
      account_id: accountA,
      name: "image-gen",
      created_at: now.getTime(),
    });
  });

  it("gives every endpoint a distinct id", async () => {
    const created = await Promise.all(Array.from({ length: 10 }, (_, i) => newEndpoint(accountA, `bulk-${i}`)));
    expect(new Set(created.map((endpoint) => endpoint.id)).size).toBe(10);
  });
});

describe("listEndpoints", () => {
  let listAccount = "";

  beforeAll(async () => {
    const result = await createAccount(uniqueEmail("list"), "password-list-123");
    if (!result.ok) throw new Error("setup failed");
    listAccount = result.value.id;
  });

  it("lists the account's own endpoints, newest first", async () => {
    const oldest = await newEndpoint(listAccount, "oldest", new Date("2024-01-01T00:00:00Z"));
    const newest = await newEndpoint(listAccount, "newest", new Date("2024-03-01T00:00:00Z"));
    const middle = await newEndpoint(listAccount, "middle", new Date("2024-02-01T00:00:00Z"));
    // Someone else's endpoint, created in between, must not appear.
    await newEndpoint(accountB, "not mine", new Date("2024-02-15T00:00:00Z"));

    const listed = await listEndpoints(listAccount);
    expect(listed).toEqual([newest, middle, oldest]);
  });

  it("is stable for endpoints created in the same millisecond", async () => {
    const sameTime = new Date("2024-06-01T00:00:00Z");
    const twins = [await newEndpoint(listAccount, "twin-1", sameTime), await newEndpoint(listAccount, "twin-2", sameTime)];
    const first = await listEndpoints(listAccount);
    const second = await listEndpoints(listAccount);
    expect(second).toEqual(first);
    const twinIds = first.filter((endpoint) => endpoint.name.startsWith("twin-")).map((endpoint) => endpoint.id);
    expect(twinIds).toEqual(twins.map((endpoint) => endpoint.id).sort().reverse());
  });

  it("returns an empty list for an account without endpoints, or an unknown account", async () => {
    const fresh = await createAccount(uniqueEmail("empty"), "password-empty-1");
    if (!fresh.ok) throw new Error("setup failed");
    expect(await listEndpoints(fresh.value.id)).toEqual([]);
    expect(await listEndpoints("nosuchaccount000")).toEqual([]);
  });

  it("cross-account: B sees none of A's endpoints", async () => {
    const mine = await newEndpoint(accountA, "a-private");
    const theirs = await newEndpoint(accountB, "b-own");
    const seenByB = await listEndpoints(accountB);
    expect(seenByB).toContainEqual(theirs);
    const idsOfA = new Set((await listEndpoints(accountA)).map((endpoint) => endpoint.id));
    expect(idsOfA.has(mine.id)).toBe(true);
    expect(seenByB.filter((endpoint) => idsOfA.has(endpoint.id))).toEqual([]);
    expect(seenByB.map((endpoint) => endpoint.id)).not.toContain(mine.id);
  });
});

describe("renameEndpoint", () => {
  it("renames the account's own endpoint and keeps its id and created date", async () => {
    const endpoint = await newEndpoint(accountA, "before", new Date("2024-01-01T00:00:00Z"));
    const result = await renameEndpoint(accountA, endpoint.id, "after", { type: "dashboard" });
    expect(result).toEqual({ ok: true, value: { ...endpoint, name: "after" } });
    expect((await endpointRow(endpoint.id))?.name).toBe("after");
  });

  it.each([
    ["unknown id", "nosuchendpoint00"],
    ["empty id", ""],
  ])("returns NOT_FOUND for %s", async (_label, id) => {
    expect(await renameEndpoint(accountA, id, "x", { type: "dashboard" })).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
  });

  it("cross-account: B renaming A's endpoint is NOT_FOUND and A's row is unchanged", async () => {
    const endpoint = await newEndpoint(accountA, "a-owned");
    const before = await endpointRow(endpoint.id);

    const result = await renameEndpoint(accountB, endpoint.id, "hijacked", { type: "dashboard" });
    expect(result).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });

    expect(await endpointRow(endpoint.id)).toEqual(before);
    expect(await countRows("endpoints", "name = ?", ["hijacked"])).toBe(0);
  });
});

describe("deleteEndpoint", () => {
  it("deletes the account's own endpoint; a second delete is NOT_FOUND", async () => {
    const endpoint = await newEndpoint(accountA, "doomed");
    expect(await deleteEndpoint(accountA, endpoint.id, { type: "dashboard" })).toEqual({ ok: true, value: { id: endpoint.id } });
    expect(await endpointRow(endpoint.id)).toBeUndefined();
    expect((await listEndpoints(accountA)).map((e) => e.id)).not.toContain(endpoint.id);
    expect(await deleteEndpoint(accountA, endpoint.id, { type: "dashboard" })).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });
  });

  it("cross-account: B deleting A's endpoint is NOT_FOUND and A's row and overrides are unchanged", async () => {
    const endpoint = await newEndpoint(accountA, "a-keeps-this");
    const key = await createScopedApiKey(accountA, {
      name: "pinned",
      scopes: { graphql: "none", endpointsAll: "none", endpoints: { [endpoint.id]: "read" } },
    }, { type: "dashboard" });
    if (!key.ok) throw new Error("setup failed");
    const before = await endpointRow(endpoint.id);
    const overridesBefore = await rawRows("SELECT * FROM api_key_endpoint_scopes WHERE endpoint_id = ?", [endpoint.id]);
    expect(overridesBefore).toHaveLength(1);

    const result = await deleteEndpoint(accountB, endpoint.id, { type: "dashboard" });
    expect(result).toEqual({ ok: false, code: "NOT_FOUND", message: expect.any(String) });

    expect(await endpointRow(endpoint.id)).toEqual(before);
    expect(await rawRows("SELECT * FROM api_key_endpoint_scopes WHERE endpoint_id = ?", [endpoint.id])).toEqual(overridesBefore);
  });

  it("removes every key's override for the endpoint, and nothing else (cascade)", async () => {
    const doomed = await newEndpoint(accountA, "cascade-doomed");
    const survivor = await newEndpoint(accountA, "cascade-survivor");
    const keyIds: string[] = [];
    for (const [name, level] of [
      ["k1", "read"],
      ["k2", "read_write"],
      ["k3", "none"],
    ] as const) {
      const key = await createScopedApiKey(accountA, {
        name,
        scopes: { graphql: "read", endpointsAll: "read", endpoints: { [doomed.id]: level, [survivor.id]: "read_write" } },
      }, { type: "dashboard" });
      if (!key.ok) throw new Error(`setup failed: ${key.message}`);
      keyIds.push(key.value.key.id);
    }
    expect(await countRows("api_key_endpoint_scopes", "endpoint_id = ?", [doomed.id])).toBe(3);
    const keysBefore = await rawRows("SELECT * FROM api_keys WHERE account_id = ? ORDER BY id", [accountA]);

    expect(await deleteEndpoint(accountA, doomed.id, { type: "dashboard" })).toEqual({ ok: true, value: { id: doomed.id } });

    expect(await countRows("api_key_endpoint_scopes", "endpoint_id = ?", [doomed.id])).toBe(0);
    expect(await countRows("api_key_endpoint_scopes", "endpoint_id = ?", [survivor.id])).toBe(3);
    // The keys themselves, and their other scopes, are untouched.
    expect(await rawRows("SELECT * FROM api_keys WHERE account_id = ? ORDER BY id", [accountA])).toEqual(keysBefore);
    expect(await rawRows("PRAGMA foreign_key_check")).toEqual([]);
  });
});
