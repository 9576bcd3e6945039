import { rawRows, removeTestDatabase, testDatabaseUrl, uniqueEmail } from "@/testing/test-database";
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getDatabaseHandle, openDatabaseHandle } from "@/db/handle";
import { verifyWebhookSignature } from "@/lib/core/webhooks/signature";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, listApiKeys, setApiKeyEnabled } from "@/lib/dal/api-keys";
import type { AuditActor } from "@/lib/dal/audit-log";
import type { DalResult } from "@/lib/dal/result";
import { createWebhookOutbox, type Settlement } from "@/lib/dal/webhook-outbox";
import { addWebhook, deleteWebhook } from "@/lib/dal/webhooks";
import { startWebhookWorker, type WebhookWorker, type WebhookWorkerOptions } from "./webhook-worker";

// The delivery worker against real receivers on 127.0.0.1 (so private targets are allowed, as
// WEBHOOK_ALLOW_PRIVATE=1 does) and a real database file. Receivers count what they receive by
// `Keyscope-Delivery` id: "exactly once" means each id answered 2xx once, and never again.

afterAll(removeTestDatabase);

const DASHBOARD: AuditActor = { type: "dashboard" };

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

type Received = { id: string; event: string; signature: string; contentType: string; body: string; attempt: number };
type Answer = number | "hang";

