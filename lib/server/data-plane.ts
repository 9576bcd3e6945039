import "server-only";
import { getDatabaseHandle, type DatabaseHandle, type SqlRunner } from "@/db/handle";
import { diskFileOf } from "@/db/url";
import { readEnv } from "@/lib/env";
import { startEchoWorker, type EchoWorker } from "@/lib/worker/echo-worker";
import { createJobStore, type JobStore } from "@/lib/dal/jobs";
import { createKeyStore, type DalKeyStore } from "@/lib/dal/key-store";
import { createUsageRecorder, type UsageRecorder } from "@/lib/dal/usage-recorder";
import { endGraceOnFirstUse, recordExpiryEvents, recordLifecycleEnds } from "@/lib/dal/key-lifecycle";
import { createWebhookOutbox } from "@/lib/dal/webhook-outbox";
import { startWebhookWorker, type WebhookWorker } from "@/lib/worker/webhook-worker";
import { startRateLimitSync } from "@/lib/dal/rate-limit-sync";
import { ShareLimiter } from "@/lib/core/restrictions/rate-limit";
import { pruneUsage } from "@/lib/dal/usage";

// How often a server process looks for elevations and grace periods that have run out, to write
// their ends into the audit log (decisions never wait for this: they read the end times).
const LIFECYCLE_SWEEP_MS = 10_000;
// How often usage older than SPEC §10's retention is deleted (in small statements, off the request path).
const USAGE_PRUNE_MS = 3_600_000;

export type DataPlane = { database: DatabaseHandle; sql: SqlRunner; keyStore: DalKeyStore; usage: UsageRecorder; jobs: JobStore; worker: EchoWorker; webhooks: WebhookWorker };

// One per process, shared by every bundle that imports this module (Next.js may load it twice).
const globalForDataPlane = globalThis as unknown as { keyscopeDataPlane?: Promise<DataPlane> };

async function openDataPlane(): Promise<DataPlane> {
  const env = readEnv();
  const database = await getDatabaseHandle(); // creates and migrates the database first
  // The handle's prepared statements: their writes queue with the dashboard's (db/handle.ts).
  const sql = database.sql;
  // Both write paths (drizzle's and the prepared statements) tell the handle's one hook after
  // each commit, on every kind of database now. The caches stay on file databases only, as they
  // were wired before the handle: their polls (SQLite's data version) are proven on files only.
  const commits = diskFileOf(database.url) ? { listen: database.onCommittedWrite } : undefined;
  // Last-used dates and usage counts (SPEC §10): one write transaction per interval.
  const usage = createUsageRecorder(sql);
  usage.start(env.LAST_USED_FLUSH_MS);
  // Next.js and the gateway end with process.exit() on SIGTERM / SIGINT; on file databases what
  // was recorded since the last flush is written synchronously on the way out.
  process.once("exit", () => usage.flushAtExit());
  // Health counts are cached on the same terms as decisions: this process's commits drop them at
  // once, other processes' within one poll (lib/dal/jobs.ts).
  const healthCache = commits ? { commits, pollMs: env.DECISION_CACHE_POLL_MS } : undefined;
  const jobs = createJobStore(sql, { maxJobs: env.JOB_QUEUE_MAX_PER_ACCOUNT, maxInputBytes: env.JOB_QUEUE_MAX_BYTES_PER_ACCOUNT }, { healthCache });
  const worker = startEchoWorker(jobs, { pollMs: env.ECHO_WORKER_POLL_MS, delayMs: env.ECHO_WORKER_DELAY_MS });
  // Sends the webhook outbox, off the request path (SPEC §9).
  const webhooks = startWebhookWorker(createWebhookOutbox(sql), {
    pollMs: env.WEBHOOK_POLL_MS,
    retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    allowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
  });
  // No decision cache without `commits` (above): its own changes would wait for the poll.
  const cache = commits ? { maxEntries: env.DECISION_CACHE_MAX_ENTRIES, pollMs: env.DECISION_CACHE_POLL_MS, commits } : undefined;
  // Rate limits: counted here, shared with the other processes on this database by the sync.
  const limiter = new ShareLimiter();
  const rateSync = startRateLimitSync(limiter, { intervalMs: env.RATE_LIMIT_SYNC_MS });
  // Before the first request: which processes are live decides each one's base share.
  await rateSync.syncNow();
  const keyStore = createKeyStore(sql, usage, { cache, endGrace: endGraceOnFirstUse, limiter });
  let sweeping = false;
  setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    // Also the "expires within 7 days" and "expired" events, which webhooks receive.
    Promise.all([recordLifecycleEnds(), recordExpiryEvents()])
      .catch((error: unknown) => console.error(`lifecycle sweep failed: ${error instanceof Error ? error.name : "unknown"}`))
      .finally(() => (sweeping = false));
  }, LIFECYCLE_SWEEP_MS).unref();
  const prune = () =>
    void pruneUsage().catch((error: unknown) => console.error(`usage prune failed: ${error instanceof Error ? error.name : "unknown"}`));
  setTimeout(prune, 60_000).unref();
  setInterval(prune, USAGE_PRUNE_MS).unref();
  return { database, sql, keyStore, usage, jobs, worker, webhooks };
}

/** The process's data plane: raw prepared SQL, the key store, and the usage recorder. */
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
