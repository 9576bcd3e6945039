import { rawRows, removeTestDatabase, testDatabasePath, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDatabaseHandle, openDatabaseHandle, type SqlRunner } from "@/db/handle";
import { DatabaseUnavailableError } from "@/db/unavailable";
import { startEchoWorker } from "@/lib/worker/echo-worker";
import { createAccount } from "./accounts";
import { createEndpoint } from "./endpoints";
import { createJobStore, type JobQuota, type JobRow, type JobStore } from "./jobs";

// Quotas far out of reach, for the tests that are not about them.
const UNLIMITED: JobQuota = { maxJobs: 1_000_000, maxInputBytes: 1e12 };

let runner: SqlRunner;
let jobs: JobStore;
let accountA = "";
let accountB = "";
let epA1 = "";
let epA2 = "";
let epB1 = "";
let accountC = "";
let epC1 = "";

beforeAll(async () => {
  runner = (await getDatabaseHandle()).sql;
  jobs = createJobStore(runner, UNLIMITED);
  const [a, b, c] = await Promise.all([
    createAccount(uniqueEmail("a"), "password-a-123"),
    createAccount(uniqueEmail("b"), "password-b-123"),
    createAccount(uniqueEmail("c"), "password-c-123"),
  ]);
  if (!a.ok || !b.ok || !c.ok) throw new Error("setup: accounts");
  accountA = a.value.id;
  accountB = b.value.id;
  accountC = c.value.id;
  const endpoint = async (accountId: string, name: string) => {
    const result = await createEndpoint(accountId, name, { type: "dashboard" });
    if (!result.ok) throw new Error("setup: endpoint");
    return result.value.id;
  };
  epA1 = await endpoint(accountA, "a1");
  epA2 = await endpoint(accountA, "a2");
  epB1 = await endpoint(accountB, "b1");
  epC1 = await endpoint(accountC, "c1");
});

afterAll(removeTestDatabase);

/** Another process's connection to the file: a handle of its own, with its own write queue. */
const otherProcess = (busyTimeoutMs = 2_000) => openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs });

// Each test starts from an empty queue, so claimNext only sees its own jobs.
beforeEach(async () => {
  await runner.run("DELETE FROM jobs", []);
});

const NOT_RETRYABLE = { ok: false, code: "NOT_RETRYABLE" };

let clock = 1_700_000_000_000;
const now = () => (clock += 1);

/** Enqueues through `store`, failing the test if a quota refuses it. */
async function enqueue(accountId: string, endpointId: string, inputJson: string, at: number, store: JobStore = jobs): Promise<JobRow> {
  const queued = await store.enqueue(accountId, endpointId, inputJson, at);
  if (!queued.ok) throw new Error(`refused: ${queued.quota}`);
  return queued.value;
}

async function row(jobId: string) {
  const [found] = await rawRows("SELECT status, output, retries, account_id, endpoint_id FROM jobs WHERE id = ?", [jobId]);
  return found;
}

async function allRows() {
  return rawRows("SELECT * FROM jobs ORDER BY id");
}

async function cancelledJob(accountId: string, endpointId: string): Promise<string> {
  const job = await enqueue(accountId, endpointId, "{}", now());
  await jobs.cancel(accountId, endpointId, job.id, now());
  return job.id;
}

describe("enqueue and find", () => {
  it("enqueues an IN_QUEUE job of the account and endpoint, found by all three", async () => {
    const queued = await jobs.enqueue(accountA, epA1, JSON.stringify({ a: 1 }), 1234);
    expect(queued).toEqual({ ok: true, value: { id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: "IN_QUEUE", output: null, createdAt: 1234, startedAt: null, completedAt: null } });
    const job = (queued as { value: JobRow }).value;
    expect(await row(job.id)).toMatchObject({ status: "IN_QUEUE", account_id: accountA, endpoint_id: epA1, retries: 0 });
    expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ id: job.id, status: "IN_QUEUE", output: null, createdAt: 1234 });
    const other = await enqueue(accountA, epA1, "{}", 1235);
    expect(other.id).not.toBe(job.id);
  });
});