/** A receiver on 127.0.0.1 that answers each request as `answer` says (a status, or never). */
async function startReceiver(answer: (request: Received) => Answer | Promise<Answer>) {
  const received: Received[] = [];
  const succeeded = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const id = String(request.headers["keyscope-delivery"]);
      const entry: Received = {
        id,
        event: String(request.headers["keyscope-event"]),
        signature: String(request.headers["keyscope-signature"]),
        contentType: String(request.headers["content-type"]),
        body: Buffer.concat(chunks).toString("utf8"),
        attempt: received.filter((r) => r.id === id).length + 1,
      };
      received.push(entry);
      const status = await answer(entry);
      if (status === "hang") {
        hanging.add(response);
        return;
      }
      if (status >= 200 && status < 300) succeeded.set(id, (succeeded.get(id) ?? 0) + 1);
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    succeeded,
    /** Ids answered 2xx more than once: must stay empty. */
    duplicates: () => [...succeeded].filter(([, n]) => n > 1),
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Waits for `condition` (polling), failing after `ms`: a bound on a hang, not a speed check. */
async function waitFor(condition: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const FAST: Omit<WebhookWorkerOptions, "timeoutMs"> & { timeoutMs: number } = { pollMs: 10, retryBaseMs: 20, timeoutMs: 5_000, allowPrivate: true };

async function worker(options: Partial<WebhookWorkerOptions> = {}, handle?: Awaited<ReturnType<typeof getDatabaseHandle>>): Promise<WebhookWorker> {
  const sql = (handle ?? (await getDatabaseHandle())).sql;
  return startWebhookWorker(createWebhookOutbox(sql), { ...FAST, ...options });
}

async function newAccount(label: string): Promise<string> {
  return unwrap(await createAccount(uniqueEmail(label), `password-${label}-123`)).id;
}

async function newKeys(accountId: string, count: number, prefix = "k") {
  const keys = [];
  for (let i = 0; i < count; i++) keys.push(unwrap(await createScopedApiKey(accountId, { name: `${prefix}${i}`, scopes: createEmptyScopes() }, DASHBOARD)).key);
  return keys;
}

const rowsOf = (accountId: string) =>
  rawRows("SELECT id, event, status, attempts, last_status, last_error, completed_at, payload FROM webhook_deliveries WHERE account_id = ? ORDER BY rowid", [accountId]);

async function allSettled(accountId: string, count: number): Promise<boolean> {
  const rows = await rowsOf(accountId);
  return rows.length === count && rows.every((row) => row.status !== "pending");
}

/** Each test ends by removing its webhooks (and so their deliveries): the next test's workers see none of them. */
async function cleanUp(accountId: string) {
  for (const row of await rawRows("SELECT id FROM webhooks WHERE account_id = ?", [accountId])) await deleteWebhook(accountId, String(row.id), DASHBOARD);
}

// Delivery figures, printed at the end for the report (not asserted as speeds).
const figures: string[] = [];
afterAll(() => {
  if (figures.length) console.log(`webhook delivery figures:\n  ${figures.join("\n  ")}`);
});

let account = "";
beforeAll(async () => {
  account = await newAccount("worker");
});

describe("the webhook worker", () => {
  it("POSTs the stored payload, signed: HMAC-SHA256 of the exact body under the webhook's secret, with the event and delivery id", async () => {
    const receiver = await startReceiver(() => 200);
    const { secret } = unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    const running = await worker();
    try {
      const [key] = await newKeys(account, 1, "signed");
      await waitFor(() => allSettled(account, 1));
      const [row] = await rowsOf(account);
      expect(row).toMatchObject({ event: "key.created", status: "succeeded", attempts: 1, last_status: 200, last_error: null });
      const [got] = receiver.received;
      expect(got).toMatchObject({ id: row!.id, event: "key.created", contentType: "application/json", body: row!.payload });
      expect(got!.signature).toBe(`sha256=${createHmac("sha256", secret).update(got!.body).digest("hex")}`);
      expect(verifyWebhookSignature(secret, got!.body, got!.signature)).toBe(true);
      expect(verifyWebhookSignature("whsec_someoneelse", got!.body, got!.signature)).toBe(false);
      expect(JSON.parse(got!.body)).toMatchObject({ type: "key.created", key: { id: key!.id, name: "signed0" } });
    } finally {
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("retries a receiver that fails the first 2 attempts: delivered once, with 3 attempts", async () => {
    const receiver = await startReceiver((request) => (request.attempt <= 2 ? 500 : 200));
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    const running = await worker();
    try {
      await newKeys(account, 1, "flaky");
      await waitFor(() => allSettled(account, 1));
      const [row] = await rowsOf(account);
      expect(row).toMatchObject({ status: "succeeded", attempts: 3, last_status: 200, last_error: null });
      expect(receiver.received.map((r) => [r.id, r.attempt])).toEqual([
        [row!.id, 1],
        [row!.id, 2],
        [row!.id, 3],
      ]);
      expect(receiver.succeeded.get(String(row!.id))).toBe(1);
      // Nothing more comes once it is delivered.
      await new Promise((resolve) => setTimeout(resolve, 5 * FAST.pollMs));
      expect(receiver.received).toHaveLength(3);
      figures.push("fails twice, then 200: 1 event, 3 attempts, delivered 1 time");
    } finally {
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("times out a receiver that hangs, records why, and retries it", async () => {
    const receiver = await startReceiver((request) => (request.attempt === 1 ? "hang" : 200));
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    const outbox = createWebhookOutbox((await getDatabaseHandle()).sql);
    const settlements: Settlement[] = [];
    const settle = outbox.settle;
    outbox.settle = (delivery, settlement, now) => {
      settlements.push(settlement);
      return settle(delivery, settlement, now);
    };
    const running = startWebhookWorker(outbox, { ...FAST, timeoutMs: 200 });
    try {
      await newKeys(account, 1, "hung");
      await waitFor(() => allSettled(account, 1));
      expect(settlements).toEqual([
        { outcome: "failed", status: null, error: "Timed out after 0.2 s.", retryAt: expect.any(Number) },
        { outcome: "succeeded", status: 200 },
      ]);
      const [row] = await rowsOf(account);
      expect(row).toMatchObject({ status: "succeeded", attempts: 2, last_status: 200 });
      expect(receiver.succeeded.get(String(row!.id))).toBe(1);
    } finally {
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("never holds up a request or an action: keys change and read while a receiver hangs with the worker waiting on it", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const receiver = await startReceiver(async (request) => {
      if (request.attempt > 1) return 200;
      holding = true;
      await released;
      holding = false;
      return 200;
    });
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    // A long deadline: the receiver, not a timeout, decides when this attempt ends.
    const running = await worker({ timeoutMs: 60_000 });
    try {
      const [key] = await newKeys(account, 1, "busy");
      await waitFor(() => holding);
      // The worker is waiting on the receiver: actions and reads go on, and their events queue up.
      unwrap(await setApiKeyEnabled(account, key!.id, false, DASHBOARD));
      unwrap(await setApiKeyEnabled(account, key!.id, true, DASHBOARD));
      await newKeys(account, 2, "meanwhile");
      expect((await listApiKeys(account)).map((k) => k.name)).toEqual(expect.arrayContaining(["busy0", "meanwhile0", "meanwhile1"]));
      expect(holding).toBe(true);
      expect(receiver.received).toHaveLength(1);
      release();
      await waitFor(() => allSettled(account, 5));
      // One webhook, one delivery at a time: the receiver saw them in the order they happened.
      expect(receiver.received.map((r) => r.event)).toEqual(["key.created", "key.disabled", "key.enabled", "key.created", "key.created"]);
      expect(receiver.duplicates()).toEqual([]);
    } finally {
      release();
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("two workers on two database handles (two processes) deliver every event exactly once, in parallel", async () => {
    const WEBHOOKS = 8;
    const KEYS = 12;
    // The first 8 requests are held until all 8 are in flight: one worker's 4 slots cannot get
    // there alone, so both are sending. Deliveries whose id ends in an even digit fail once.
    let inFlight = 0;
    let openBarrier: () => void = () => {};
    const barrier = new Promise<void>((resolve) => (openBarrier = resolve));
    let held = 0;
    const receiver = await startReceiver(async (request) => {
      if (held < WEBHOOKS) {
        held += 1;
        inFlight += 1;
        if (inFlight === WEBHOOKS) openBarrier();
        await barrier;
      }
      return request.attempt === 1 && /[02468]$/.test(request.id) ? 503 : 200;
    });
    for (let i = 0; i < WEBHOOKS; i++) unwrap(await addWebhook(account, `${receiver.url}?n=${i}`, DASHBOARD, { allowPrivate: true }));
    const second = openDatabaseHandle(testDatabaseUrl, { busyTimeoutMs: 5_000 });
    const claims = [0, 0];
    const counted = (index: number, handle: typeof second) => {
      const outbox = createWebhookOutbox(handle.sql);
      const claim = outbox.claimDue;
      outbox.claimDue = async (...args) => {
        const claimed = await claim(...args);
        claims[index]! += claimed.length;
        return claimed;
      };
      return startWebhookWorker(outbox, FAST);
    };
    const workers = [counted(0, await getDatabaseHandle()), counted(1, second)];
    try {
      await newKeys(account, KEYS, "pair");
      const total = WEBHOOKS * KEYS;
      await waitFor(() => allSettled(account, total), 60_000);
      const rows = await rowsOf(account);
      expect(rows.every((row) => row.status === "succeeded")).toBe(true);
      expect(new Set(receiver.succeeded.keys())).toEqual(new Set(rows.map((row) => String(row.id))));
      expect(receiver.duplicates()).toEqual([]);
      const retried = rows.filter((row) => /[02468]$/.test(String(row.id)));
      for (const row of rows) expect(row.attempts).toBe(retried.includes(row) ? 2 : 1);
      expect(receiver.received).toHaveLength(total + retried.length);
      expect(claims[0]! > 0 && claims[1]! > 0).toBe(true);
      figures.push(
        `two workers, ${WEBHOOKS} webhooks × ${KEYS} keys: ${total} deliveries, ${retried.length} retried once, ${receiver.received.length} requests, ` +
          `claims ${claims[0]} + ${claims[1]}, duplicates ${receiver.duplicates().length}`,
      );
    } finally {
      openBarrier();
      await Promise.all(workers.map((w) => w.stop()));
      second.close();
      await receiver.close();
      await cleanUp(account);
    }
  }, 90_000);

  it("survives a restart: a worker stopped between retries and a new one started deliver everything, none twice", async () => {
    const KEYS = 6;
    const receiver = await startReceiver((request) => (request.attempt === 1 ? 500 : 200));
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    // The first worker's retries are a minute away: it is stopped with every delivery waiting for one.
    const first = await worker({ retryBaseMs: 60_000 });
    await newKeys(account, KEYS, "restart");
    await waitFor(async () => (await rowsOf(account)).every((row) => row.attempts === 1 && row.last_status === 500));
    await first.stop();
    expect((await rowsOf(account)).map((row) => row.status)).toEqual(Array(KEYS).fill("pending"));
    // A new process, a minute and a half later: it finds the retries due in the table.
    const second = await worker({ now: () => Date.now() + 90_000 });
    try {
      await waitFor(() => allSettled(account, KEYS));
      const rows = await rowsOf(account);
      expect(rows.map((row) => [row.status, row.attempts])).toEqual(Array(KEYS).fill(["succeeded", 2]));
      expect(receiver.succeeded.size).toBe(KEYS);
      expect(receiver.duplicates()).toEqual([]);
      figures.push(`restart between retries: ${KEYS} events, ${KEYS} retried after the restart, ${receiver.received.length} requests, duplicates 0`);
    } finally {
      await second.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("takes over deliveries claimed by a worker that died, once their claim lapses", async () => {
    const receiver = await startReceiver(() => 200);
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    await newKeys(account, 1, "orphan");
    // A process claims the delivery and dies before sending it.
    const [orphan] = await createWebhookOutbox((await getDatabaseHandle()).sql).claimDue(Date.now(), 4, 30_000);
    expect(orphan?.accountId).toBe(account);
    // A live worker leaves it alone while the claim holds…
    const onTime = await worker();
    await new Promise((resolve) => setTimeout(resolve, 10 * FAST.pollMs));
    await onTime.stop();
    expect(receiver.received).toHaveLength(0);
    // …and takes it once the claim has lapsed.
    const later = await worker({ now: () => Date.now() + 31_000 });
    try {
      await waitFor(() => allSettled(account, 1));
      expect((await rowsOf(account))[0]).toMatchObject({ status: "succeeded", attempts: 2 });
      expect([...receiver.succeeded]).toEqual([[orphan!.id, 1]]);
    } finally {
      await later.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("fails a delivery to a refused target at once, with the reason and no retries", async () => {
    const receiver = await startReceiver(() => 200);
    // Added while private targets were allowed; delivered by a process that does not allow them.
    unwrap(await addWebhook(account, `http://receiver.test:${receiver.port}/hook`, DASHBOARD, { allowPrivate: true }));
    const resolve = vi.fn(async () => [{ address: "127.0.0.1", family: 4 }]);
    const running = await worker({ allowPrivate: false, resolve });
    try {
      await newKeys(account, 1, "refused");
      await waitFor(() => allSettled(account, 1));
      expect((await rowsOf(account))[0]).toMatchObject({
        status: "failed",
        attempts: 1,
        last_status: null,
        last_error: "Refused: the host resolves to a loopback address.",
        completed_at: expect.any(Number),
      });
      expect(resolve).toHaveBeenCalledTimes(1);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("gives up once the next try would fall more than 24 h (the scaled window) after the event", async () => {
    const receiver = await startReceiver(() => 500);
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    await newKeys(account, 1, "doomed");
    // The event is almost 24 h old (at a 1 s base: 8,640 s): the next try would be past it.
    const base = 1_000;
    await rawRows("UPDATE webhook_deliveries SET created_at = ? WHERE account_id = ?", [Date.now() - 8_640 * base + 500, account]);
    const running = await worker({ retryBaseMs: base });
    try {
      await waitFor(() => allSettled(account, 1));
      expect((await rowsOf(account))[0]).toMatchObject({ status: "failed", attempts: 1, last_status: 500, last_error: "HTTP 500.", completed_at: expect.any(Number) });
      expect(receiver.received).toHaveLength(1);
    } finally {
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("tries again to record an outcome the database refused, so the delivery is not sent twice", async () => {
    const receiver = await startReceiver(() => 200);
    unwrap(await addWebhook(account, receiver.url, DASHBOARD, { allowPrivate: true }));
    const outbox = createWebhookOutbox((await getDatabaseHandle()).sql);
    const settle = outbox.settle;
    let refusals = 0;
    outbox.settle = (delivery, settlement, now) => {
      if (refusals++ === 0) return Promise.reject(Object.assign(new Error("database is locked"), { name: "DatabaseUnavailableError" }));
      return settle(delivery, settlement, now);
    };
    const running = startWebhookWorker(outbox, FAST);
    try {
      await newKeys(account, 1, "locked");
      await waitFor(() => allSettled(account, 1));
      expect((await rowsOf(account))[0]).toMatchObject({ status: "succeeded", attempts: 1 });
      expect(refusals).toBe(2);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await running.stop();
      await receiver.close();
      await cleanUp(account);
    }
  });

  it("records a connection that is refused, and retries it", async () => {
    const receiver = await startReceiver(() => 200);
    const port = receiver.port;
    await receiver.close();
    unwrap(await addWebhook(account, `http://127.0.0.1:${port}/gone`, DASHBOARD, { allowPrivate: true }));
    const running = await worker({ retryBaseMs: 60_000 });
    try {
      await newKeys(account, 1, "nobody");
      await waitFor(async () => (await rowsOf(account))[0]?.attempts === 1 && (await rowsOf(account))[0]?.last_error !== null);
      expect((await rowsOf(account))[0]).toMatchObject({ status: "pending", attempts: 1, last_status: null, last_error: "Connection refused." });
    } finally {
      await running.stop();
      await cleanUp(account);
    }
  });
});
