import { removeTestDatabase, testDatabasePath, uniqueEmail } from "@/testing/test-database";
import { randomBytes } from "node:crypto";
import type { InValue } from "@libsql/client";
import Database from "libsql";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CommitSignal } from "@/db/commit-signal";
import { getDatabaseHandle, getDb, type SqlRunner } from "@/db/handle";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { generateScopedKey } from "@/lib/core/keys/generate";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { decide, type Decision, type Requirement } from "@/lib/core/verify/verifier";
import { holdWriteLock } from "@/testing/lock-holder";
import { createAccount } from "./accounts";
import { createScopedApiKey, deleteApiKey, importLegacyApiKeys, setApiKeyEnabled, updateApiKeyScopes } from "./api-keys";
import { createEndpoint, deleteEndpoint } from "./endpoints";
import { createKeyStore, type DalKeyStore } from "./key-store";
import { createUsageRecorder } from "./usage-recorder";

// The decision cache on a real file: this process's own changes apply from its next request, other
// processes' changes after the revision poll — counted in poll ticks of a fake interval, so no
// test waits on a clock, and none could pass by an entry simply timing out.

const POLL_MS = 25;
const dashboard = { type: "dashboard" } as const;

let commits: CommitSignal;
let runner: SqlRunner;
// Another process's connection: its commits are not this process's, so nothing tells the cache.
let other: InstanceType<typeof Database>;
const stores: DalKeyStore[] = [];

beforeAll(async () => {
  const handle = await getDatabaseHandle();
  // As lib/server/data-plane.ts wires it: the handle's one hook, told by both of its write paths.
  commits = new CommitSignal();
  handle.onCommittedWrite(commits.notify);
  runner = handle.sql;
  other = new Database(testDatabasePath);
  other.exec("PRAGMA foreign_keys = ON");
});

afterEach(() => {
  while (stores.length > 0) stores.pop()!.close();
  vi.useRealTimers();
});

afterAll(async () => {
  other?.close();
  await removeTestDatabase();
});

/** The runner, with its reads counted: key lookups and revision reads apart. */
function counted(base: SqlRunner, failRevisionReads = () => false) {
  const reads = { find: 0, revision: 0 };
  const sql: SqlRunner = {
    ...base,
    get<T>(statement: string, args: InValue[]) {
      if (/^\s*SELECT revision FROM decision_revision/.test(statement)) {
        reads.revision += 1;
        if (failRevisionReads()) return Promise.reject(new Error("revision read failed"));
      } else if (/LEFT JOIN api_keys/.test(statement)) {
        reads.find += 1;
      }
      return base.get<T>(statement, args);
    },
  };
  return { sql, reads };
}

/** A store with a cache whose poll only runs when the test advances the fake interval. */
function cachedStore(options: { maxEntries?: number; failRevisionReads?: () => boolean } = {}) {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
  const { sql, reads } = counted(runner, options.failRevisionReads);
  const lastUsed = createUsageRecorder(runner);
  const store = createKeyStore(sql, lastUsed, { cache: { maxEntries: options.maxEntries ?? 1_000, pollMs: POLL_MS, commits } });
  stores.push(store);
  return { store, reads, lastUsed, tick: (ticks = 1) => vi.advanceTimersByTimeAsync(ticks * POLL_MS) };
}

type Fixture = { accountId: string; endpointId: string; keyId: string; plaintext: string };
type Scopes = { graphql: AccessLevel; endpointsAll: AccessLevel; endpoints: Record<string, AccessLevel> };

async function fixture(scopes: (endpointId: string) => Scopes = () => ({ graphql: "read", endpointsAll: "read", endpoints: {} })): Promise<Fixture> {
  const account = await createAccount(uniqueEmail("cache"), "password-cache-123");
  if (!account.ok) throw new Error("setup: account");
  const endpoint = await createEndpoint(account.value.id, "cached", dashboard);
  if (!endpoint.ok) throw new Error("setup: endpoint");
  const key = await createScopedApiKey(account.value.id, { name: "cached", scopes: scopes(endpoint.value.id) }, dashboard);
  if (!key.ok) throw new Error("setup: key");
  return { accountId: account.value.id, endpointId: endpoint.value.id, keyId: key.value.key.id, plaintext: key.value.plaintext };
}