describe("account and endpoint scoping: another account's or endpoint's ids reach nothing", () => {
  it("find", async () => {
    const job = await enqueue(accountA, epA1, "{}", now());
    expect(await jobs.find(accountB, epA1, job.id)).toBeUndefined();
    expect(await jobs.find(accountB, epB1, job.id)).toBeUndefined();
    expect(await jobs.find(accountA, epA2, job.id)).toBeUndefined();
    expect(await jobs.find(accountA, epA1, job.id)).toBeDefined();
  });

  it("cancel", async () => {
    const job = await enqueue(accountA, epA1, "{}", now());
    const before = await allRows();
    expect(await jobs.cancel(accountB, epA1, job.id, now())).toBeUndefined();
    expect(await jobs.cancel(accountB, epB1, job.id, now())).toBeUndefined();
    expect(await jobs.cancel(accountA, epA2, job.id, now())).toBeUndefined();
    expect(await allRows()).toEqual(before);
    expect(await jobs.cancel(accountA, epA1, job.id, now())).toMatchObject({ id: job.id, status: "CANCELLED" });
  });

  it("retry", async () => {
    const jobId = await cancelledJob(accountA, epA1);
    const before = await allRows();
    expect(await jobs.retry(accountB, epA1, jobId)).toEqual(NOT_RETRYABLE);
    expect(await jobs.retry(accountB, epB1, jobId)).toEqual(NOT_RETRYABLE);
    expect(await jobs.retry(accountA, epA2, jobId)).toEqual(NOT_RETRYABLE);
    expect(await allRows()).toEqual(before);
    expect(await jobs.retry(accountA, epA1, jobId)).toEqual({ ok: true });
    expect(await row(jobId)).toMatchObject({ status: "IN_QUEUE", retries: 1 });
  });

  it("purgeQueue", async () => {
    const a1 = [await enqueue(accountA, epA1, "{}", now()), await enqueue(accountA, epA1, "{}", now())];
    const a2 = await enqueue(accountA, epA2, "{}", now());
    const b1 = await enqueue(accountB, epB1, "{}", now());
    const before = await allRows();
    // Another account naming this endpoint, and this account naming another's: nothing.
    expect(await jobs.purgeQueue(accountB, epA1, now())).toBe(0);
    expect(await jobs.purgeQueue(accountA, epB1, now())).toBe(0);
    expect(await allRows()).toEqual(before);
    expect(await jobs.purgeQueue(accountA, epA1, now())).toBe(2);
    for (const job of a1) expect((await row(job.id))?.status).toBe("CANCELLED");
    expect((await row(a2.id))?.status).toBe("IN_QUEUE");
    expect((await row(b1.id))?.status).toBe("IN_QUEUE");
  });

  it("health", async () => {
    await enqueue(accountA, epA1, "{}", now());
    await enqueue(accountB, epB1, "{}", now());
    const zero = { completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 };
    expect(await jobs.health(accountB, epA1)).toEqual(zero);
    expect(await jobs.health(accountA, epB1)).toEqual(zero);
    expect(await jobs.health(accountA, epA2)).toEqual(zero);
    expect(await jobs.health(accountA, epA1)).toEqual({ ...zero, inQueue: 1 });
    expect(await jobs.health(accountB, epB1)).toEqual({ ...zero, inQueue: 1 });
  });
});

