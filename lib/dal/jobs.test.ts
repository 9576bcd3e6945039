import { rawRows, removeTestDatabase, testDatabasePath, uniqueEmail } from "./test-database";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { startEchoWorker } from "@/lib/worker/echo-worker";
import { createAccount } from "./accounts";
import { createEndpoint } from "./endpoints";
import { createJobStore, type JobStore } from "./jobs";
import { DatabaseUnavailableError, openFileSqlRunner, type SqlRunner } from "./sql-runner";

let runner: SqlRunner;
let jobs: JobStore;
let accountA = "";
let accountB = "";
let epA1 = "";
let epA2 = "";
let epB1 = "";

beforeAll(async () => {
  await getDb();
  runner = openFileSqlRunner(testDatabasePath, 2_000);
  jobs = createJobStore(runner);
  const [a, b] = await Promise.all([createAccount(uniqueEmail("a"), "password-a-123"), createAccount(uniqueEmail("b"), "password-b-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  accountA = a.value.id;
  accountB = b.value.id;
  const endpoint = async (accountId: string, name: string) => {
    const result = await createEndpoint(accountId, name, { type: "dashboard" });
    if (!result.ok) throw new Error("setup: endpoint");
    return result.value.id;
  };
  epA1 = await endpoint(accountA, "a1");
  epA2 = await endpoint(accountA, "a2");
  epB1 = await endpoint(accountB, "b1");
});

afterAll(async () => {
  runner?.close();
  await removeTestDatabase();
});

// Each test starts from an empty queue, so claimNext only sees its own jobs.
beforeEach(async () => {
  await runner.run("DELETE FROM jobs", []);
});

let clock = 1_700_000_000_000;
const now = () => (clock += 1);

async function row(jobId: string) {
  const [found] = await rawRows("SELECT status, output, retries, account_id, endpoint_id FROM jobs WHERE id = ?", [jobId]);
  return found;
}

async function allRows() {
  return rawRows("SELECT * FROM jobs ORDER BY id");
}

async function cancelledJob(accountId: string, endpointId: string): Promise<string> {
  const job = await jobs.enqueue(accountId, endpointId, "{}", now());
  await jobs.cancel(accountId, endpointId, job.id, now());
  return job.id;
}

describe("enqueue and find", () => {
  it("enqueues an IN_QUEUE job of the account and endpoint, found by all three", async () => {
    const job = await jobs.enqueue(accountA, epA1, JSON.stringify({ a: 1 }), 1234);
    expect(job).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: "IN_QUEUE", output: null, createdAt: 1234, startedAt: null, completedAt: null });
    expect(await row(job.id)).toMatchObject({ status: "IN_QUEUE", account_id: accountA, endpoint_id: epA1, retries: 0 });
    expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ id: job.id, status: "IN_QUEUE", output: null, createdAt: 1234 });
    const other = await jobs.enqueue(accountA, epA1, "{}", 1235);
    expect(other.id).not.toBe(job.id);
  });
});

