import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAccount, type AccountDto } from "@/lib/dal/accounts";
import { createScopedApiKey, getApiKey, importLegacyApiKeys } from "@/lib/dal/api-keys";
import { listAuditLog } from "@/lib/dal/audit-log";
import { createEndpoint } from "@/lib/dal/endpoints";
import { setApiKeyRestrictions } from "@/lib/dal/key-restrictions";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import { DAY_MS, dayOf, type UsageCode } from "@/lib/core/usage/tally";
import type { SuggestionWindow } from "@/lib/core/usage/suggest";
import { describeEntry } from "@/app/settings/audit-log/describe-entry";
import { getDataPlane } from "@/lib/server/data-plane";
import { applyScopeSuggestionAction, checkAccessAction } from "./actions";

// The key page's SPEC §10 actions against a real temporary database: `Apply suggestion` applies
// only what the server suggests now, and `Check access` answers as a request would, changing nothing.
const session = vi.hoisted(() => ({ account: null as AccountDto | null }));
const revalidated = vi.hoisted(() => [] as string[]);
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account }));
vi.mock("next/cache", () => ({ revalidatePath: (path: string) => void revalidated.push(path) }));

const DASHBOARD = { type: "dashboard" } as const;
const STALE = { ok: false, code: "CONFLICT", message: "The suggestion has changed; review it again." };
const NOT_FOUND = { ok: false, code: "NOT_FOUND", message: "API key not found." };
const WIDE: KeyScopes = { graphql: "read_write", endpointsAll: "read_write", endpoints: {} };

let owner: AccountDto;
let other: AccountDto;
let alpha = "";
let beta = "";
let otherEndpoint = "";

async function account(label: string): Promise<AccountDto> {
  const created = await createAccount(uniqueEmail(label), "password-suggest-123");
  if (!created.ok) throw new Error("setup: account");
  return created.value;
}

async function newKey(accountId: string, name: string, scopes: KeyScopes = WIDE): Promise<string> {
  const key = await createScopedApiKey(accountId, { name, scopes }, DASHBOARD);
  if (!key.ok) throw new Error("setup: key");
  return key.value.key.id;
}

/** Requests the key made, as the usage flush would have counted them (by UTC day, `daysAgo` days back). */
async function used(accountId: string, keyId: string, resource: string, access: "read" | "read_write", count: number, code: UsageCode = "VALID", daysAgo = 0) {
  const bucket = dayOf(Date.now()) - daysAgo * DAY_MS;
  await rawRows(
    `INSERT INTO api_key_usage_daily (account_id, key_id, bucket, resource, via, access, code, count, last_at) VALUES (?, ?, ?, ?, 'api', ?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET count = count + excluded.count`,
    [accountId, keyId, bucket, resource, access, code, count, bucket + 1],
  );
}

/** Every row a refused apply must leave alone. */
async function snapshot(): Promise<string> {
  const tables = ["api_keys", "api_key_endpoint_scopes", "audit_log", "api_key_usage_daily", "api_key_usage_hourly"];
  return JSON.stringify(await Promise.all(tables.map((table) => rawRows(`SELECT * FROM ${table} ORDER BY rowid`))));
}

async function scopesOf(keyId: string): Promise<KeyScopes | undefined> {
  return (await getApiKey(owner.id, keyId))?.scopes;
}

beforeAll(async () => {
  owner = await account("suggest-owner");
  other = await account("suggest-other");
  for (const [name, set] of [
    ["alpha", (id: string) => (alpha = id)],
    ["beta", (id: string) => (beta = id)],
  ] as const) {
    const endpoint = await createEndpoint(owner.id, name, DASHBOARD);
    if (!endpoint.ok) throw new Error("setup: endpoint");
    set(endpoint.value.id);
  }
  const foreign = await createEndpoint(other.id, "foreign", DASHBOARD);
  if (!foreign.ok) throw new Error("setup: endpoint");
  otherEndpoint = foreign.value.id;
});