describe("job lifecycle", () => {
  it("health counts each status, and retried jobs", async () => {
    const done = await enqueue(accountA, epA1, "{}", now());
    await enqueue(accountA, epA1, "{}", now()); // claimed second, left running
    const claimed = await jobs.claimNext(now(), 0, null);
    expect(claimed?.id).toBe(done.id);
    await jobs.complete(done.id, "{}", now());
    const running = await jobs.claimNext(now(), 0, null);
    expect(running).toBeDefined();
    const retried = await cancelledJob(accountA, epA1);
    await jobs.retry(accountA, epA1, retried);
    await runner.run("INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) VALUES ('failed-1', ?1, ?2, 'FAILED', '{}', ?3)", [accountA, epA1, now()]);
    expect(await jobs.health(accountA, epA1)).toEqual({ completed: 1, failed: 1, inProgress: 1, inQueue: 1, retried: 1 });
  });

  it("claimNext takes the oldest queued job, with its input, and marks it IN_PROGRESS", async () => {
    const first = await enqueue(accountA, epA2, JSON.stringify({ first: true }), 100);
    await enqueue(accountA, epA1, JSON.stringify({ second: true }), 200);
    const claimed = await jobs.claimNext(300, 0, null);
    expect(claimed).toMatchObject({ id: first.id, input: JSON.stringify({ first: true }) });
    expect(await jobs.find(accountA, epA2, first.id)).toMatchObject({ status: "IN_PROGRESS", startedAt: 300 });
  });

  it("claimNext on an empty queue → undefined; it skips cancelled and running jobs", async () => {
    expect(await jobs.claimNext(now(), 0, null)).toBeUndefined();
    await cancelledJob(accountA, epA1);
    expect(await jobs.claimNext(now(), 0, null)).toBeUndefined();
  });

  it("complete writes output and time to a running job", async () => {
    const job = await enqueue(accountA, epA1, JSON.stringify({ x: 1 }), 10);
    await jobs.claimNext(20, 0, null);
    expect(await jobs.complete(job.id, JSON.stringify({ x: 1 }), 30)).toBe(1);
    expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ status: "COMPLETED", output: JSON.stringify({ x: 1 }), startedAt: 20, completedAt: 30 });
  });

  it("complete does not overwrite a CANCELLED job (cancelled while running)", async () => {
    const job = await enqueue(accountA, epA1, JSON.stringify({ x: 1 }), now());
    expect((await jobs.claimNext(now(), 0, null))?.id).toBe(job.id);
    expect(await jobs.cancel(accountA, epA1, job.id, now())).toMatchObject({ status: "CANCELLED" });
    expect(await jobs.complete(job.id, JSON.stringify({ x: 1 }), now())).toBe(0);
    expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ status: "CANCELLED", output: null });
  });

  it("complete does nothing to a job that was never claimed, or is already finished", async () => {
    const queued = await enqueue(accountA, epA1, "{}", now());
    expect(await jobs.complete(queued.id, '"x"', now())).toBe(0);
    expect((await row(queued.id))?.status).toBe("IN_QUEUE");
    await jobs.claimNext(now(), 0, null);
    expect(await jobs.complete(queued.id, '"first"', now())).toBe(1);
    expect(await jobs.complete(queued.id, '"second"', now())).toBe(0);
    expect((await row(queued.id))?.output).toBe('"first"');
  });

  it("cancel leaves a finished job as it is", async () => {
    const job = await enqueue(accountA, epA1, "{}", now());
    await jobs.claimNext(now(), 0, null);
    await jobs.complete(job.id, '"done"', now());
    expect(await jobs.cancel(accountA, epA1, job.id, now())).toMatchObject({ status: "COMPLETED", output: '"done"' });
  });

  it("retry only failed, cancelled or timed-out jobs; it clears output and times", async () => {
    const queued = await enqueue(accountA, epA1, "{}", now());
    expect(await jobs.retry(accountA, epA1, queued.id)).toEqual(NOT_RETRYABLE);
    await jobs.claimNext(now(), 0, null);
    expect(await jobs.retry(accountA, epA1, queued.id)).toEqual(NOT_RETRYABLE);
    await jobs.complete(queued.id, '"done"', now());
    expect(await jobs.retry(accountA, epA1, queued.id)).toEqual(NOT_RETRYABLE);
    for (const status of ["FAILED", "TIMED_OUT", "CANCELLED"]) {
      await runner.run("UPDATE jobs SET status = ?2, completed_at = 1 WHERE id = ?1", [queued.id, status]);
      expect(await jobs.retry(accountA, epA1, queued.id)).toEqual({ ok: true });
      expect(await jobs.find(accountA, epA1, queued.id)).toMatchObject({ status: "IN_QUEUE", output: null, startedAt: null, completedAt: null });
    }
    expect((await row(queued.id))?.retries).toBe(3);
  });

  it("purgeQueue leaves running jobs alone", async () => {
    await enqueue(accountA, epA1, "{}", now());
    const running = await jobs.claimNext(now(), 0, null);
    await enqueue(accountA, epA1, "{}", now());
    expect(await jobs.purgeQueue(accountA, epA1, now())).toBe(1);
    expect((await row(running!.id))?.status).toBe("IN_PROGRESS");
  });
});

