import { getDataPlane, type DataPlane } from "@/lib/server/data-plane";
import { FINISHED_STATUSES, type EndpointHealth, type JobQuotaExceeded, type JobRow } from "@/lib/dal/jobs";
import { decide, readBearerToken } from "@/lib/core/verify/verifier";
import { apiErrorReply, denialReply, jsonReply, withRateLimit, jsonTextReply, unavailableReply, type ApiReply } from "./api-error";
import { fetchHandler, type ApiRequest } from "./api-transport";

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

function parseWait(request: ApiRequest): number | null {
  const raw = request.param("wait");
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
function quotaExceeded(refusal: JobQuotaExceeded): ApiReply {
  const which =
    refusal.quota === "jobs"
      ? `at most ${refusal.limit} unfinished (queued or running) jobs`
      : `at most ${refusal.limit} bytes of input across its unfinished (queued or running) jobs, and this job would go past it`;
  return apiErrorReply("JOB_QUOTA_EXCEEDED", `Job quota exceeded: an account may have ${which}. Retry once some have finished, or cancel queued jobs.`);
}

/**
 * The endpoint API (`/v2/{endpointId}/…`), Runpod-compatible, served by Next.js route handlers and
 * by the standalone gateway alike (through Fetch, or natively on its hot routes). Every route is
 * decided by the one decision function before anything else happens.
 */
export async function endpointApi(request: ApiRequest): Promise<ApiReply> {
  const target = parsePath(request.path);
  if (!target || request.method !== target.route.method) return apiErrorReply("NOT_FOUND", "No such route.");
  const { endpointId } = target;

  let keyId: string | undefined;
  try {
    const plane = await getDataPlane();
    const decision = await decide(
      readBearerToken(request.authorization),
      { resource: "endpoint", endpointId, access: target.route.access },
      plane.keyStore,
      { clientAddress: request.clientAddress },
    );
    keyId = decision.keyId;
    if (!decision.ok) return withKey(denialReply(decision), keyId);
    return withKey(withRateLimit(await routeDecided(request, target, decision.accountId, plane), decision), keyId);
  } catch (error) {
    return withKey(unavailableReply(error), keyId);
  }
}

export const handleEndpointApi = fetchHandler(endpointApi);

/** Names the decided key for the access log. */
function withKey(reply: ApiReply, keyId: string | undefined): ApiReply {
  if (keyId) reply.keyId = keyId;
  return reply;
}

/**
 * The health answer's JSON, written out: the same text JSON.stringify gives for
 * `{jobs: counts, workers: {…}}` (lib/http/api-transport.test.ts), without stringifying the
 * constant parts on the route the gateway is measured on.
 */
export function healthBody(counts: EndpointHealth): string {
  const running = counts.inProgress > 0 ? 1 : 0;
  return (
    `{"jobs":{"completed":${counts.completed},"failed":${counts.failed},"inProgress":${counts.inProgress},"inQueue":${counts.inQueue},"retried":${counts.retried}},` +
    `"workers":{"idle":${1 - running},"initializing":0,"ready":${1 - running},"running":${running},"throttled":0,"unhealthy":0}}`
  );
}

async function waitFinished({ jobs, worker }: DataPlane, accountId: string, endpointId: string, job: JobRow, waitMs: number): Promise<JobRow> {
  const deadline = Date.now() + waitMs;
  let current: JobRow | undefined = job;
  while (current && !isFinished(current) && Date.now() < deadline) {
    // Woken at once by this process's worker; polled for jobs another process runs.
    await worker.settledOrTimeout(current.id, Math.min(200, deadline - Date.now()));
    current = await jobs.find(accountId, endpointId, current.id);
  }
  return current ?? job;
}

type Target = NonNullable<ReturnType<typeof parsePath>>;

/** A route once its request is allowed; throws on database failures (the caller answers 503). */
async function routeDecided(request: ApiRequest, { endpointId, jobId, action }: Target, accountId: string, plane: DataPlane): Promise<ApiReply> {
  const { jobs, worker } = plane;

  switch (action) {
    case "health":
      return jsonTextReply(healthBody(await jobs.health(accountId, endpointId)));
    case "run":
    case "runsync": {
      const waitMs = action === "runsync" ? parseWait(request) : 0;
      if (waitMs === null) return apiErrorReply("BAD_REQUEST", "`wait` must be a whole number of milliseconds.");
      const body = await request.readJsonBody(MAX_BODY_BYTES);
      if (!body.ok) return apiErrorReply("BAD_REQUEST", body.message);
      const payload = body.value;
      if (typeof payload !== "object" || payload === null || Array.isArray(payload) || !("input" in payload) || payload.input === undefined) {
        return apiErrorReply("BAD_REQUEST", "The body must be a JSON object with an `input` field.");
      }
      const queued = await jobs.enqueue(accountId, endpointId, JSON.stringify(payload.input), Date.now());
      if (!queued.ok) return quotaExceeded(queued);
      const job = queued.value;
      worker.wake();
      if (action === "run") return jsonReply({ id: job.id, status: job.status });
      return jsonReply(jobBody(await waitFinished(plane, accountId, endpointId, job, waitMs)));
    }
    case "purge-queue": {
      const removed = await jobs.purgeQueue(accountId, endpointId, Date.now());
      return jsonReply({ removed, status: "completed" });
    }
  }

  // Routes about one job: another account's job, or another endpoint's, is not found.
  const id = jobId as string;
  const job = await jobs.find(accountId, endpointId, id);
  if (!job) return apiErrorReply("NOT_FOUND", "Job not found.");
  switch (action) {
    case "status":
      return jsonReply(jobBody(job));
    case "status-sync": {
      const waitMs = parseWait(request);
      if (waitMs === null) return apiErrorReply("BAD_REQUEST", "`wait` must be a whole number of milliseconds.");
      return jsonReply(jobBody(await waitFinished(plane, accountId, endpointId, job, waitMs)));
    }
    case "stream":
      return jsonReply({
        status: job.status,
        stream: job.status === "COMPLETED" && job.output !== null ? [{ output: JSON.parse(job.output) as unknown }] : [],
      });
    case "cancel": {
      const after = (await jobs.cancel(accountId, endpointId, id, Date.now())) ?? job;
      return jsonReply({ id: after.id, status: after.status });
    }
    case "retry": {
      const retried = await jobs.retry(accountId, endpointId, id);
      if (!retried.ok && retried.code === "JOB_QUOTA_EXCEEDED") return quotaExceeded(retried);
      if (!retried.ok) return apiErrorReply("BAD_REQUEST", `Only failed, cancelled or timed-out jobs can be retried; this one is ${job.status}.`);
      worker.wake();
      return jsonReply({ id, status: "IN_QUEUE" });
    }
  }
}
