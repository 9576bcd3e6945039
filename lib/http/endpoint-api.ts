import { getDataPlane } from "@/lib/server/data-plane";
import { FINISHED_STATUSES, type JobQuotaExceeded, type JobRow } from "@/lib/dal/jobs";
import { decide, readBearerToken } from "@/lib/core/verify/verifier";
import { noteDecision, withAccessLog } from "./access-log";
import { apiError, jsonResponse, unavailable } from "./api-error";
import { readJsonBody } from "./read-body";

export const MAX_BODY_BYTES = 1_000_000;
const MAX_WAIT_MS = 300_000;
const DEFAULT_WAIT_MS = 90_000;

type Action = "health" | "status" | "status-sync" | "stream" | "run" | "runsync" | "cancel" | "retry" | "purge-queue";
type Route = { method: "GET" | "POST"; access: "read" | "read_write"; withJob: boolean };

// SPEC §4: what each route needs. Read routes observe; read_write routes start or change jobs.
const ROUTES: Record<Action, Route> = {
  health: { method: "GET", access: "read", withJob: false },
  status: { method: "GET", access: "read", withJob: true },
  "status-sync": { method: "GET", access: "read", withJob: true },
  stream: { method: "GET", access: "read", withJob: true },
  run: { method: "POST", access: "read_write", withJob: false },
  runsync: { method: "POST", access: "read_write", withJob: false },
  cancel: { method: "POST", access: "read_write", withJob: true },
  retry: { method: "POST", access: "read_write", withJob: true },
  "purge-queue": { method: "POST", access: "read_write", withJob: false },
};

const ID = /^[A-Za-z0-9_-]{1,128}$/;

function parsePath(pathname: string): { endpointId: string; action: Action; route: Route; jobId: string | null } | null {
  const parts = pathname.split("/").filter(Boolean);
  if (parts[0] !== "v2" || parts.length < 3 || parts.length > 4) return null;
  const [, endpointId, action, jobId] = parts as [string, string, string, string | undefined];
  if (!Object.hasOwn(ROUTES, action)) return null;
  const route = ROUTES[action as Action];
  if (route.withJob !== (jobId !== undefined) || !ID.test(endpointId) || (jobId !== undefined && !ID.test(jobId))) return null;
  return { endpointId, action: action as Action, route, jobId: jobId ?? null };
}

function parseWait(url: URL): number | null {
  const raw = url.searchParams.get("wait");
  if (raw === null) return DEFAULT_WAIT_MS;
  if (!/^\d{1,9}$/.test(raw)) return null;
  return Math.min(Number(raw), MAX_WAIT_MS);
}

function isFinished(job: JobRow): boolean {
  return FINISHED_STATUSES.includes(job.status);
}

/** Runpod's job shape: output and timings once the job has them. */
function jobBody(job: JobRow): Record<string, unknown> {
  const body: Record<string, unknown> = { id: job.id, status: job.status };
  if (job.startedAt !== null) body.delayTime = job.startedAt - job.createdAt;
  if (job.completedAt !== null && job.startedAt !== null) body.executionTime = job.completedAt - job.startedAt;
  if (job.output !== null) body.output = JSON.parse(job.output) as unknown;
  return body;
}

/** 429: which quota, and its limit, so a client knows what to wait for. */
function quotaExceeded(refusal: JobQuotaExceeded): Response {
  const which =
    refusal.quota === "jobs"
      ? `at most ${refusal.limit} unfinished (queued or running) jobs`
      : `at most ${refusal.limit} bytes of input across its unfinished (queued or running) jobs, and this job would go past it`;
  return apiError("JOB_QUOTA_EXCEEDED", `Job quota exceeded: an account may have ${which}. Retry once some have finished, or cancel queued jobs.`);
}

/**
 * The endpoint API (`/v2/{endpointId}/…`), Runpod-compatible, as a plain Fetch handler served by
 * Next.js route handlers and by the standalone gateway alike. Every route is decided by the one
 * decision function before anything else happens.
 */
export const handleEndpointApi = withAccessLog(endpointApi);