describe("abandoned jobs", () => {
  it("a job left IN_PROGRESS before the stale cut-off is claimed again; a fresh one is not", async () => {
    const job = await enqueue(accountA, epA1, JSON.stringify({ again: true }), 1_000);
    expect((await jobs.claimNext(2_000, 0, null))?.id).toBe(job.id);
    // The process running it died. While it is fresh, no one takes it over…
    expect(await jobs.claimNext(3_000, 1_500, null)).toBeUndefined();
    // …once it is older than the cut-off, the next worker does, and can finish it.
    expect(await jobs.claimNext(100_000, 50_000, null)).toMatchObject({ id: job.id, input: JSON.stringify({ again: true }) });
    expect(await jobs.complete(job.id, JSON.stringify({ again: true }), 100_001)).toBe(1);
  });
});

describe("claimNext is atomic", () => {
  async function enqueueMany(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await enqueue(i % 2 ? accountA : accountB, i % 2 ? epA1 : epB1, JSON.stringify(i), now())).id);
    return ids;
  }

  it("two concurrent claim loops on two connections over 50 queued jobs claim each exactly once", async () => {
    const ids = await enqueueMany(50);
    const second = otherProcess();
    try {
      const stores = [jobs, createJobStore(second.sql, UNLIMITED)];
      const loop = async (store: JobStore) => {
        const claimed: string[] = [];
        let last: string | null = null;
        for (let job = await store.claimNext(now(), 0, last); job; job = await store.claimNext(now(), 0, last)) {
          claimed.push(job.id);
          last = job.accountId;
          // Yield, so the two loops interleave.
          await new Promise((resolve) => setImmediate(resolve));
        }
        return claimed;
      };
      const [one, two] = await Promise.all(stores.map(loop));
      expect(one!.length).toBeGreaterThan(0);
      expect(two!.length).toBeGreaterThan(0);
      expect([...one!, ...two!].sort()).toEqual([...ids].sort());
      const [counts] = await rawRows("SELECT count(*) AS n, sum(status = 'IN_PROGRESS') AS running FROM jobs");
      expect(counts).toMatchObject({ n: 50, running: 50 });
    } finally {
      second.close();
    }
  });

  it("four threads running the same claim statement in parallel claim each of 50 jobs exactly once", async () => {
    // The exact statement claimNext runs, captured from the store.
    let claimSql = "";
    const capture = createJobStore({ ...runner, get: async (sql: string) => ((claimSql = sql), undefined) }, UNLIMITED);
    await capture.claimNext(0, 0, null);
    expect(claimSql).toMatch(/UPDATE jobs/);

    const ids = await enqueueMany(50);
    const libsqlPath = createRequire(import.meta.url).resolve("libsql");
    const code = `
      const { parentPort, workerData } = require("node:worker_threads");
      const Database = require(workerData.libsqlPath);
      const db = new Database(workerData.file, { timeout: 5000 });
      const claim = db.prepare(workerData.sql);
      const claimed = [];
      const started = Date.now();
      let last = null;
      while (Date.now() - started < 10000) {
        let row;
        try {
          row = claim.get(Date.now(), 0, last);
        } catch (error) {
          if (String(error.code).startsWith("SQLITE_BUSY")) continue;
          throw error;
        }
        if (!row) break;
        claimed.push(row.id);
        last = row.accountId;
      }
      db.close();
      parentPort.postMessage(claimed);
    `;
    const run = () =>
      new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { libsqlPath, file: testDatabasePath, sql: claimSql } });
        worker.once("message", resolve);
        worker.once("error", reject);
      });
    const results = await Promise.all([run(), run(), run(), run()]);
    const all = results.flat();
    expect(all).toHaveLength(50);
    expect(new Set(all).size).toBe(50);
    expect([...all].sort()).toEqual([...ids].sort());
    const [counts] = await rawRows("SELECT sum(status = 'IN_PROGRESS') AS running FROM jobs");
    expect(counts?.running).toBe(50);
  });
});

