import { nextAttemptAt } from "@/lib/core/webhooks/retry";
import type { ClaimedDelivery, Settlement, WebhookOutbox } from "@/lib/dal/webhook-outbox";
import { sendWebhook, type SendOutcome } from "./webhook-sender";
import type { ResolveAll } from "./webhook-target";

export type WebhookWorkerOptions = {
  pollMs: number;
  /** The first retry's delay; the whole schedule and the 24 h window scale with it (lib/core/webhooks/retry.ts). */
  retryBaseMs: number;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Deliveries this process sends at once. */
  concurrency?: number;
  /** Tests: a clock to move past leases and retry times, a resolver, and a send to watch. */
  now?: () => number;
  resolve?: ResolveAll;
  send?: typeof sendWebhook;
};

export type WebhookWorker = {
  /** Looks for due deliveries now, instead of at the next poll. */
  wake(): void;
  /** Stops claiming; resolves once the deliveries already being sent are settled. */
  stop(): Promise<void>;
};

export const DEFAULT_WEBHOOK_CONCURRENCY = 4;
/** A claim outlives any attempt (timeout included) by a wide margin before another process may take it. */
const MIN_LEASE_MS = 30_000;
const SETTLE_ATTEMPTS = 3;
const SETTLE_RETRY_MS = 1_000;

/**
 * Sends the webhook outbox (SPEC §9). Every server process runs one, off the request path: the
 * only thing a request or an action does is write its audit entry, which the trigger turns into
 * deliveries in the same transaction. Each poll reads whether anything is due (no write lock when
 * idle), claims up to the free slots atomically, and settles each attempt: 2xx delivered,
 * otherwise retried with backoff until 24 h after the event, a refused target failed at once.
 * Everything it knows is in the table, so a restart loses nothing: a claim held by a process that
 * died lapses and the delivery is sent again (at least once; receivers dedupe on its id).
 */
export function startWebhookWorker(outbox: WebhookOutbox, options: WebhookWorkerOptions): WebhookWorker {
  const concurrency = options.concurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
  const leaseMs = Math.max(MIN_LEASE_MS, 3 * options.timeoutMs);
  const clock = options.now ?? Date.now;
  const send = options.send ?? sendWebhook;
  const sending = new Set<Promise<void>>();
  let filling: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  function settlementOf(delivery: ClaimedDelivery, outcome: SendOutcome, now: number): Settlement {
    if (outcome.ok) return { outcome: "succeeded", status: outcome.status };
    const retryAt = outcome.permanent ? null : nextAttemptAt(delivery.attempts, delivery.createdAt, now, options.retryBaseMs);
    return { outcome: "failed", status: outcome.status, error: outcome.error, retryAt };
  }

  async function deliver(delivery: ClaimedDelivery): Promise<void> {
    const outcome: SendOutcome =
      delivery.url === null || delivery.secret === null
        ? { ok: false, status: null, error: "The webhook no longer exists.", permanent: true }
        : await send(
            { id: delivery.id, event: delivery.event, url: delivery.url, secret: delivery.secret, payload: delivery.payload },
            { timeoutMs: options.timeoutMs, allowPrivate: options.allowPrivate, resolve: options.resolve },
          );
    const now = clock();
    const settlement = settlementOf(delivery, outcome, now);
    // Recording the outcome is what keeps a delivered event from being sent again when the claim
    // lapses: a database busy past its timeout gets a few more tries, well within the lease.
    for (let attempt = 1; ; attempt++) {
      try {
        await outbox.settle(delivery, settlement, now);
        return;
      } catch (error) {
        if (attempt >= SETTLE_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, SETTLE_RETRY_MS));
      }
    }
  }

  function start(delivery: ClaimedDelivery) {
    const running: Promise<void> = deliver(delivery)
      .catch((error: unknown) => {
        // Settling failed (a locked database): the claim lapses and the delivery is sent again.
        console.error(`webhook worker: ${error instanceof Error ? error.name : "unknown error"}`);
      })
      .finally(() => {
        sending.delete(running);
        if (!stopped) void fill();
      });
    sending.add(running);
  }

  function fill(): Promise<void> {
    if (filling) {
      again = true;
      return filling;
    }
    filling = claimWhileFree().finally(() => (filling = null));
    return filling;
  }

  async function claimWhileFree(): Promise<void> {
    try {
      do {
        again = false;
        while (!stopped && sending.size < concurrency) {
          const now = clock();
          if (!(await outbox.hasDue(now)) || stopped) break;
          // Claimed rows are sent even if stop() came meanwhile: stop() waits for them.
          const claimed = await outbox.claimDue(now, concurrency - sending.size, leaseMs);
          if (claimed.length === 0) break;
          for (const delivery of claimed) start(delivery);
        }
      } while (again && !stopped);
    } catch (error) {
      // A locked database: the next poll tries again.
      console.error(`webhook worker: ${error instanceof Error ? error.name : "unknown error"}`);
    }
  }

  const timer = setInterval(() => void fill(), options.pollMs);
  timer.unref();
  void fill();

  return {
    wake: () => void fill(),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await filling;
      while (sending.size > 0) await Promise.all([...sending]);
    },
  };
}