afterAll(async () => {
  await removeTestDatabase();
});

beforeEach(() => {
  session.account = owner;
  revalidated.length = 0;
});

// What the page shows for a key with GraphQL and All endpoints at Read / Write that used GraphQL
// Read and alpha Read: GraphQL → Read, All endpoints → None, alpha pinned at Read.
const NARROWED: KeyScopes = { graphql: "read", endpointsAll: "none", endpoints: {} };

describe("applyScopeSuggestionAction", () => {
  it("applies exactly the suggestion, as a scope change whose audit entry says it came from a suggestion and its window", async () => {
    const keyId = await newKey(owner.id, "wide");
    await used(owner.id, keyId, "graphql", "read", 1);
    await used(owner.id, keyId, alpha, "read", 3);
    await used(owner.id, keyId, beta, "read_write", 2, "KEY_DISABLED");
    const after = { ...NARROWED, endpoints: { [alpha]: "read" } } satisfies KeyScopes;

    expect(await applyScopeSuggestionAction({ keyId, basedOn: "30d", after })).toEqual({ ok: true, data: undefined });
    expect(await scopesOf(keyId)).toEqual(after);
    expect(revalidated).toEqual(["/settings/api-keys", `/settings/api-keys/${keyId}`]);
    const [entry] = (await listAuditLog(owner.id, { page: 1 })).entries;
    expect(entry).toMatchObject({ action: "api_key.scopes_changed", target: { id: keyId }, details: { source: "suggestion", basedOn: "30d" } });
    expect(describeEntry(entry!)).toBe(
      "Changed scopes of \u201cwide\u201d (from a suggestion based on 30 days): GraphQL Read / Write \u2192 Read; All endpoints Read / Write \u2192 None; alpha: inherited \u2192 Read",
    );

    // Now the narrowest: a second apply of the same list is refused, and changes nothing.
    const before = await snapshot();
    expect(await applyScopeSuggestionAction({ keyId, basedOn: "30d", after })).toEqual(STALE);
    expect(await snapshot()).toBe(before);
  });

  it("the Edit scopes path still records no source", async () => {
    const { updateApiKeyScopesAction } = await import("../actions");
    const keyId = await newKey(owner.id, "edited");
    expect(await updateApiKeyScopesAction({ keyId, scopes: NARROWED })).toEqual({ ok: true, data: undefined });
    const [entry] = (await listAuditLog(owner.id, { page: 1 })).entries;
    expect(entry).toMatchObject({ action: "api_key.scopes_changed", target: { id: keyId } });
    expect(entry!.details).not.toHaveProperty("source");
    expect(entry!.details).not.toHaveProperty("basedOn");
  });

  // Each: the scopes the client sends (given the key's usage), and why the server refuses them.
  it.each<[string, (keyId: string) => Promise<{ basedOn: SuggestionWindow; after: KeyScopes }>]>([
    ["an `after` that is not the suggestion", async () => ({ basedOn: "30d", after: { ...NARROWED, graphql: "none" } })],
    ["an `after` wider than the suggestion", async () => ({ basedOn: "30d", after: WIDE })],
    ["an `after` with an extra override", async () => ({ basedOn: "30d", after: { ...NARROWED, endpoints: { [alpha]: "read", [beta]: "read" } } })],
    [
      "usage that changed since the page was shown",
      async (keyId) => {
        await used(owner.id, keyId, beta, "read", 1);
        return { basedOn: "30d", after: { ...NARROWED, endpoints: { [alpha]: "read" } } };
      },
    ],
    // The 30 days' suggestion, sent as if it were the 7 days' one (which is `Disable`: no use in 7 days).
    ["a list from another window", async () => ({ basedOn: "7d", after: { ...NARROWED, endpoints: { [alpha]: "read" } } })],
  ])("refuses %s as stale, changing nothing", async (label, scenario) => {
    const keyId = await newKey(owner.id, `stale ${label}`.slice(0, 60));
    const lastWeek = label === "a list from another window" ? 10 : 0;
    await used(owner.id, keyId, "graphql", "read", 1, "VALID", lastWeek);
    await used(owner.id, keyId, alpha, "read", 3, "VALID", lastWeek);
    const input = await scenario(keyId);
    const before = await snapshot();
    expect(await applyScopeSuggestionAction({ keyId, ...input })).toEqual(STALE);
    expect(await snapshot()).toBe(before);
    expect(await scopesOf(keyId)).toEqual(WIDE);
    expect(revalidated).toEqual([]);
  });

  it("refuses another account's key and an unknown id alike, changing nothing", async () => {
    const keyId = await newKey(owner.id, "victim");
    await used(owner.id, keyId, "graphql", "read", 1);
    const after = NARROWED;
    const before = await snapshot();
    session.account = other;
    expect(await applyScopeSuggestionAction({ keyId, basedOn: "30d", after })).toEqual(NOT_FOUND);
    session.account = owner;
    expect(await applyScopeSuggestionAction({ keyId: "key_nosuchkey00000", basedOn: "30d", after })).toEqual(NOT_FOUND);
    expect(await snapshot()).toBe(before);
    // The owner's own call with the same input goes through: the refusals were about the caller.
    expect(await applyScopeSuggestionAction({ keyId, basedOn: "30d", after })).toEqual({ ok: true, data: undefined });
  });

  it("refuses a legacy key as Edit scopes does, changing nothing", async () => {
    const plaintext = "LEGACYSUGGEST0000000000000000001";
    const imported = await importLegacyApiKeys(
      owner.id,
      [{ line: 1, name: "old", permission: "read_write", keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }],
      DASHBOARD,
    );
    if (!imported.ok) throw new Error("setup: legacy");
    const keyId = imported.value.ids[0]!;
    await used(owner.id, keyId, "graphql", "read", 1);
    const before = await snapshot();
    expect(await applyScopeSuggestionAction({ keyId, basedOn: "30d", after: NARROWED })).toEqual({
      ok: false,
      code: "BAD_REQUEST",
      message: "A legacy key's scopes cannot be edited.",
    });
    expect(await snapshot()).toBe(before);
  });

  it.each<[string, unknown, string]>([
    ["a window outside the choices", { basedOn: "1y", after: NARROWED }, "basedOn"],
    ["no window", { after: NARROWED }, "basedOn"],
    ["a level that does not exist", { basedOn: "30d", after: { ...NARROWED, graphql: "admin" } }, "after.graphql"],
    ["no scopes", { basedOn: "30d" }, "after"],
  ])("refuses %s as bad input on its field", async (_label, input, field) => {
    const keyId = await newKey(owner.id, "bad input");
    const before = await snapshot();
    const result = await applyScopeSuggestionAction({ keyId, ...(input as object) } as never);
    expect(result).toMatchObject({ ok: false, code: "BAD_REQUEST", fieldErrors: { [field]: expect.any(String) } });
    expect(await snapshot()).toBe(before);
  });
});

