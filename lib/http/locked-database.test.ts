import { rawRows, removeTestDatabase, testDatabasePath, uniqueEmail } from "@/testing/test-database";
import { appendFileSync } from "node:fs";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { createEndpoint, getEndpoint } from "@/lib/dal/endpoints";
import { isDatabaseUnavailable } from "@/db/unavailable";
import { holdWriteLock } from "@/testing/lock-holder";
import type { AccountDto } from "@/lib/dal/accounts";
import { createApiKeyAction, setApiKeyEnabledAction } from "@/app/settings/api-keys/actions";
import { startTestGateway, type TestGateway } from "@/testing/test-gateway";

// Issue item A through a real server: another process holds `BEGIN IMMEDIATE` for HOLD_MS
// (3 s here; 10 s in `npm run test:faults`, which sets KEYSCOPE_FAULT_LOCK_HOLD_MS). Meanwhile
// the gateway serves a steady load of writes, reads and verifications, and the dashboard's DAL
// keeps trying to write.
// The dashboard's server actions run here as they do in Next.js, with the session stubbed.
const session = vi.hoisted(() => ({ account: null as AccountDto | null }));
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account }));
vi.mock("next/cache", () => ({ revalidatePath: () => {} }));

vi.hoisted(() => {
  process.env.DATABASE_BUSY_TIMEOUT_MS ??= "1000";
  process.env.LAST_USED_FLUSH_MS = "100";
  process.env.ECHO_WORKER_POLL_MS = "50";
});

const HOLD_MS = Number(process.env.KEYSCOPE_FAULT_LOCK_HOLD_MS ?? 3_000);
const BUSY_TIMEOUT_MS = Number(process.env.DATABASE_BUSY_TIMEOUT_MS);
// Room for a shared, oversubscribed machine; a blocked event loop would miss these by seconds.
const LATE_MARGIN_MS = 1_000;
const FAST_MS = 50;

let gateway: TestGateway | undefined;
let origin = "";
let accountId = "";
let endpointId = "";
let keyId = "";
let key = "";

beforeAll(async () => {
  const account = await createAccount(uniqueEmail("locked-http"), "password-locked-123");
  if (!account.ok) throw new Error("setup: account");
  accountId = account.value.id;
  session.account = account.value;
  const endpoint = await createEndpoint(accountId, "before-lock", { type: "dashboard" });
  if (!endpoint.ok) throw new Error("setup: endpoint");
  endpointId = endpoint.value.id;
  const created = await createScopedApiKey(accountId, { name: "locked-http", scopes: { graphql: "read", endpointsAll: "read_write", endpoints: {} } }, { type: "dashboard" });
  if (!created.ok) throw new Error("setup: key");
  keyId = created.value.key.id;
  key = created.value.plaintext;
  gateway = await startTestGateway();
  origin = gateway.origin;
});

afterAll(async () => {
  await gateway?.close();
  await removeTestDatabase();
});

type Sample = { kind: string; started: number; ended: number; status: number; retryAfter: string | null; cacheControl: string | null; body: unknown };

async function call(kind: string, path: string, init: RequestInit = {}): Promise<Sample> {
  const started = Date.now();
  const response = await fetch(origin + path, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...init.headers } });
  const body = (await response.json()) as unknown;
  return { kind, started, ended: Date.now(), status: response.status, retryAfter: response.headers.get("retry-after"), cacheControl: response.headers.get("cache-control"), body };
}

const run = () => call("run", `/v2/${endpointId}/run`, { method: "POST", body: JSON.stringify({ input: { locked: true } }) });
const health = () => call("health", `/v2/${endpointId}/health`);
const verify = () =>
  call("verify", "/api/v1/keys/verify", { method: "POST", body: JSON.stringify({ key, resource: "endpoint", endpointId, access: "read_write" }) });

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? NaN;