describe("account and endpoint scoping: another account's or endpoint's ids reach nothing", () => {
  it("find", async () => {
    const job = await jobs.enqueue(accountA, epA1, "{}", now());
    expect(await jobs.find(accountB, epA1, job.id)).toBeUndefined();
    expect(await jobs.find(accountB, epB1, job.id)).toBeUndefined();
    expect(await jobs.find(accountA, epA2, job.id)).toBeUndefined();
    expect(await jobs.find(accountA, epA1, job.id)).toBeDefined();
  });

  it("cancel", async () => {
    const job = await jobs.enqueue(accountA, epA1, "{}", now());
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
    expect(await jobs.retry(accountB, epA1, jobId)).toBe(false);
    expect(await jobs.retry(accountB, epB1, jobId)).toBe(false);
    expect(await jobs.retry(accountA, epA2, jobId)).toBe(false);
    expect(await allRows()).toEqual(before);
    expect(await jobs.retry(accountA, epA1, jobId)).toBe(true);
    expect(await row(jobId)).toMatchObject({ status: "IN_QUEUE", retries: 1 });
  });

  it("purgeQueue", async () => {
    const a1 = [await jobs.enqueue(accountA, epA1, "{}", now()), await jobs.enqueue(accountA, epA1, "{}", now())];
    const a2 = await jobs.enqueue(accountA, epA2, "{}", now());
    const b1 = await jobs.enqueue(accountB, epB1, "{}", now());
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
    await jobs.enqueue(accountA, epA1, "{}", now());
    await jobs.enqueue(accountB, epB1, "{}", now());
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
    const done = await jobs.enqueue(accountA, epA1, "{}", now());
    await jobs.enqueue(accountA, epA1, "{}", now()); // claimed second, left running
    const claimed = await jobs.claimNext(now(), 0);
    expect(claimed?.id).toBe(done.id);
    await jobs.complete(done.id, "{}", now());
    const running = await jobs.claimNext(now(), 0);
    expect(running).toBeDefined();
    const retried = await cancelledJob(accountA, epA1);
    await jobs.retry(accountA, epA1, retried);
    await runner.run("INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) VALUES ('failed-1', ?1, ?2, 'FAILED', '{}', ?3)", [accountA, epA1, now()]);
    expect(await jobs.health(accountA, epA1)).toEqual({ completed: 1, failed: 1, inProgress: 1, inQueue: 1, retried: 1 });
  });

  it("claimNext takes the oldest queued job, with its input, and marks it IN_PROGRESS", async () => {
    const first = await jobs.enqueue(accountA, epA2, JSON.stringify({ first: true }), 100);
    await jobs.enqueue(accountA, epA1, JSON.stringify({ second: true }), 200);
    const claimed = await jobs.claimNext(300, 0);
    expect(claimed).toMatchObject({ id: first.id, input: JSON.stringify({ first: true }) });
    expect(await jobs.find(accountA, epA2, first.id)).toMatchObject({ status: "IN_PROGRESS", startedAt: 300 });
  });

  it("claimNext on an empty queue → undefined; it skips cancelled and running jobs", async () => {
    expect(await jobs.claimNext(now(), 0)).toBeUndefined();
    await cancelledJob(accountA, epA1);
    expect(await jobs.claimNext(now(), 0)).toBeUndefined();
  });

  it("complete writes output and time to a running job", async () => {
    const job = await jobs.enqueue(accountA, epA1, JSON.stringify({ x: 1 }), 10);
    await jobs.claimNext(20, 0);
    expect(await jobs.complete(job.id, JSON.stringify({ x: 1 }), 30)).toBe(1);
    expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ status: "COMPLETED", output: JSON.stringify({ x: 1 }), startedAt: 20, completedAt: 30 });
  });

  it("complete does not overwrite a CANCELLED job (cancelled while running)", async () => {
    const job = await jobs.enqueue(accountA, epA1, JSON.stringify({ x: 1 }), now());
    expect((await jobs.claimNext(now(), 0))?.id).toBe(job.id);
    expect(await jobs.cancel(accountA, epA1, job.id, now())).toMatchObject({ status: "CANCELLED" });
    expect(await jobs.complete(job.id, JSON.stringify({ x: 1 }), now())).toBe(0);
    expect(await jobs.find(accountA, epA1, job.id)).toMatchObject({ status: "CANCELLED", output: null });
  });

  it("complete does nothing to a job that was never claimed, or is already finished", async () => {
    const queued = await jobs.enqueue(accountA, epA1, "{}", now());
    expect(await jobs.complete(queued.id, '"x"', now())).toBe(0);
    expect((await row(queued.id))?.status).toBe("IN_QUEUE");
    await jobs.claimNext(now(), 0);
    expect(await jobs.complete(queued.id, '"first"', now())).toBe(1);
    expect(await jobs.complete(queued.id, '"second"', now())).toBe(0);
    expect((await row(queued.id))?.output).toBe('"first"');
  });

  it("cancel leaves a finished job as it is", async () => {
    const job = await jobs.enqueue(accountA, epA1, "{}", now());
    await jobs.claimNext(now(), 0);
    await jobs.complete(job.id, '"done"', now());
    expect(await jobs.cancel(accountA, epA1, job.id, now())).toMatchObject({ status: "COMPLETED", output: '"done"' });
  });

  it("retry only failed, cancelled or timed-out jobs; it clears output and times", async () => {
    const queued = await jobs.enqueue(accountA, epA1, "{}", now());
    expect(await jobs.retry(accountA, epA1, queued.id)).toBe(false);
    await jobs.claimNext(now(), 0);
    expect(await jobs.retry(accountA, epA1, queued.id)).toBe(false);
    await jobs.complete(queued.id, '"done"', now());
    expect(await jobs.retry(accountA, epA1, queued.id)).toBe(false);
    for (const status of ["FAILED", "TIMED_OUT", "CANCELLED"]) {
      await runner.run("UPDATE jobs SET status = ?2, completed_at = 1 WHERE id = ?1", [queued.id, status]);
      expect(await jobs.retry(accountA, epA1, queued.id)).toBe(true);
      expect(await jobs.find(accountA, epA1, queued.id)).toMatchObject({ status: "IN_QUEUE", output: null, startedAt: null, completedAt: null });
    }
    expect((await row(queued.id))?.retries).toBe(3);
  });

  it("purgeQueue leaves running jobs alone", async () => {
    await jobs.enqueue(accountA, epA1, "{}", now());
    const running = await jobs.claimNext(now(), 0);
    await jobs.enqueue(accountA, epA1, "{}", now());
    expect(await jobs.purgeQueue(accountA, epA1, now())).toBe(1);
    expect((await row(running!.id))?.status).toBe("IN_PROGRESS");
  });
});