describe("the echo worker over the job store", () => {
  it("runs queued jobs when woken: output = input, and settles waiters at once", async () => {
    const worker = startEchoWorker(jobs, { pollMs: 60_000, delayMs: 0 });
    try {
      const job = await enqueue(accountA, epA1, JSON.stringify({ echo: [1, "two"] }), now());
      const settled = worker.settledOrTimeout(job.id, 5_000);
      const started = Date.now();
      worker.wake();
      await settled;
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ status: "COMPLETED", output: JSON.stringify({ echo: [1, "two"] }) });
    } finally {
      worker.stop();
    }
  });

  it("a stopped worker takes no job: it stays queued, not IN_PROGRESS for ever", async () => {
    const worker = startEchoWorker(jobs, { pollMs: 10, delayMs: 0 });
    worker.stop();
    const job = await enqueue(accountA, epA1, "{}", now());
    worker.wake();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await row(job.id))?.status).toBe("IN_QUEUE");
  });

  it("a job it took but could not complete (database locked) is completed on the next poll", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    let failures = 1;
    const flaky: JobStore = {
      ...jobs,
      complete: (...args) => (failures-- > 0 ? Promise.reject(new DatabaseUnavailableError("locked")) : jobs.complete(...args)),
    };
    const worker = startEchoWorker(flaky, { pollMs: 20, delayMs: 0 });
    try {
      const job = await enqueue(accountA, epA1, '"x"', now());
      worker.wake();
      await vi.waitFor(async () => expect((await row(job.id))?.status).toBe("COMPLETED"), { timeout: 2_000, interval: 10 });
      expect((await row(job.id))?.output).toBe('"x"');
    } finally {
      worker.stop();
      error.mockRestore();
    }
  });

  it("two workers on two connections complete each of 30 jobs exactly once", async () => {
    const second = otherProcess();
    const completions = new Map<string, number>();
    const counting = (store: JobStore): JobStore => ({
      ...store,
      complete: async (jobId, output, at) => {
        const changed = await store.complete(jobId, output, at);
        completions.set(jobId, (completions.get(jobId) ?? 0) + changed);
        return changed;
      },
    });
    const workers = [startEchoWorker(counting(jobs), { pollMs: 5, delayMs: 0 }), startEchoWorker(counting(createJobStore(second.sql, UNLIMITED)), { pollMs: 5, delayMs: 0 })];
    try {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await enqueue(accountA, epA1, String(i), now())).id);
      await vi.waitFor(async () => expect((await rawRows("SELECT count(*) AS n FROM jobs WHERE status = 'COMPLETED'"))[0]?.n).toBe(30), { timeout: 5_000, interval: 10 });
      expect([...completions.keys()].sort()).toEqual([...ids].sort());
      expect([...completions.values()].every((n) => n === 1)).toBe(true);
    } finally {
      for (const worker of workers) worker.stop();
      await new Promise((resolve) => setTimeout(resolve, 20));
      second.close();
    }
  });
});

const quoted = (text: string) => JSON.stringify(text);