describe(`while another process holds the write lock for ${HOLD_MS / 1000} s`, () => {
  // One retry: the latency thresholds are generous, but the machine is shared.
  it("the gateway answers writes 503 + Retry-After within the timeout, reads and verifications 200 at once, never 500; all is well after", { timeout: HOLD_MS + 30_000, retry: 1 }, async () => {
    expect((await run()).status).toBe(200);
    const holder = await holdWriteLock(testDatabasePath, {
      holdMs: HOLD_MS,
      end: "commit",
      statements: [`UPDATE endpoints SET name = 'renamed-by-holder' WHERE id = '${endpointId}'`],
    });
    let locked = true;
    void holder.released.then(() => (locked = false));

    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks += 1;
    }, 10);

    const samples: Sample[] = [];
    const actions: { ms: number; ended: number; result: unknown }[] = [];
    const dalWrites: { name: string; ms: number; ok: boolean; unavailable: boolean; ended: number }[] = [];
    const loop = async (work: () => Promise<void>) => {
      while (locked) await work();
    };
    await Promise.all([
      // Writes: more of them waiting at once than there are cores.
      ...Array.from({ length: 4 }, () => loop(async () => void samples.push(await run()))),
      // Reads at a steady pace (not back to back): what is measured is how long the server keeps
      // one waiting, not how fast a saturated loop can go.
      loop(async () => {
        samples.push(await health());
        await new Promise((resolve) => setTimeout(resolve, 5));
      }),
      loop(async () => {
        samples.push(await verify());
        await new Promise((resolve) => setTimeout(resolve, 5));
      }),
      loop(async () => {
        const name = `during-lock-${dalWrites.length}-${Date.now()}`;
        const started = performance.now();
        const outcome = await createScopedApiKey(accountId, { name, scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" }).then(
          (result) => ({ ok: result.ok, error: null as unknown }),
          (error: unknown) => ({ ok: false, error }),
        );
        dalWrites.push({ name, ms: performance.now() - started, ok: outcome.ok, unavailable: isDatabaseUnavailable(outcome.error), ended: Date.now() });
      }),
      // The dashboard's own actions: a "try again" answer, not an error page.
      loop(async () => {
        const started = performance.now();
        const result = await (actions.length % 2 === 0
          ? createApiKeyAction({ name: "action-during-lock", scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } })
          : setApiKeyEnabledAction({ keyId, enabled: true }));
        actions.push({ ms: performance.now() - started, ended: Date.now(), result });
      }),
    ]);
    clearInterval(ticker);
    const releasedAt = await holder.released;

    // While locked: only what ended before the holder let go counts.
    const during = samples.filter((s) => s.started >= holder.lockedAt && s.ended < releasedAt);
    const writes = during.filter((s) => s.kind === "run");
    const reads = during.filter((s) => s.kind !== "run");
    expect(samples.every((s) => s.status === 200 || s.status === 503)).toBe(true);
    expect(writes.length).toBeGreaterThanOrEqual(4);
    for (const write of writes) {
      expect(write.status).toBe(503);
      expect(write.retryAfter).toMatch(/^\d+$/);
      expect(write.cacheControl).toBe("no-store");
      expect(write.body).toEqual({ error: { code: "UNAVAILABLE", message: expect.any(String) } });
      expect(write.ended - write.started).toBeLessThan(BUSY_TIMEOUT_MS + LATE_MARGIN_MS);
    }
    expect(reads.length).toBeGreaterThan(20);
    for (const read of reads) expect(read.status).toBe(200);
    expect(reads.filter((r) => r.kind === "verify").every((r) => (r.body as { valid: boolean }).valid)).toBe(true);
    const readMs = reads.map((r) => r.ended - r.started);
    const writeMs = writes.map((w) => w.ended - w.started);
    const dal = dalWrites.filter((w) => w.ended < releasedAt);
    expect(dal.length).toBeGreaterThanOrEqual(1);
    for (const write of dal) {
      expect(write.unavailable).toBe(true);
      expect(write.ms).toBeLessThan(BUSY_TIMEOUT_MS + LATE_MARGIN_MS);
    }
    const refusedActions = actions.filter((a) => a.ended < releasedAt);
    expect(refusedActions.length).toBeGreaterThanOrEqual(1);
    for (const action of refusedActions) {
      expect(action.result).toEqual({ ok: false, code: "UNAVAILABLE", message: expect.stringMatching(/try again/i) });
      expect(action.ms).toBeLessThan(BUSY_TIMEOUT_MS + LATE_MARGIN_MS);
    }
    const figures = {
      holdMs: HOLD_MS,
      busyTimeoutMs: BUSY_TIMEOUT_MS,
      apiWrites503: writes.length,
      apiWriteMs: { min: Math.round(Math.min(...writeMs)), max: Math.round(Math.max(...writeMs)) },
      readsAndVerifications200: reads.length,
      readMs: { median: Math.round(percentile(readMs, 50)), p99: Math.round(percentile(readMs, 99)), max: Math.round(Math.max(...readMs)) },
      dashboardWritesUnavailable: dal.length,
      dashboardWriteMaxMs: Math.round(Math.max(...dal.map((w) => w.ms))),
      dashboardActionsTryAgain: refusedActions.length,
      eventLoopTicks: ticks,
      eventLoopMaxGapMs: Math.round(maxGap),
      status500: samples.filter((s) => s.status >= 500 && s.status !== 503).length,
    };
    console.log(`locked database: ${JSON.stringify(figures)}`);
    if (process.env.KEYSCOPE_FAULT_FIGURES) appendFileSync(process.env.KEYSCOPE_FAULT_FIGURES, JSON.stringify({ suite: "locked-database", ...figures }) + "\n");
    // Reads answer at once. The tail thresholds leave room for a shared, noisy 2-core machine
    // (client and server share this event loop, and a request may wait behind a lock attempt at
    // each of its turns); a write that blocked the loop while it waited would push them all to
    // the busy timeout.
    expect(percentile(readMs, 50)).toBeLessThan(FAST_MS);
    expect(percentile(readMs, 95)).toBeLessThan(BUSY_TIMEOUT_MS / 10);
    expect(maxGap).toBeLessThan(BUSY_TIMEOUT_MS / 3);
    // The interval kept running: at least a quarter of the ticks it would have had on an idle loop.
    expect(ticks).toBeGreaterThan((releasedAt - holder.lockedAt) / 10 / 4);

    // After: writes at once, the holder's committed change is seen, nothing is left holding the lock.
    const after = await run();
    expect(after.status).toBe(200);
    expect(after.ended - after.started).toBeLessThan(200);
    const done = await call("runsync", `/v2/${endpointId}/runsync?wait=5000`, { method: "POST", body: JSON.stringify({ input: { after: 1 } }) });
    expect(done.body).toMatchObject({ status: "COMPLETED", output: { after: 1 } });
    expect(await getEndpoint(accountId, endpointId)).toMatchObject({ name: "renamed-by-holder" });
    expect((await createScopedApiKey(accountId, { name: "after-lock", scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" })).ok).toBe(true);
    const third = new Database(testDatabasePath, { timeout: 0 });
    try {
      third.exec("BEGIN IMMEDIATE; DELETE FROM pods WHERE 0; COMMIT");
    } finally {
      third.close();
    }
    // Nothing half-written: no key from the refused attempts (one still waiting at the release
    // may have gone through, whole), and the last-used dates noted during the lock were written
    // once it was released.
    for (const write of dalWrites) {
      expect(await rawRows("SELECT count(*) AS n FROM api_keys WHERE name = ?", [write.name])).toEqual([{ n: write.ok ? 1 : 0 }]);
      if (!write.ok) expect(write.unavailable).toBe(true);
    }
    await expect.poll(async () => (await rawRows("SELECT last_used_at FROM api_keys WHERE id = ?", [keyId]))[0]?.last_used_at, { timeout: 3_000 }).toBeGreaterThanOrEqual(releasedAt - 1_000);
    expect(await rawRows("PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
  });
});