/** A legacy key's plaintext: 32 of [A-Z0-9], chosen here, so its hash can be asked about before it exists. */
function legacyPlaintext(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from(randomBytes(32), (byte) => alphabet[byte % alphabet.length]).join("");
}

const outcome = (decision: Decision) => decision.code;

type Case = {
  label: string;
  scopes?: (endpointId: string) => Scopes;
  /** Runs on the fixture before the cache is warmed. */
  setup?: (f: Fixture) => Promise<void>;
  /** The key asked about, when it is not the fixture's own. */
  presented?: (f: Fixture) => string;
  requirement?: (f: Fixture) => Requirement;
  before: Decision["code"];
  after: Decision["code"];
  /** The change, made by this process through the DAL (drizzle's client). */
  here: (f: Fixture) => Promise<unknown>;
  /** The same change, as SQL committed by another process. */
  elsewhere: (f: Fixture) => [string, ...unknown[]];
};

const onEndpoint = (access: "read" | "read_write" = "read") => (f: Fixture): Requirement => ({ resource: "endpoint", endpointId: f.endpointId, access });
const created = new Map<string, string>();

const cases: Case[] = [
  {
    label: "a key disabled",
    before: "VALID",
    after: "KEY_DISABLED",
    here: (f) => setApiKeyEnabled(f.accountId, f.keyId, false, dashboard),
    elsewhere: (f) => ["UPDATE api_keys SET enabled = 0 WHERE id = ?", f.keyId],
  },
  {
    label: "a key enabled",
    setup: async (f) => void (await setApiKeyEnabled(f.accountId, f.keyId, false, dashboard)),
    before: "KEY_DISABLED",
    after: "VALID",
    here: (f) => setApiKeyEnabled(f.accountId, f.keyId, true, dashboard),
    elsewhere: (f) => ["UPDATE api_keys SET enabled = 1 WHERE id = ?", f.keyId],
  },
  {
    label: "a key deleted",
    before: "VALID",
    after: "UNAUTHENTICATED",
    here: (f) => deleteApiKey(f.accountId, f.keyId, dashboard),
    elsewhere: (f) => ["DELETE FROM api_keys WHERE id = ?", f.keyId],
  },
  {
    label: "a key's scopes narrowed",
    before: "VALID",
    after: "INSUFFICIENT_SCOPE",
    here: (f) => updateApiKeyScopes(f.accountId, f.keyId, { graphql: "read", endpointsAll: "none", endpoints: {} }, dashboard),
    elsewhere: (f) => ["UPDATE api_keys SET endpoints_all_level = 'none' WHERE id = ?", f.keyId],
  },
  {
    label: "an override added",
    scopes: () => ({ graphql: "none", endpointsAll: "read", endpoints: {} }),
    requirement: onEndpoint("read_write"),
    before: "INSUFFICIENT_SCOPE",
    after: "VALID",
    here: (f) => updateApiKeyScopes(f.accountId, f.keyId, { graphql: "none", endpointsAll: "read", endpoints: { [f.endpointId]: "read_write" } }, dashboard),
    elsewhere: (f) => ["INSERT INTO api_key_endpoint_scopes (account_id, key_id, endpoint_id, level) VALUES (?, ?, ?, 'read_write')", f.accountId, f.keyId, f.endpointId],
  },
  {
    label: "an override removed",
    scopes: (endpointId) => ({ graphql: "none", endpointsAll: "none", endpoints: { [endpointId]: "read" } }),
    before: "VALID",
    after: "INSUFFICIENT_SCOPE",
    here: (f) => updateApiKeyScopes(f.accountId, f.keyId, { graphql: "none", endpointsAll: "none", endpoints: {} }, dashboard),
    elsewhere: (f) => ["DELETE FROM api_key_endpoint_scopes WHERE key_id = ?", f.keyId],
  },
  {
    label: "an endpoint deleted",
    before: "VALID",
    after: "NOT_FOUND",
    here: (f) => deleteEndpoint(f.accountId, f.endpointId, dashboard),
    elsewhere: (f) => ["DELETE FROM endpoints WHERE id = ?", f.endpointId],
  },
  {
    label: "a key created after its hash was looked up as unknown",
    presented: (f) => {
      if (!created.has(f.keyId)) created.set(f.keyId, legacyPlaintext());
      return created.get(f.keyId)!;
    },
    before: "UNAUTHENTICATED",
    after: "VALID",
    here: (f) => {
      const plaintext = created.get(f.keyId)!;
      return importLegacyApiKeys(f.accountId, [{ line: 1, name: "late", permission: "read", keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }], dashboard);
    },
    elsewhere: (f) => {
      const plaintext = created.get(f.keyId)!;
      return [
        "INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint, graphql_level, endpoints_all_level) VALUES (?, ?, 'late', 'legacy', ?, ?, 'read', 'read')",
        `${f.keyId}-late`,
        f.accountId,
        hashKey(plaintext),
        formatDisplayHint(plaintext, "legacy"),
      ];
    },
  },
  {
    label: "an account deleted",
    before: "VALID",
    after: "UNAUTHENTICATED",
    // No DAL function deletes accounts yet: any write through this process's handle counts.
    here: async (f) => (await getDb()).$client.execute({ sql: "DELETE FROM accounts WHERE id = ?", args: [f.accountId] }),
    elsewhere: (f) => ["DELETE FROM accounts WHERE id = ?", f.accountId],
  },
];