describe("per-account quotas on unfinished jobs", () => {
  const refused = (quota: "jobs" | "inputBytes", limit: number) => ({ ok: false, code: "JOB_QUOTA_EXCEEDED", quota, limit });
  const unfinished = async (accountId: string) =>
    Number((await rawRows("SELECT count(*) AS n FROM jobs WHERE account_id = ? AND status IN ('IN_QUEUE', 'IN_PROGRESS')", [accountId]))[0]?.n);

  it("by count: up to the limit is allowed, across the account's endpoints; one more is refused and leaves no row", async () => {
    const store = createJobStore(runner, { maxJobs: 3, maxInputBytes: 1e12 });
    for (const endpointId of [epA1, epA2, epA1]) await enqueue(accountA, endpointId, "{}", now(), store);
    const before = await allRows();
    expect(await store.enqueue(accountA, epA2, "{}", now())).toEqual(refused("jobs", 3));
    expect(await allRows()).toEqual(before);
  });

  it("running jobs count; completed and cancelled ones free their place", async () => {
    const store = createJobStore(runner, { maxJobs: 2, maxInputBytes: 1e12 });
    const first = await enqueue(accountA, epA1, "{}", now(), store);
    const second = await enqueue(accountA, epA1, "{}", now(), store);
    expect((await store.claimNext(now(), 0, null))?.id).toBe(first.id);
    expect(await store.enqueue(accountA, epA1, "{}", now())).toEqual(refused("jobs", 2));
    await store.complete(first.id, "{}", now());
    const third = await enqueue(accountA, epA1, "{}", now(), store);
    expect(await store.enqueue(accountA, epA1, "{}", now())).toEqual(refused("jobs", 2));
    await store.cancel(accountA, epA1, second.id, now());
    expect(await store.enqueue(accountA, epA1, "{}", now())).toMatchObject({ ok: true });
    expect(await unfinished(accountA)).toBe(2);
    expect((await row(third.id))?.status).toBe("IN_QUEUE");
  });

  // One job on an empty queue, 20 bytes allowed. Every refused input is 20 characters or fewer:
  // counting characters (SQLite's length() of TEXT) instead of bytes would let it in.
  it.each([
    ["20 ASCII bytes", quoted("a".repeat(18)), 20, true],
    ["21 ASCII bytes", quoted("a".repeat(19)), 21, false],
    ["9 × é: 20 bytes in 11 characters", quoted("é".repeat(9)), 20, true],
    ["9 × é and an a: 21 bytes in 12 characters", quoted(`${"é".repeat(9)}a`), 21, false],
    ["6 × ✓: 20 bytes in 8 characters", quoted("✓".repeat(6)), 20, true],
    ["5 × 🚀: 22 bytes in 7 characters", quoted("🚀".repeat(5)), 22, false],
  ])("by input bytes: %s", async (_label, input, bytes, allowed) => {
    expect(Buffer.byteLength(input)).toBe(bytes);
    const store = createJobStore(runner, { maxJobs: 100, maxInputBytes: 20 });
    const result = await store.enqueue(accountA, epA1, input, now());
    if (allowed) {
      expect(result).toMatchObject({ ok: true });
      expect((await allRows())[0]?.input).toBe(input);
    } else {
      expect(result).toEqual(refused("inputBytes", 20));
      expect(await allRows()).toEqual([]);
    }
  });

  it("by input bytes: the sum over the account's unfinished jobs, up to the limit exactly", async () => {
    const store = createJobStore(runner, { maxJobs: 100, maxInputBytes: 20 });
    const accented = await enqueue(accountA, epA1, quoted("é".repeat(4)), now(), store); // 10 bytes
    await enqueue(accountA, epA2, quoted("a".repeat(8)), now(), store); // 10 bytes: 20 in all
    const before = await allRows();
    expect(await store.enqueue(accountA, epA1, "1", now())).toEqual(refused("inputBytes", 20));
    expect(await allRows()).toEqual(before);
    await store.cancel(accountA, epA1, accented.id, now());
    expect(await store.enqueue(accountA, epA1, quoted("é".repeat(4)), now())).toMatchObject({ ok: true });
  });

  it("one account at its quotas does not refuse another", async () => {
    const byCount = createJobStore(runner, { maxJobs: 2, maxInputBytes: 1e12 });
    await enqueue(accountA, epA1, "{}", now(), byCount);
    await enqueue(accountA, epA1, "{}", now(), byCount);
    expect(await byCount.enqueue(accountA, epA1, "{}", now())).toEqual(refused("jobs", 2));
    expect(await byCount.enqueue(accountB, epB1, "{}", now())).toMatchObject({ ok: true });
    expect(await byCount.enqueue(accountB, epB1, "{}", now())).toMatchObject({ ok: true });
    expect(await byCount.enqueue(accountB, epB1, "{}", now())).toEqual(refused("jobs", 2));

    const byBytes = createJobStore(runner, { maxJobs: 100, maxInputBytes: 10 });
    await runner.run("DELETE FROM jobs", []);
    await enqueue(accountA, epA1, quoted("a".repeat(8)), now(), byBytes);
    expect(await byBytes.enqueue(accountA, epA1, "1", now())).toEqual(refused("inputBytes", 10));
    expect(await byBytes.enqueue(accountB, epB1, quoted("a".repeat(8)), now())).toMatchObject({ ok: true });
  });

  it.each([
    ["count", { maxJobs: 10, maxInputBytes: 1e12 }, "jobs" as const, 10],
    ["input bytes", { maxJobs: 1_000, maxInputBytes: 100 }, "inputBytes" as const, 100],
  ])("60 concurrent submissions over three connections never exceed the %s quota", async (_label, quota, which, limit) => {
    const others = [otherProcess(5_000), otherProcess(5_000)];
    try {
      const stores = [createJobStore(runner, quota), ...others.map((other) => createJobStore(other.sql, quota))];
      // Each input is 10 bytes: the byte quota admits 10 of them, as the count quota does.
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.enqueue(accountA, epA1, quoted(`é${String(i).padStart(6, "0")}`), now())));
      expect(results.filter((result) => result.ok)).toHaveLength(10);
      expect(results.filter((result) => !result.ok)).toEqual(Array.from({ length: 50 }, () => refused(which, limit)));
      expect(await unfinished(accountA)).toBe(10);
      expect((await allRows()).map((job) => Buffer.byteLength(job.input as string))).toEqual(Array.from({ length: 10 }, () => 10));
    } finally {
      for (const other of others) other.close();
    }
  });

  it("retry obeys the count quota: refused with no change, allowed once a place is free", async () => {
    const store = createJobStore(runner, { maxJobs: 2, maxInputBytes: 1e12 });
    const cancelled = await enqueue(accountA, epA1, "{}", now(), store);
    await store.cancel(accountA, epA1, cancelled.id, now());
    const second = await enqueue(accountA, epA1, "{}", now(), store);
    await enqueue(accountA, epA2, "{}", now(), store);
    const before = await allRows();
    expect(await store.retry(accountA, epA1, cancelled.id)).toEqual(refused("jobs", 2));
    expect(await allRows()).toEqual(before);
    await store.cancel(accountA, epA1, second.id, now());
    expect(await store.retry(accountA, epA1, cancelled.id)).toEqual({ ok: true });
    expect(await row(cancelled.id)).toMatchObject({ status: "IN_QUEUE", retries: 1 });
  });

  it("retry obeys the byte quota, counting the retried job's own input in bytes", async () => {
    const store = createJobStore(runner, { maxJobs: 100, maxInputBytes: 20 });
    const retried = await enqueue(accountA, epA1, quoted("é".repeat(6)), now(), store); // 14 bytes in 8 characters
    await store.cancel(accountA, epA1, retried.id, now());
    const seven = await enqueue(accountA, epA1, quoted("a".repeat(5)), now(), store); // 14 + 7 = 21
    const before = await allRows();
    expect(await store.retry(accountA, epA1, retried.id)).toEqual(refused("inputBytes", 20));
    expect(await allRows()).toEqual(before);
    await store.cancel(accountA, epA1, seven.id, now());
    await enqueue(accountA, epA1, quoted("a".repeat(4)), now(), store); // 14 + 6 = 20: exactly the limit
    expect(await store.retry(accountA, epA1, retried.id)).toEqual({ ok: true });
  });

  it("retry of another account's job is NOT_RETRYABLE, never a quota answer, even when that account is full", async () => {
    const store = createJobStore(runner, { maxJobs: 1, maxInputBytes: 1e12 });
    const cancelled = await enqueue(accountA, epA1, "{}", now(), store);
    await store.cancel(accountA, epA1, cancelled.id, now());
    await enqueue(accountA, epA1, "{}", now(), store);
    await enqueue(accountB, epB1, "{}", now(), store);
    expect(await store.retry(accountB, epA1, cancelled.id)).toEqual(NOT_RETRYABLE);
    expect(await store.retry(accountB, epB1, cancelled.id)).toEqual(NOT_RETRYABLE);
    expect(await store.retry(accountA, epA1, cancelled.id)).toEqual(refused("jobs", 1));
  });
});

