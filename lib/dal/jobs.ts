import "server-only";
import { randomUUID } from "node:crypto";
import type { SqlRunner } from "@/db/handle";

export type JobStatus = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT";
export const FINISHED_STATUSES: readonly JobStatus[] = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];

export type JobRow = {
  id: string;
  status: JobStatus;
  output: string | null;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
};

export type EndpointHealth = { completed: number; failed: number; inProgress: number; inQueue: number; retried: number };

const JOB_COLUMNS = "id, status, output, created_at AS createdAt, started_at AS startedAt, completed_at AS completedAt";
const RETRYABLE = "('FAILED', 'CANCELLED', 'TIMED_OUT')";

/** What one account may have unfinished (IN_QUEUE + IN_PROGRESS) at once. */
export type JobQuota = { maxJobs: number; maxInputBytes: number };

/** A submission or retry refused because the account's unfinished jobs are at a quota. */
export type JobQuotaExceeded = { ok: false; code: "JOB_QUOTA_EXCEEDED"; quota: "jobs" | "inputBytes"; limit: number };

// The account's unfinished jobs, counted on jobs_account_status_idx. octet_length() counts the
// UTF-8 bytes of the stored text (length() would count characters) and reads the size from the
// record header, where length(CAST(input AS BLOB)) reads every byte of every input: ~0.1 ms
// against ~15 ms for 1,000 queued jobs of 50 kB.
const UNFINISHED = "SELECT count(*) AS n, coalesce(sum(octet_length(input)), 0) AS bytes FROM jobs WHERE account_id = ?1 AND status IN ('IN_QUEUE', 'IN_PROGRESS')";

const HEALTH = `SELECT sum(status = 'COMPLETED') AS completed, sum(status = 'FAILED') AS failed,
                       sum(status = 'IN_PROGRESS') AS inProgress, sum(status = 'IN_QUEUE') AS inQueue,
                       sum(retries > 0) AS retried
                FROM jobs WHERE endpoint_id = ?1 AND account_id = ?2`;

// Bumped by SQLite whenever another connection (another process, or this process's drizzle client)
// commits: the cheapest way to hear of any change to the jobs, one tiny read per poll.
const DATA_VERSION = "SELECT data_version AS version FROM pragma_data_version";

export type HealthCacheOptions = {
  /** This process's own commits, on every path that writes (db/commit-signal.ts). */
  commits: { listen(listener: () => void): () => void };
  /** How often the data version is read for other connections' commits. */
  pollMs: number;
  maxEntries?: number;
};

/**
 * Health counts per (account, endpoint), kept while nothing has been committed since they were
 * read: the health query is the one database read left on the gateway's hottest route once
 * decisions are cached. Dropped at once by this process's commits (so its own runs, cancels and
 * completions show on the next request) and within one poll by any other connection's; never kept
 * for a length of time. Until the data version can be read, every call reads the table.
 */
function createHealthCache(sql: SqlRunner, options: HealthCacheOptions, read: (accountId: string, endpointId: string) => Promise<EndpointHealth>) {
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, EndpointHealth>();
  let generation = 0;
  let version: number | undefined;
  let trusted = false;
  const drop = () => {
    generation += 1;
    entries.clear();
  };
  const unlisten = options.commits.listen(drop);
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const row = await sql.get<{ version: number }>(DATA_VERSION, []);
      if (row?.version !== version) drop();
      version = row?.version;
      trusted = version !== undefined;
    } catch {
      drop();
      trusted = false;
    } finally {
      polling = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), options.pollMs);
  timer.unref();
  return {
    async get(accountId: string, endpointId: string): Promise<EndpointHealth> {
      if (!trusted) return read(accountId, endpointId);
      const key = `${accountId} ${endpointId}`;
      const hit = entries.get(key);
      if (hit) return { ...hit };
      // A commit while this read is under way drops the entry before it is kept.
      const readAt = generation;
      const counts = await read(accountId, endpointId);
      if (readAt === generation && trusted) {
        if (entries.size >= maxEntries) entries.clear();
        entries.set(key, counts);
      }
      return { ...counts };
    },
    close() {
      clearInterval(timer);
      unlisten();
      drop();
      trusted = false;
    },
  };
}