describe("checkAccessAction", () => {
  let narrow = "";
  let fenced = "";

  beforeAll(async () => {
    narrow = await newKey(owner.id, "narrow", { graphql: "read", endpointsAll: "none", endpoints: {} });
    fenced = await newKey(owner.id, "fenced", { graphql: "read", endpointsAll: "read", endpoints: {} });
    const restricted = await setApiKeyRestrictions(owner.id, fenced, { allowedIps: "10.0.0.0/8\n2001:db8::/32", rateLimit: null, per: null }, DASHBOARD);
    if (!restricted.ok) throw new Error("setup: restrictions");
  });

  const allowed = { ok: true, data: { allowed: true } };
  // The reason in words: exactly, matching a pattern, or (by default) any text.
  const refused = (code: string, reason?: string | RegExp) => ({
    ok: true,
    data: { allowed: false, code, reason: typeof reason === "string" ? reason : reason ? expect.stringMatching(reason) : expect.any(String) },
  });

  it.each<[string, () => object, unknown]>([
    ["GraphQL Read with GraphQL Read", () => ({ keyId: narrow, resource: "graphql", access: "read" }), allowed],
    [
      "GraphQL Read / Write with GraphQL Read",
      () => ({ keyId: narrow, resource: "graphql", access: "read_write" }),
      refused("INSUFFICIENT_SCOPE", "This key has Read on GraphQL; this request needs Read / Write."),
    ],
    [
      "an endpoint at None",
      () => ({ keyId: narrow, resource: `endpoint:${alpha}`, access: "read" }),
      refused("INSUFFICIENT_SCOPE", 'This key has None on endpoint "alpha"; this request needs Read.'),
    ],
    ["another account's endpoint, as a request would get", () => ({ keyId: fenced, resource: `endpoint:${otherEndpoint}`, access: "read", ip: "10.1.2.3" }), refused("NOT_FOUND")],
    ["an allowlisted key from an allowed address", () => ({ keyId: fenced, resource: `endpoint:${alpha}`, access: "read", ip: " 10.1.2.3 " }), allowed],
    ["an allowlisted key from an allowed IPv6 address", () => ({ keyId: fenced, resource: "graphql", access: "read", ip: "2001:db8::7" }), allowed],
    ["an allowlisted key from another address", () => ({ keyId: fenced, resource: "graphql", access: "read", ip: "192.0.2.1" }), refused("IP_NOT_ALLOWED")],
    ["an allowlisted key with no address", () => ({ keyId: fenced, resource: "graphql", access: "read", ip: "" }), refused("IP_NOT_ALLOWED", /enter an address/)],
  ])("%s", async (_label, input, expected) => {
    expect(await checkAccessAction(input() as never)).toEqual(expected);
  });

  it.each<[string, object, string]>([
    ["an address that is not one", { ip: "999.1.1.1" }, "ip"],
    ["a range instead of an address", { ip: "10.0.0.0/8" }, "ip"],
    ["a zero-padded address", { ip: "010.0.0.1" }, "ip"],
    ["a resource outside the select", { resource: "pods" }, "resource"],
    ["an access level outside the select", { access: "none" }, "access"],
  ])("refuses %s on its field", async (_label, change, field) => {
    const result = await checkAccessAction({ keyId: fenced, resource: "graphql", access: "read", ip: "", ...change } as never);
    expect(result).toMatchObject({ ok: false, code: "BAD_REQUEST", fieldErrors: { [field]: expect.any(String) } });
  });

  it("answers NOT_FOUND for another account's key and an unknown id, like the page", async () => {
    session.account = other;
    expect(await checkAccessAction({ keyId: narrow, resource: "graphql", access: "read" })).toEqual(NOT_FOUND);
    session.account = owner;
    expect(await checkAccessAction({ keyId: "key_nosuchkey00000", resource: "graphql", access: "read" })).toEqual(NOT_FOUND);
  });

  it("records nothing: no usage count, last-used date or audit entry", async () => {
    const plane = await getDataPlane();
    const decisions = plane.usage.stats.decisions;
    const before = await snapshot();
    for (let i = 0; i < 5; i++) {
      await checkAccessAction({ keyId: narrow, resource: "graphql", access: "read" });
      await checkAccessAction({ keyId: fenced, resource: `endpoint:${beta}`, access: "read_write", ip: "10.0.0.1" });
    }
    expect(plane.usage.stats.decisions).toBe(decisions);
    expect(plane.usage.stats.pending).toBe(0);
    expect(await snapshot()).toBe(before);
  });

  it("signed out, answers nothing about the key", async () => {
    session.account = null;
    expect(await checkAccessAction({ keyId: narrow, resource: "graphql", access: "read" })).toEqual({
      ok: false,
      code: "UNAUTHENTICATED",
      message: "Your session has ended. Sign in again.",
    });
    expect(await applyScopeSuggestionAction({ keyId: narrow, basedOn: "30d", after: NARROWED })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
  });
});