describe("claimNext takes accounts in turn", () => {
  /** A's flood, written in one statement: oldest first, all older than anything queued after. */
  async function flood(accountId: string, endpointId: string, count: number) {
    const start = clock;
    clock += count;
    await runner.run(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
       INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) SELECT 'flood-' || i, ?1, ?2, 'IN_QUEUE', i, ?4 + i FROM n`,
      [accountId, endpointId, count, start],
    );
  }

  /** Claims as the echo worker does, each claim after the account served last. */
  async function claimInTurn(count: number, store: JobStore = jobs): Promise<{ id: string; accountId: string }[]> {
    const claimed: { id: string; accountId: string }[] = [];
    let last: string | null = null;
    for (let i = 0; i < count; i++) {
      const job = await store.claimNext(now(), 0, last);
      if (!job) break;
      claimed.push(job);
      last = job.accountId;
    }
    return claimed;
  }

  type Owner = { account: string; endpoint: string };
  /** The three accounts in turn order. A flood comes from the first, so only turns let others in. */
  const inTurnOrder = () =>
    [
      { account: accountA, endpoint: epA1 },
      { account: accountB, endpoint: epB1 },
      { account: accountC, endpoint: epC1 },
    ].sort((p, q) => (p.account < q.account ? -1 : 1)) as [Owner, Owner, Owner];

  it("one account enqueues 400 jobs, then another one: that one is among the first two claims", async () => {
    const [flooder, other] = inTurnOrder();
    await flood(flooder.account, flooder.endpoint, 400);
    const single = await enqueue(other.account, other.endpoint, '"b"', now());
    const firstTwo = await claimInTurn(2);
    expect(firstTwo.map((job) => job.id)).toContain(single.id);
  });

  it("three accounts take turns in account order, each oldest job first, wrapping round", async () => {
    const [x, y, z] = inTurnOrder();
    const ids: Record<string, string> = {};
    // Oldest first: in FIFO order the claims would be x1 x2 x3 y1 y2 z1.
    for (const [label, owner] of [["x1", x], ["x2", x], ["x3", x], ["y1", y], ["y2", y], ["z1", z]] as const) {
      ids[label] = (await enqueue(owner.account, owner.endpoint, quoted(label), now())).id;
    }
    const claimed = await claimInTurn(10);
    expect(claimed.map((job) => Object.keys(ids).find((label) => ids[label] === job.id))).toEqual(["x1", "y1", "z1", "x2", "y2", "x3"]);
  });

  it("after the account served last comes the next one in order; after the last, the first again", async () => {
    const [first, second] = [accountA, accountB].sort();
    const endpointOf = (accountId: string) => (accountId === accountA ? epA1 : epB1);
    const [f1, f2] = [await enqueue(first!, endpointOf(first!), "1", now()), await enqueue(first!, endpointOf(first!), "2", now())];
    const s1 = await enqueue(second!, endpointOf(second!), "3", now());
    expect((await jobs.claimNext(now(), 0, first!))?.id).toBe(s1.id);
    expect((await jobs.claimNext(now(), 0, second!))?.id).toBe(f1.id);
    // An id after every account's (the account served last has been deleted, say): wraps too.
    expect((await jobs.claimNext(now(), 0, "\u{10FFFF}"))?.id).toBe(f2.id);
  });

  it("a job abandoned IN_PROGRESS is taken back first, whoever's turn it is", async () => {
    const abandoned = await enqueue(accountA, epA1, "1", 1_000);
    expect((await jobs.claimNext(2_000, 0, null))?.id).toBe(abandoned.id);
    const waiting = await enqueue(accountB, epB1, "2", 3_000);
    expect((await jobs.claimNext(100_000, 50_000, accountA))?.id).toBe(abandoned.id);
    expect((await jobs.claimNext(100_001, 50_000, accountA))?.id).toBe(waiting.id);
  });

  it("the echo worker serves another account's single job before one account's flood of 400", async () => {
    const [flooder, other] = inTurnOrder();
    const order: string[] = [];
    const recording: JobStore = {
      ...jobs,
      complete: async (jobId, output, at) => {
        order.push(jobId);
        return jobs.complete(jobId, output, at);
      },
    };
    await flood(flooder.account, flooder.endpoint, 400);
    const single = await enqueue(other.account, other.endpoint, '"b"', now());
    const worker = startEchoWorker(recording, { pollMs: 60_000, delayMs: 0 });
    try {
      const settled = worker.settledOrTimeout(single.id, 10_000);
      worker.wake();
      await settled;
      expect(order.indexOf(single.id)).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(single.id)).toBeLessThan(2);
    } finally {
      worker.stop();
      // Let the drain in flight finish its current job before the next test empties the table.
      await vi.waitFor(async () => expect((await rawRows("SELECT count(*) AS n FROM jobs WHERE status = 'IN_PROGRESS'"))[0]?.n).toBe(0), { timeout: 5_000, interval: 10 });
    }
  });
});
