import "server-only";
import { randomUUID } from "node:crypto";
import type { SqlRunner } from "./sql-runner";

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

// Every statement below that a request can reach names the account and the endpoint, so a job
// id alone never reaches another account's job.
export function createJobStore(sql: SqlRunner) {
  return {
    async enqueue(accountId: string, endpointId: string, inputJson: string, now: number): Promise<JobRow> {
      const id = randomUUID();
      await sql.run(
        "INSERT INTO jobs (id, account_id, endpoint_id, status, input, created_at) VALUES (?1, ?2, ?3, 'IN_QUEUE', ?4, ?5)",
        [id, accountId, endpointId, inputJson, now],
      );
      return { id, status: "IN_QUEUE", output: null, createdAt: now, startedAt: null, completedAt: null };
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

    /** Puts a failed, cancelled or timed-out job back in the queue; false when it is not one. */
    async retry(accountId: string, endpointId: string, jobId: string): Promise<boolean> {
      const changed = await sql.run(
        `UPDATE jobs SET status = 'IN_QUEUE', output = NULL, started_at = NULL, completed_at = NULL, retries = retries + 1
         WHERE id = ?1 AND endpoint_id = ?2 AND account_id = ?3 AND status IN ('FAILED', 'CANCELLED', 'TIMED_OUT')`,
        [jobId, endpointId, accountId],
      );
      return changed > 0;
    },

    /** Cancels every queued job of the endpoint; returns how many. */
    purgeQueue(accountId: string, endpointId: string, now: number): Promise<number> {
      return sql.run(
        "UPDATE jobs SET status = 'CANCELLED', completed_at = ?3 WHERE endpoint_id = ?1 AND account_id = ?2 AND status = 'IN_QUEUE'",
        [endpointId, accountId, now],
      );
    },

    async health(accountId: string, endpointId: string): Promise<EndpointHealth> {
      const row = await sql.get<Record<keyof EndpointHealth, number | null>>(
        `SELECT sum(status = 'COMPLETED') AS completed, sum(status = 'FAILED') AS failed,
                sum(status = 'IN_PROGRESS') AS inProgress, sum(status = 'IN_QUEUE') AS inQueue,
                sum(retries > 0) AS retried
         FROM jobs WHERE endpoint_id = ?1 AND account_id = ?2`,
        [endpointId, accountId],
      );
      return {
        completed: Number(row?.completed ?? 0),
        failed: Number(row?.failed ?? 0),
        inProgress: Number(row?.inProgress ?? 0),
        inQueue: Number(row?.inQueue ?? 0),
        retried: Number(row?.retried ?? 0),
      };
    },

    // The worker's side: not reachable from a request.

    /** Atomically takes the oldest queued job, so two processes never run the same one. */
    /**
     * Also takes back a job left IN_PROGRESS since before `staleBefore`: the process running it
     * died (kill -9, power cut) and no one else would ever finish it.
     */
    claimNext(now: number, staleBefore: number): Promise<{ id: string; input: string } | undefined> {
      return sql.get(
        `UPDATE jobs SET status = 'IN_PROGRESS', started_at = ?1
         WHERE id = (SELECT id FROM jobs WHERE status = 'IN_QUEUE' OR (status = 'IN_PROGRESS' AND started_at < ?2)
                     ORDER BY created_at, id LIMIT 1)
           AND (status = 'IN_QUEUE' OR (status = 'IN_PROGRESS' AND started_at < ?2))
         RETURNING id, input`,
        [now, staleBefore],
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