async function warmed(c: Case, options: Parameters<typeof cachedStore>[0] = {}) {
  const f = await fixture(c.scopes);
  await c.setup?.(f);
  const cache = cachedStore(options);
  const presented = c.presented?.(f) ?? f.plaintext;
  const requirement = c.requirement?.(f) ?? onEndpoint()(f);
  const ask = async () => outcome(await decide(presented, requirement, cache.store));
  expect(await ask()).toBe(c.before);
  const finds = cache.reads.find;
  expect(await ask()).toBe(c.before);
  expect(cache.reads.find).toBe(finds); // the second answer came from the cache
  return { f, ask, ...cache };
}

describe("a change made by this process applies from its next request", () => {
  it.each(cases)("$label", async (c) => {
    const { f, ask, reads } = await warmed(c);
    const revisionReads = reads.revision;
    await c.here(f);
    // No poll has run (the interval is fake and was not advanced): only the commit signal.
    expect(await ask()).toBe(c.after);
    expect(reads.revision).toBe(revisionReads + 1);
  });

  it("a write through the runner (the path of jobs and last-used dates) tells the cache too", async () => {
    const c = cases[0]!;
    const { f, ask } = await warmed(c);
    await runner.run("UPDATE api_keys SET enabled = 0 WHERE id = ?", [f.keyId]);
    expect(await ask()).toBe("KEY_DISABLED");
  });

  it("lookups waiting after a commit share one revision read", async () => {
    const { f, ask, reads } = await warmed(cases[0]!);
    await setApiKeyEnabled(f.accountId, f.keyId, false, dashboard);
    const revisionReads = reads.revision;
    expect(await Promise.all(Array.from({ length: 10 }, ask))).toEqual(Array(10).fill("KEY_DISABLED"));
    expect(reads.revision).toBe(revisionReads + 1);
  });
});

