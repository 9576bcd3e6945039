import "server-only";
import path from "node:path";
import { getDb } from "@/db/client";
import { filePathOf } from "@/db/url";
import { readEnv } from "@/lib/env";
import type { KeyStore } from "@/lib/core/verify/verifier";
import { startEchoWorker, type EchoWorker } from "@/lib/worker/echo-worker";
import { createJobStore, type JobStore } from "@/lib/dal/jobs";
import { createKeyStore } from "@/lib/dal/key-store";
import { createLastUsedRecorder, type LastUsedRecorder } from "@/lib/dal/last-used";
import { clientSqlRunner, openFileSqlRunner, type SqlRunner } from "@/lib/dal/sql-runner";

export type DataPlane = { sql: SqlRunner; keyStore: KeyStore; lastUsed: LastUsedRecorder; jobs: JobStore; worker: EchoWorker };

// One per process, shared by every bundle that imports this module (Next.js may load it twice).
const globalForDataPlane = globalThis as unknown as { keyscopeDataPlane?: Promise<DataPlane> };

async function openDataPlane(): Promise<DataPlane> {
  const env = readEnv();
  const db = await getDb(); // creates and migrates the database first
  const file = filePathOf(env.DATABASE_URL);
  const sql = file && file !== ":memory:" ? openFileSqlRunner(path.resolve(file), env.DATABASE_BUSY_TIMEOUT_MS) : clientSqlRunner(db.$client);
  const lastUsed = createLastUsedRecorder(sql);
  lastUsed.start(env.LAST_USED_FLUSH_MS);
  // Next.js and the gateway end with process.exit() on SIGTERM / SIGINT; on file databases the
  // last-used dates recorded since the last flush are written synchronously on the way out.
  process.once("exit", () => lastUsed.flushAtExit());
  const jobs = createJobStore(sql, { maxJobs: env.JOB_QUEUE_MAX_PER_ACCOUNT, maxInputBytes: env.JOB_QUEUE_MAX_BYTES_PER_ACCOUNT });
  const worker = startEchoWorker(jobs, { pollMs: env.ECHO_WORKER_POLL_MS, delayMs: env.ECHO_WORKER_DELAY_MS });
  return { sql, keyStore: createKeyStore(sql, lastUsed), lastUsed, jobs, worker };
}

/** The process's data plane: raw prepared SQL, the key store, and the last-used recorder. */
export function getDataPlane(): Promise<DataPlane> {
  if (!globalForDataPlane.keyscopeDataPlane) {
    const opening = openDataPlane();
    globalForDataPlane.keyscopeDataPlane = opening;
    opening.catch(() => {
      if (globalForDataPlane.keyscopeDataPlane === opening) globalForDataPlane.keyscopeDataPlane = undefined;
    });
  }
  return globalForDataPlane.keyscopeDataPlane;
}
