import { removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDatabaseHandle } from "@/db/handle";
import { DAY_MS, HOUR_MS, type UsageCode, type UsageVia } from "@/lib/core/usage/tally";
import type { RequiredLevel } from "@/lib/core/scopes/levels";
import { createAccount, type AccountDto } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { createEndpoint, deleteEndpoint } from "@/lib/dal/endpoints";
import { createUsageRecorder } from "@/lib/dal/usage-recorder";
import type { UsageView } from "./_components/usage-model";
import { GET as getUsage } from "./usage/route";
import { GET as getUsageCsv } from "./usage.csv/route";

// SPEC §10: the key page's usage routes, as Next.js calls them, with the session stubbed. They
// answer only the signed-in account's own keys: another account's reads like an unknown id.
const session = vi.hoisted(() => ({ account: null as AccountDto | null, fail: false }));
vi.mock("@/lib/auth/session", () => ({
  getCurrentAccount: async () => {
    if (session.fail) throw new Error("database gone");
    return session.account;
  },
}));

let owner: AccountDto;
let other: AccountDto;
let keyId = "";
let emptyKeyId = "";
let otherKeyId = "";
let alphaId = "";
let evilId = "";
let goneId = "";
const NOW = Date.now();

async function account(label: string): Promise<AccountDto> {
  const created = await createAccount(uniqueEmail(label), "password-usage-123");
  if (!created.ok) throw new Error("setup: account");
  return created.value;
}