async function endpointApi(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const target = parsePath(url.pathname);
  if (!target || request.method !== target.route.method) return apiError("NOT_FOUND", "No such route.");
  const { endpointId, jobId, action } = target;

  try {
    const plane = await getDataPlane();
    const decision = noteDecision(
      request,
      await decide(readBearerToken(request.headers.get("authorization")), { resource: "endpoint", endpointId, access: target.route.access }, plane.keyStore),
    );
    if (!decision.ok) return apiError(decision.code);
    const { accountId } = decision;
    const { jobs, worker } = plane;

    const waitFinished = async (job: JobRow, waitMs: number): Promise<JobRow> => {
      const deadline = Date.now() + waitMs;
      let current: JobRow | undefined = job;
      while (current && !isFinished(current) && Date.now() < deadline) {
        // Woken at once by this process's worker; polled for jobs another process runs.
        await worker.settledOrTimeout(current.id, Math.min(200, deadline - Date.now()));
        current = await jobs.find(accountId, endpointId, current.id);
      }
      return current ?? job;
    };

    switch (action) {
      case "health": {
        const counts = await jobs.health(accountId, endpointId);
        const running = counts.inProgress > 0 ? 1 : 0;
        return jsonResponse({
          jobs: counts,
          workers: { idle: 1 - running, initializing: 0, ready: 1 - running, running, throttled: 0, unhealthy: 0 },
        });
      }
      case "run":
      case "runsync": {
        const waitMs = action === "runsync" ? parseWait(url) : 0;
        if (waitMs === null) return apiError("BAD_REQUEST", "`wait` must be a whole number of milliseconds.");
        const body = await readJsonBody(request, MAX_BODY_BYTES);
        if (!body.ok) return apiError("BAD_REQUEST", body.message);
        const payload = body.value;
        if (typeof payload !== "object" || payload === null || Array.isArray(payload) || !("input" in payload) || payload.input === undefined) {
          return apiError("BAD_REQUEST", "The body must be a JSON object with an `input` field.");
        }
        const queued = await jobs.enqueue(accountId, endpointId, JSON.stringify(payload.input), Date.now());
        if (!queued.ok) return quotaExceeded(queued);
        const job = queued.value;
        worker.wake();
        if (action === "run") return jsonResponse({ id: job.id, status: job.status });
        return jsonResponse(jobBody(await waitFinished(job, waitMs)));
      }
      case "purge-queue": {
        const removed = await jobs.purgeQueue(accountId, endpointId, Date.now());
        return jsonResponse({ removed, status: "completed" });
      }
    }

    // Routes about one job: another account's job, or another endpoint's, is not found.
    const id = jobId as string;
    const job = await jobs.find(accountId, endpointId, id);
    if (!job) return apiError("NOT_FOUND", "Job not found.");
    switch (action) {
      case "status":
        return jsonResponse(jobBody(job));
      case "status-sync": {
        const waitMs = parseWait(url);
        if (waitMs === null) return apiError("BAD_REQUEST", "`wait` must be a whole number of milliseconds.");
        return jsonResponse(jobBody(await waitFinished(job, waitMs)));
      }
      case "stream":
        return jsonResponse({
          status: job.status,
          stream: job.status === "COMPLETED" && job.output !== null ? [{ output: JSON.parse(job.output) as unknown }] : [],
        });
      case "cancel": {
        const after = (await jobs.cancel(accountId, endpointId, id, Date.now())) ?? job;
        return jsonResponse({ id: after.id, status: after.status });
      }
      case "retry": {
        const retried = await jobs.retry(accountId, endpointId, id);
        if (!retried.ok && retried.code === "JOB_QUOTA_EXCEEDED") return quotaExceeded(retried);
        if (!retried.ok) return apiError("BAD_REQUEST", `Only failed, cancelled or timed-out jobs can be retried; this one is ${job.status}.`);
        worker.wake();
        return jsonResponse({ id, status: "IN_QUEUE" });
      }
    }
  } catch (error) {
    return unavailable(error);
  }
}