describe("abandoned jobs", () => {
  it("a job left IN_PROGRESS before the stale cut-off is claimed again; a fresh one is not", async () => {
    const job = await jobs.enqueue(accountA, epA1, JSON.stringify({ again: true }), 1_000);
    expect((await jobs.claimNext(2_000, 0))?.id).toBe(job.id);
    // The process running it died. While it is fresh, no one takes it over…
    expect(await jobs.claimNext(3_000, 1_500)).toBeUndefined();
    // …once it is older than the cut-off, the next worker does, and can finish it.
    expect(await jobs.claimNext(100_000, 50_000)).toMatchObject({ id: job.id, input: JSON.stringify({ again: true }) });
    expect(await jobs.complete(job.id, JSON.stringify({ again: true }), 100_001)).toBe(1);
  });
});

describe("claimNext is atomic", () => {
  async function enqueueMany(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await jobs.enqueue(i % 2 ? accountA : accountB, i % 2 ? epA1 : epB1, JSON.stringify(i), now())).id);
    return ids;
  }

  it("two concurrent claim loops on two connections over 50 queued jobs claim each exactly once", async () => {
    const ids = await enqueueMany(50);
    const second = openFileSqlRunner(testDatabasePath, 2_000);
    try {
      const stores = [jobs, createJobStore(second)];
      const loop = async (store: JobStore) => {
        const claimed: string[] = [];
        for (let job = await store.claimNext(now(), 0); job; job = await store.claimNext(now(), 0)) {
          claimed.push(job.id);
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
    const capture = createJobStore({ ...runner, get: async (sql: string) => ((claimSql = sql), undefined) });
    await capture.claimNext(0, 0);
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
      while (Date.now() - started < 10000) {
        let row;
        try {
          row = claim.get(Date.now(), 0);
        } catch (error) {
          if (String(error.code).startsWith("SQLITE_BUSY")) continue;
          throw error;
        }
        if (!row) break;
        claimed.push(row.id);
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
      const job = await jobs.enqueue(accountA, epA1, JSON.stringify({ echo: [1, "two"] }), now());
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
    const job = await jobs.enqueue(accountA, epA1, "{}", now());
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
      const job = await jobs.enqueue(accountA, epA1, '"x"', now());
      worker.wake();
      await vi.waitFor(async () => expect((await row(job.id))?.status).toBe("COMPLETED"), { timeout: 2_000, interval: 10 });
      expect((await row(job.id))?.output).toBe('"x"');
    } finally {
      worker.stop();
      error.mockRestore();
    }
  });

  it("two workers on two connections complete each of 30 jobs exactly once", async () => {
    const second = openFileSqlRunner(testDatabasePath, 2_000);
    const completions = new Map<string, number>();
    const counting = (store: JobStore): JobStore => ({
      ...store,
      complete: async (jobId, output, at) => {
        const changed = await store.complete(jobId, output, at);
        completions.set(jobId, (completions.get(jobId) ?? 0) + changed);
        return changed;
      },
    });
    const workers = [startEchoWorker(counting(jobs), { pollMs: 5, delayMs: 0 }), startEchoWorker(counting(createJobStore(second)), { pollMs: 5, delayMs: 0 })];
    try {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await jobs.enqueue(accountA, epA1, String(i), now())).id);
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
