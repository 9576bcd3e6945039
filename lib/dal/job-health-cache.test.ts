import { removeTestDatabase, testDatabasePath, uniqueEmail } from "@/testing/test-database";
import Database from "libsql";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CommitSignal } from "@/db/commit-signal";
import { getDatabaseHandle, getDb, type SqlRunner } from "@/db/handle";
import { createAccount } from "./accounts";
import { createEndpoint } from "./endpoints";
import { createJobStore, type JobQuota, type JobStore } from "./jobs";

// The health cache (lib/dal/jobs.ts): the same counts as a read of the table, for every write
// this process makes, and another connection's commits seen at the next data-version poll.
const UNLIMITED: JobQuota = { maxJobs: 1_000_000, maxInputBytes: 1e12 };
const POLL_MS = 5;

let signal: CommitSignal;
let runner: SqlRunner;
let plain: JobStore;
let cached: JobStore;
let accountId = "";
let endpointId = "";
let otherEndpointId = "";
const opened: JobStore[] = [];

beforeAll(async () => {
  const handle = await getDatabaseHandle();
  // The handle's one hook (both write paths), forwarded to a signal the tests can also fire.
  signal = new CommitSignal();
  handle.onCommittedWrite(signal.notify);
  runner = handle.sql;
  plain = createJobStore(runner, UNLIMITED);
  cached = createJobStore(runner, UNLIMITED, { healthCache: { commits: signal, pollMs: POLL_MS } });
  opened.push(cached);
  const account = await createAccount(uniqueEmail("health"), "password-health-1");
  if (!account.ok) throw new Error("setup: account");
  accountId = account.value.id;
  const [one, two] = await Promise.all([createEndpoint(accountId, "h1", { type: "dashboard" }), createEndpoint(accountId, "h2", { type: "dashboard" })]);
  if (!one.ok || !two.ok) throw new Error("setup: endpoints");
  endpointId = one.value.id;
  otherEndpointId = two.value.id;
});

afterEach(() => vi.restoreAllMocks());

afterAll(async () => {
  for (const store of opened) store.close();
  await removeTestDatabase();
});

const isHealthQuery = (sql: string) => sql.includes("sum(status = 'COMPLETED')");

/** Health reads of the table that `work` made through `sqlRunner`. */
async function healthReads(sqlRunner: SqlRunner, work: () => Promise<unknown>): Promise<number> {
  const get = vi.spyOn(sqlRunner, "get");
  try {
    await work();
    return get.mock.calls.filter(([sql]) => isHealthQuery(sql)).length;
  } finally {
    get.mockRestore();
  }
}

/** Until the first data-version read has answered, nothing is cached: wait for a hit. */
async function untilCaching(store: JobStore, sqlRunner = runner) {
  await vi.waitFor(
    async () => {
      await store.health(accountId, endpointId);
      expect(await healthReads(sqlRunner, () => store.health(accountId, endpointId))).toBe(0);
    },
    { timeout: 5_000, interval: POLL_MS },
  );
}

let clock = 1_800_000_000_000;
const now = () => (clock += 1);