// Every statement below that a request can reach names the account and the endpoint, so a job
// id alone never reaches another account's job.
export function createJobStore(sql: SqlRunner, quota: JobQuota, options: { healthCache?: HealthCacheOptions } = {}) {
  /**
   * Which quota refused a job: read after the refusal, only to word it (a job finishing in
   * between can make it name the byte quota when the count was the one at its limit).
   */
  async function refusal(accountId: string): Promise<JobQuotaExceeded> {
    const usage = await sql.get<{ n: number }>(UNFINISHED, [accountId]);
    return Number(usage?.n ?? 0) >= quota.maxJobs
      ? { ok: false, code: "JOB_QUOTA_EXCEEDED", quota: "jobs", limit: quota.maxJobs }
      : { ok: false, code: "JOB_QUOTA_EXCEEDED", quota: "inputBytes", limit: quota.maxInputBytes };
  }

  async function readHealth(accountId: string, endpointId: string): Promise<EndpointHealth> {
    const row = await sql.get<Record<keyof EndpointHealth, number | null>>(HEALTH, [endpointId, accountId]);
    return {
      completed: Number(row?.completed ?? 0),
      failed: Number(row?.failed ?? 0),
      inProgress: Number(row?.inProgress ?? 0),
      inQueue: Number(row?.inQueue ?? 0),
      retried: Number(row?.retried ?? 0),
    };
  }
  const healthCache = options.healthCache ? createHealthCache(sql, options.healthCache, readHealth) : undefined;

  return {
    /**
     * Queues a job unless the account's unfinished jobs are at a quota. Check and insert are one
     * statement, in one write transaction: two concurrent submissions cannot both slip under.
     */
    async enqueue(accountId: string, endpointId: string, inputJson: string, now: number): Promise<{ ok: true; value: JobRow } | JobQuotaExceeded> {
      const id = randomUUID();
      const inserted = await sql.run(
        `INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at)
         SELECT ?2, ?1, ?3, 'IN_QUEUE', ?4, ?5 FROM (${UNFINISHED}) AS unfinished
         WHERE unfinished.n < ?6 AND unfinished.bytes + octet_length(?4) <= ?7`,
        [accountId, id, endpointId, inputJson, now, quota.maxJobs, quota.maxInputBytes],
      );
      if (inserted === 0) return refusal(accountId);
      return { ok: true, value: { id, status: "IN_QUEUE", output: null, createdAt: now, startedAt: null, completedAt: null } };
    },

    find(accountId: string, endpointId: string, jobId: string): Promise<JobRow | undefined> {
      return sql.get<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?1 AND endpoint_id = ?2 AND account_id = ?3`, [jobId, endpointId, accountId]);
    },

    /** Cancels a queued or running job; a finished job is left as it is. */
    async cancel(accountId: string, endpointId: string, jobId: string, now: number): Promise<JobRow | undefined> {
      await sql.run(
        "UPDATE jobs SET status = 'CANCELLED', completed_at = ?4 WHERE id = ?1 AND endpoint_id = ?2 AND account_id = ?3 AND status IN ('IN_QUEUE', 'IN_PROGRESS')",
        [jobId, endpointId, accountId, now],
      );
      return this.find(accountId, endpointId, jobId);
    },

    /**
     * Puts a failed, cancelled or timed-out job back in the queue, under the same quota as a new
     * job (checked in the same statement); NOT_RETRYABLE when it is not such a job of the account.
     */
    async retry(accountId: string, endpointId: string, jobId: string): Promise<{ ok: true } | { ok: false; code: "NOT_RETRYABLE" } | JobQuotaExceeded> {
      const changed = await sql.run(
        `UPDATE jobs SET status = 'IN_QUEUE', output = NULL, started_at = NULL, completed_at = NULL, retries = retries + 1
         WHERE id = ?2 AND endpoint_id = ?3 AND account_id = ?1 AND status IN ${RETRYABLE}
           AND (SELECT unfinished.n < ?4 AND unfinished.bytes + octet_length(jobs.input) <= ?5 FROM (${UNFINISHED}) AS unfinished)`,
        [accountId, jobId, endpointId, quota.maxJobs, quota.maxInputBytes],
      );
      if (changed > 0) return { ok: true };
      const job = await sql.get<{ retryable: number }>(`SELECT status IN ${RETRYABLE} AS retryable FROM jobs WHERE id = ?1 AND endpoint_id = ?2 AND account_id = ?3`, [
        jobId,
        endpointId,
        accountId,
      ]);
      return job?.retryable ? refusal(accountId) : { ok: false, code: "NOT_RETRYABLE" };
    },

    /** Cancels every queued job of the endpoint; returns how many. */
    purgeQueue(accountId: string, endpointId: string, now: number): Promise<number> {
      return sql.run(
        "UPDATE jobs SET status = 'CANCELLED', completed_at = ?3 WHERE endpoint_id = ?1 AND account_id = ?2 AND status = 'IN_QUEUE'",
        [endpointId, accountId, now],
      );
    },

    /** The endpoint's job counts (cached, when the store has a health cache). */
    health(accountId: string, endpointId: string): Promise<EndpointHealth> {
      return healthCache ? healthCache.get(accountId, endpointId) : readHealth(accountId, endpointId);
    },

    /** Stops the health cache's poll. */
    close(): void {
      healthCache?.close();
    },

    // The worker's side: not reachable from a request.

    /**
     * Atomically takes the next job, so two processes never run the same one. Accounts take turns:
     * the oldest queued job of the first account after `afterAccountId` (the one served last;
     * wrapping, and from the first account when null), so one account's flood waits behind another
     * account's single job instead of ahead of it.
     *
     * A job left IN_PROGRESS since before `staleBefore` comes first: the process running it died
     * (kill -9, power cut) and no one else would ever finish it.
     *
     * Cost, with the existing indexes: the account hop reads the queued rows on jobs_queue_idx
     * (status = 'IN_QUEUE'), bounded by the per-account quotas, as the FIFO claim did. `+account_id`
     * keeps the pick on jobs_queue_idx's created_at order: on jobs_account_status_idx it would sort
     * the account's jobs by created_at, which is stored after `input` and so read through every
     * large input's overflow pages.
     */
    claimNext(now: number, staleBefore: number, afterAccountId: string | null): Promise<{ id: string; input: string; accountId: string } | undefined> {
      return sql.get(
        `UPDATE jobs SET status = 'IN_PROGRESS', started_at = ?1
         WHERE id = coalesce(
                 (SELECT id FROM jobs WHERE status = 'IN_PROGRESS' AND started_at < ?2 ORDER BY created_at, id LIMIT 1),
                 (SELECT id FROM jobs
                  WHERE status = 'IN_QUEUE'
                    AND account_id = coalesce((SELECT min(account_id) FROM jobs WHERE status = 'IN_QUEUE' AND account_id > ?3),
                                               (SELECT min(account_id) FROM jobs WHERE status = 'IN_QUEUE'))
                  ORDER BY created_at, id LIMIT 1))
           AND (status = 'IN_QUEUE' OR (status = 'IN_PROGRESS' AND started_at < ?2))
         RETURNING id, input, account_id AS accountId`,
        [now, staleBefore, afterAccountId],
      );
    },

    /** Completes a running job, unless it was cancelled meanwhile. */
    complete(jobId: string, outputJson: string, now: number): Promise<number> {
      return sql.run("UPDATE jobs SET status = 'COMPLETED', output = ?2, completed_at = ?3 WHERE id = ?1 AND status = 'IN_PROGRESS'", [
        jobId,
        outputJson,
        now,
      ]);
    },
  };
}

export type JobStore = ReturnType<typeof createJobStore>;
