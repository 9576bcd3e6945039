import { EventEmitter } from "node:events";
import type { JobStore } from "@/lib/dal/jobs";

export type EchoWorker = {
  /** Runs queued jobs now, instead of at the next poll. */
  wake(): void;
  /** Resolves when this process settles `jobId`, or after `ms`, whichever comes first. */
  settledOrTimeout(jobId: string, ms: number): Promise<void>;
  stop(): void;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The built-in worker: output = input, IN_QUEUE → IN_PROGRESS → COMPLETED. Every server process
 * runs one; claiming a job is one atomic UPDATE, so processes sharing a database never run a job
 * twice, and accounts take turns. Jobs queued by another process are picked up at the next poll.
 */
export function startEchoWorker(jobs: JobStore, options: { pollMs: number; delayMs: number }): EchoWorker {
  // A job IN_PROGRESS this long was abandoned by a process that died: run it again.
  const staleAfterMs = Math.max(60_000, 10 * options.delayMs);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let draining = false;
  let again = false;
  let stopped = false;
  // A job taken but not yet completed: if completing it fails (database locked), claimNext will
  // never hand it out again, so the next drain completes it first.
  let taken: { id: string; input: string } | undefined;
  // The account served last: claims take accounts in turn after it (lib/dal/jobs.ts claimNext).
  let lastAccountId: string | null = null;

  async function finish(job: { id: string; input: string }) {
    taken = job;
    if (options.delayMs > 0) await sleep(options.delayMs);
    await jobs.complete(job.id, job.input, Date.now());
    taken = undefined;
    events.emit(job.id);
  }

  async function drain() {
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    try {
      do {
        again = false;
        // Checked before claiming: a stopped worker must not take a job it will never finish
        // (it would stay IN_PROGRESS for ever); a job already taken is still completed.
        const next = async () => {
          if (stopped) return undefined;
          const job = await jobs.claimNext(Date.now(), Date.now() - staleAfterMs, lastAccountId);
          if (job) lastAccountId = job.accountId;
          return job;
        };
        if (taken) await finish(taken);
        for (let job = await next(); job; job = await next()) await finish(job);
      } while (again && !stopped);
    } catch (error) {
      // A locked database: the job stays queued, or taken, and the next poll retries.
      console.error(`echo worker: ${error instanceof Error ? error.name : "unknown error"}`);
    } finally {
      draining = false;
    }
  }

  const timer = setInterval(() => void drain(), options.pollMs);
  timer.unref();

  return {
    wake: () => void drain(),
    settledOrTimeout(jobId, ms) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timeout);
          events.off(jobId, done);
          resolve();
        };
        const timeout = setTimeout(done, ms);
        events.once(jobId, done);
      });
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