describe("the health cache", () => {
  it("a repeated health request does not read the table", async () => {
    await untilCaching(cached);
    expect(await healthReads(runner, () => cached.health(accountId, endpointId))).toBe(0);
    // Another endpoint is its own entry: read once, then cached too.
    expect(await healthReads(runner, () => cached.health(accountId, otherEndpointId))).toBe(1);
    expect(await healthReads(runner, () => cached.health(accountId, otherEndpointId))).toBe(0);
  });

  // Each step writes in this process; the cached answer right after it must be the table's.
  const steps: [string, () => Promise<unknown>][] = [
    ["enqueue", () => cached.enqueue(accountId, endpointId, '"a"', now())],
    ["enqueue another", () => cached.enqueue(accountId, endpointId, '"b"', now())],
    ["claim", () => cached.claimNext(now(), 0, null)],
    ["complete", async () => {
      const [running] = await runner.all<{ id: string }>("SELECT id FROM jobs WHERE status = 'IN_PROGRESS' AND endpoint_id = ?1", [endpointId]);
      return cached.complete(running!.id, '"a"', now());
    }],
    ["cancel", async () => {
      const [queued] = await runner.all<{ id: string }>("SELECT id FROM jobs WHERE status = 'IN_QUEUE' AND endpoint_id = ?1", [endpointId]);
      return cached.cancel(accountId, endpointId, queued!.id, now());
    }],
    ["retry", async () => {
      const [cancelled] = await runner.all<{ id: string }>("SELECT id FROM jobs WHERE status = 'CANCELLED' AND endpoint_id = ?1", [endpointId]);
      return cached.retry(accountId, endpointId, cancelled!.id);
    }],
    ["purge the queue", () => cached.purgeQueue(accountId, endpointId, now())],
    ["a raw write through the runner", () => runner.run("UPDATE jobs SET status = 'FAILED' WHERE endpoint_id = ?1 AND status = 'COMPLETED'", [endpointId])],
    ["a write through drizzle's client", async () => (await getDb()).$client.execute({ sql: "DELETE FROM jobs WHERE endpoint_id = ?", args: [endpointId] })],
  ];

  it("after each write of this process, the very next answer is the table's", async () => {
    // Drizzle's writes reach `signal` through the handle's hook, as the prepared ones do.
    await untilCaching(cached);
    for (const [label, write] of steps) {
      await cached.health(accountId, endpointId); // cached before the write
      await write();
      expect({ label, counts: await cached.health(accountId, endpointId) }).toEqual({ label, counts: await plain.health(accountId, endpointId) });
    }
  });

  it("another connection's commit is seen at the next poll", async () => {
    await untilCaching(cached);
    const before = await cached.health(accountId, endpointId);
    const other = new Database(testDatabasePath);
    try {
      other.prepare("INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) VALUES ('from-elsewhere', ?, ?, 'IN_QUEUE', '1', 0)").run(accountId, endpointId);
    } finally {
      other.close();
    }
    await vi.waitFor(async () => expect(await cached.health(accountId, endpointId)).toEqual({ ...before, inQueue: before.inQueue + 1 }), { timeout: 5_000, interval: POLL_MS });
    expect(await cached.health(accountId, endpointId)).toEqual(await plain.health(accountId, endpointId));
  });

  it("a commit made while the counts were being read keeps them out of the cache", async () => {
    // A runner whose health read is followed, before it returns, by a commit of this process.
    let commitDuringRead = false;
    const committing: SqlRunner = {
      ...runner,
      get: async <T,>(sql: string, args: Parameters<SqlRunner["get"]>[1]) => {
        const row = await runner.get<T>(sql, args);
        if (commitDuringRead && isHealthQuery(sql)) signal.notify();
        return row;
      },
    };
    const store = createJobStore(committing, UNLIMITED, { healthCache: { commits: signal, pollMs: POLL_MS } });
    opened.push(store);
    await untilCaching(store, committing);
    signal.notify();
    commitDuringRead = true;
    expect(await healthReads(committing, () => store.health(accountId, endpointId))).toBe(1);
    commitDuringRead = false;
    // What was read before that commit was not kept: read again, and kept from now on.
    expect(await healthReads(committing, () => store.health(accountId, endpointId))).toBe(1);
    expect(await healthReads(committing, () => store.health(accountId, endpointId))).toBe(0);
  });

  it("while the data version cannot be read, every answer is read from the table", async () => {
    const blind: SqlRunner = {
      ...runner,
      get: async <T,>(sql: string, args: Parameters<SqlRunner["get"]>[1]) => {
        if (sql.includes("data_version")) throw new Error("unreadable");
        return runner.get<T>(sql, args);
      },
    };
    const store = createJobStore(blind, UNLIMITED, { healthCache: { commits: signal, pollMs: POLL_MS } });
    opened.push(store);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 4)); // several polls, all failing
    for (let i = 0; i < 3; i++) expect(await healthReads(blind, () => store.health(accountId, endpointId))).toBe(1);
  });

  it("answers are copies: a caller cannot change what the next one gets", async () => {
    await untilCaching(cached);
    const first = await cached.health(accountId, endpointId);
    first.inQueue += 100;
    expect(await cached.health(accountId, endpointId)).toEqual(await plain.health(accountId, endpointId));
  });
});