describe("a change committed by another process is seen after one poll", () => {
  it.each(cases)("$label", async (c) => {
    const { f, ask, reads, tick } = await warmed(c);
    const [sql, ...args] = c.elsewhere(f);
    other.prepare(sql).run(...args);
    // Until the poll runs, answers come from the cache: no read per request.
    const finds = reads.find;
    expect(await ask()).toBe(c.before);
    expect(reads.find).toBe(finds);
    await tick();
    expect(await ask()).toBe(c.after);
  });

  it("from a child process committing to the file", async () => {
    const { f, ask, tick } = await warmed(cases[0]!);
    const holder = await holdWriteLock(testDatabasePath, { holdMs: 0, end: "commit", statements: [`UPDATE api_keys SET enabled = 0 WHERE id = '${f.keyId}'`] });
    await holder.released;
    await tick();
    expect(await ask()).toBe("KEY_DISABLED");
  });

  it("however long nothing changes, entries stay: no time-to-live", async () => {
    const { ask, reads, tick, store } = await warmed(cases[0]!);
    const finds = reads.find;
    await tick(400); // 10 s of polls
    expect(await ask()).toBe("VALID");
    expect(reads.find).toBe(finds);
    expect(store.cacheStats?.clears).toBe(0);
  });
});

describe("what does not empty the cache", () => {
  it("last-used and usage flushes, from this process or another, keep every entry", async () => {
    const { f, ask, reads, tick, lastUsed, store } = await warmed(cases[0]!);
    const finds = reads.find;
    lastUsed.count(f.keyId, Date.now(), "graphql", "api", "read", "VALID");
    await lastUsed.flush(); // through the runner: a commit of this process
    expect(await ask()).toBe("VALID");
    other.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(Date.now() + 1_000, f.keyId);
    await tick(4);
    expect(await ask()).toBe("VALID");
    expect(reads.find).toBe(finds);
    expect(store.cacheStats).toMatchObject({ clears: 0 });
  });

  it("an unknown hash is looked up once, then answered from the cache", async () => {
    const { reads } = cachedStore();
    const store = stores.at(-1)!;
    const unknown = generateScopedKey();
    const requirement: Requirement = { resource: "graphql", access: "read" };
    for (let i = 0; i < 5; i++) expect(outcome(await decide(unknown, requirement, store))).toBe("UNAUTHENTICATED");
    expect(reads.find).toBe(1);
  });
});

describe("when the revision cannot be read", () => {
  it("nothing is answered from the cache until it can be again", async () => {
    let failing = false;
    const { f, ask, reads, tick } = await warmed(cases[0]!, { failRevisionReads: () => failing });
    failing = true;
    await tick();
    other.prepare("UPDATE api_keys SET enabled = 0 WHERE id = ?").run(f.keyId);
    const finds = reads.find;
    expect(await ask()).toBe("KEY_DISABLED"); // read from the database, not the cache
    expect(await ask()).toBe("KEY_DISABLED");
    expect(reads.find).toBe(finds + 2);
    failing = false;
    await tick();
    expect(await ask()).toBe("KEY_DISABLED");
    expect(await ask()).toBe("KEY_DISABLED");
    expect(reads.find).toBe(finds + 3); // cached again
  });

  it("after a commit of this process, a failed read sends the lookup to the database", async () => {
    let failing = false;
    const { f, ask, reads } = await warmed(cases[0]!, { failRevisionReads: () => failing });
    failing = true;
    await setApiKeyEnabled(f.accountId, f.keyId, false, dashboard);
    const finds = reads.find;
    expect(await ask()).toBe("KEY_DISABLED");
    expect(reads.find).toBe(finds + 1);
  });
});

describe("without a cache", () => {
  it.each([
    ["no cache option", undefined],
    ["a bound of 0", { maxEntries: 0, pollMs: POLL_MS, commits: { listen: () => () => {} } }],
  ])("%s: every lookup reads the database", async (_label, cache) => {
    const f = await fixture();
    const { sql, reads } = counted(runner);
    const store = createKeyStore(sql, createUsageRecorder(runner), { cache });
    stores.push(store);
    for (let i = 0; i < 3; i++) expect(outcome(await decide(f.plaintext, onEndpoint()(f), store))).toBe("VALID");
    expect(reads.find).toBe(3);
    expect(store.cacheStats).toBeNull();
  });
});