async function key(accountId: string, name: string): Promise<string> {
  const created = await createScopedApiKey(accountId, { name, scopes: { graphql: "read", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!created.ok) throw new Error("setup: key");
  return created.value.key.id;
}

async function endpoint(accountId: string, name: string): Promise<string> {
  const created = await createEndpoint(accountId, name, { type: "dashboard" });
  if (!created.ok) throw new Error("setup: endpoint");
  return created.value.id;
}

type Count = [key: string, at: number, resource: string, via: UsageVia, access: RequiredLevel, code: UsageCode, times: number];

beforeAll(async () => {
  owner = await account("usage-owner");
  other = await account("usage-other");
  keyId = await key(owner.id, "CI deploy, \"prod\"");
  emptyKeyId = await key(owner.id, "idle");
  otherKeyId = await key(other.id, "theirs");
  alphaId = await endpoint(owner.id, "alpha");
  evilId = await endpoint(owner.id, "=cmd");
  goneId = await endpoint(owner.id, "gone");
  const recorder = createUsageRecorder((await getDatabaseHandle()).sql);
  const counts: Count[] = [
    [keyId, NOW - 5 * 60_000, "graphql", "api", "read", "VALID", 3],
    [keyId, NOW - 2 * HOUR_MS, alphaId, "api", "read", "VALID", 2],
    [keyId, NOW - 2 * HOUR_MS, alphaId, "api", "read_write", "INSUFFICIENT_SCOPE", 4],
    [keyId, NOW - 3 * HOUR_MS, alphaId, "verify", "read", "VALID", 1],
    [keyId, NOW - 3 * HOUR_MS, "unknown", "api", "read", "NOT_FOUND", 1],
    [keyId, NOW - 3 * HOUR_MS, evilId, "api", "read", "RATE_LIMITED", 1],
    [keyId, NOW - 3 * HOUR_MS, goneId, "api", "read", "VALID", 1],
    // Outside 24 hours, inside 30 days.
    [keyId, NOW - 3 * DAY_MS, "graphql", "api", "read", "VALID", 5],
    // Another account's key: never part of the owner's answers.
    [otherKeyId, NOW - 5 * 60_000, "graphql", "api", "read", "VALID", 7],
  ];
  for (const [id, at, resource, via, access, code, times] of counts) {
    for (let i = 0; i < times; i++) recorder.count(id, at, resource, via, access, code);
  }
  await recorder.flush();
  expect(recorder.stats.failures).toBe(0);
  const deleted = await deleteEndpoint(owner.id, goneId, { type: "dashboard" });
  if (!deleted.ok) throw new Error("setup: delete endpoint");
});

afterAll(removeTestDatabase);

beforeEach(() => {
  session.account = owner;
  session.fail = false;
});

function usage(id: string, query = "") {
  return getUsage(new Request(`http://127.0.0.1/settings/api-keys/${id}/usage${query}`), { params: Promise.resolve({ keyId: id }) });
}

function csv(id: string) {
  return getUsageCsv(new Request(`http://127.0.0.1/settings/api-keys/${id}/usage.csv`), { params: Promise.resolve({ keyId: id }) });
}

function total(view: UsageView, code: UsageCode): number {
  return view.buckets.reduce((sum, bucket) => sum + (bucket.counts[code] ?? 0), 0);
}

describe("GET …/usage", () => {
  it("answers the last 24 hours by hour by default, with Usage by resource over the same hours", async () => {
    const response = await usage(keyId);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const view = (await response.json()) as UsageView;
    expect(view.range).toBe("24h");
    expect(view.bucketMs).toBe(HOUR_MS);
    expect(view.buckets).toHaveLength(24);
    expect(total(view, "VALID")).toBe(7);
    expect(total(view, "INSUFFICIENT_SCOPE")).toBe(4);
    expect(total(view, "NOT_FOUND")).toBe(1);
    expect(total(view, "RATE_LIMITED")).toBe(1);
    const rows = Object.fromEntries(view.resources.map((row) => [`${row.name} | ${row.access}`, [row.allowed, row.denied]]));
    expect(rows).toEqual({
      "GraphQL | Read": [3, 0],
      "alpha | Read": [2, 0],
      "alpha | Read / Write": [0, 4],
      "Verify API: alpha | Read": [1, 0],
      "Unknown endpoint | Read": [0, 1],
      "=cmd | Read": [0, 1],
      "Deleted endpoint | Read": [1, 0],
    });
  });

  it("answers 30 days by day, the older requests included", async () => {
    const view = (await (await usage(keyId, "?range=30d")).json()) as UsageView;
    expect(view.range).toBe("30d");
    expect(view.bucketMs).toBe(DAY_MS);
    expect(view.buckets).toHaveLength(30);
    expect(total(view, "VALID")).toBe(12);
    expect(view.resources.find((row) => row.name === "GraphQL")).toMatchObject({ allowed: 8, denied: 0 });
  });

  it("answers an unused key with empty buckets and no resources", async () => {
    const view = (await (await usage(emptyKeyId)).json()) as UsageView;
    expect(view.buckets.every((bucket) => Object.keys(bucket.counts).length === 0)).toBe(true);
    expect(view.resources).toEqual([]);
  });

  const badRanges = ["7d", "24H", "", "30d,24h", "90d"];
  for (const range of badRanges) {
    it(`refuses range=${JSON.stringify(range)} with 400`, async () => {
      const response = await usage(keyId, `?range=${encodeURIComponent(range)}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await response.json()).toMatchObject({ error: { code: "BAD_REQUEST" } });
    });
  }

  const strangers = [
    ["another account's key", () => otherKeyId],
    ["an unknown id", () => "key_doesnotexist"],
    ["an id that is no id", () => "../../etc/passwd"],
  ] as const;
  for (const [name, id] of strangers) {
    it(`answers 404 for ${name}, exactly as for the others`, async () => {
      const response = await usage(id());
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: { code: "NOT_FOUND", message: "No such API key." } });
    });
  }

  it("answers 401 without a session, and 503 (never 500) when the session cannot be read", async () => {
    session.account = null;
    expect((await usage(keyId)).status).toBe(401);
    session.fail = true;
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await usage(keyId);
    error.mockRestore();
    expect(response.status).toBe(503);
    expect(await response.text()).not.toContain("database gone");
  });
});

describe("GET …/usage.csv", () => {
  it("downloads every day's counts as an attachment named after the key", async () => {
    const response = await csv(keyId);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="CI-deploy-prod-usage.csv"');
    expect(response.headers.get("cache-control")).toBe("no-store");
    const lines = (await response.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe("day,resource,endpoint,via,access,outcome,requests,last_seen");
    const cells = lines.slice(1).map((line) => line.split(","));
    // Every request counted, by day: 7 + 4 + 1 + 1 within the day(s) of the last hours, 5 three days ago.
    expect(cells.reduce((sum, row) => sum + Number(row[6]), 0)).toBe(18);
    expect(cells.every((row) => /^\d{4}-\d{2}-\d{2}$/.test(row[0]!) && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(row[7]!))).toBe(true);
    expect(cells.find((row) => row[1] === alphaId && row[3] === "api" && row[5] === "INSUFFICIENT_SCOPE")).toEqual([
      expect.any(String),
      alphaId,
      "alpha",
      "api",
      "read_write",
      "INSUFFICIENT_SCOPE",
      "4",
      expect.any(String),
    ]);
    // The endpoint the account named "=cmd" cannot become a formula.
    expect(cells.find((row) => row[1] === evilId)?.[2]).toBe("'=cmd");
    expect(cells.find((row) => row[1] === goneId)?.[2]).toBe("");
  });

  it("gives an unused key the header line alone", async () => {
    const response = await csv(emptyKeyId);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("day,resource,endpoint,via,access,outcome,requests,last_seen\r\n");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="idle-usage.csv"');
  });

  for (const [name, id] of [
    ["another account's key", () => otherKeyId],
    ["an unknown id", () => "key_doesnotexist"],
  ] as const) {
    it(`answers 404 for ${name}, with no attachment`, async () => {
      const response = await csv(id());
      expect(response.status).toBe(404);
      expect(response.headers.get("content-disposition")).toBeNull();
    });
  }

  it("answers 401 without a session", async () => {
    session.account = null;
    expect((await csv(keyId)).status).toBe(401);
  });
});
