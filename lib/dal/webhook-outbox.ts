import "server-only";
import type { SqlRunner } from "@/db/handle";

// The delivery worker's side of the webhook outbox (lib/worker/webhook-worker.ts), on the
// handle's prepared statements. Rows are written by the trigger on audit_log (migration 0007);
// here they are claimed, and settled. A claim is one UPDATE … RETURNING inside the write lock:
// two workers (two processes, or two handles) never hold the same delivery at once, and a claim
// is a lease (`claimed_until`), so one taken by a process that died is taken again after it.
// Settling is conditional on the claim still being the one this worker took.

export type ClaimedDelivery = {
  id: string;
  accountId: string;
  webhookId: string;
  event: string;
  payload: string;
  /** Including the one just begun. */
  attempts: number;
  createdAt: number;
  /** The claim's lease end: the token that settling checks. */
  claimedUntil: number;
  url: string | null;
  secret: string | null;
};

export type Settlement =
  | { outcome: "succeeded"; status: number }
  /** `retryAt` null: no more attempts (past the retry window, or a refused target). */
  | { outcome: "failed"; status: number | null; error: string; retryAt: number | null };

// Due, not held by a live claim, and the earliest of its webhook, whose other deliveries are not
// being sent either: at most one delivery per webhook in flight across every process, so one
// slow or hanging receiver holds one sending slot, not all of them, and a receiver mostly sees
// its events in order. The GROUP BY's bare `id` comes from the row with min(next_attempt_at).
const CANDIDATES = `
  SELECT id, min(next_attempt_at) AS due FROM webhook_deliveries
  WHERE status = 'pending' AND next_attempt_at <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?1)
    AND webhook_id NOT IN (SELECT webhook_id FROM webhook_deliveries WHERE status = 'pending' AND claimed_until > ?1)
  GROUP BY webhook_id`;

const WEBHOOK_OF = (column: "url" | "secret") =>
  `(SELECT w.${column} FROM webhooks w WHERE w.account_id = webhook_deliveries.account_id AND w.id = webhook_deliveries.webhook_id)`;

export function createWebhookOutbox(sql: SqlRunner) {
  return {
    /** A cheap read, so that an idle poll never takes the write lock. */
    async hasDue(now: number): Promise<boolean> {
      return (await sql.get<{ id: string }>(`${CANDIDATES} LIMIT 1`, [now])) !== undefined;
    },

    /** Claims up to `limit` due deliveries until `now + leaseMs`, counting the attempt begun. */
    claimDue(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
      return sql.all<ClaimedDelivery>(
        `UPDATE webhook_deliveries SET claimed_until = ?2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM (${CANDIDATES}) ORDER BY due LIMIT ?3)
         RETURNING id, account_id AS accountId, webhook_id AS webhookId, event, payload, attempts, created_at AS createdAt,
                   claimed_until AS claimedUntil, ${WEBHOOK_OF("url")} AS url, ${WEBHOOK_OF("secret")} AS secret`,
        [now, now + leaseMs, limit],
      );
    },

    /**
     * Records an attempt's outcome and lets go of the claim. Nothing is written when the claim
     * is no longer this worker's (it lapsed and another took the delivery) or the webhook is gone.
     */
    settle(delivery: ClaimedDelivery, settlement: Settlement, now: number): Promise<number> {
      const claim = [delivery.id, delivery.claimedUntil];
      if (settlement.outcome === "succeeded") {
        return sql.run(
          `UPDATE webhook_deliveries SET status = 'succeeded', last_status = ?3, last_error = NULL, completed_at = ?4, claimed_until = NULL
           WHERE id = ?1 AND claimed_until = ?2 AND status = 'pending'`,
          [...claim, settlement.status, now],
        );
      }
      return sql.run(
        `UPDATE webhook_deliveries SET last_status = ?3, last_error = ?4, claimed_until = NULL,
           status = CASE WHEN ?5 IS NULL THEN 'failed' ELSE 'pending' END,
           next_attempt_at = coalesce(?5, next_attempt_at),
           completed_at = CASE WHEN ?5 IS NULL THEN ?6 ELSE NULL END
         WHERE id = ?1 AND claimed_until = ?2 AND status = 'pending'`,
        [...claim, settlement.status, settlement.error, settlement.retryAt, now],
      );
    },
  };
}

export type WebhookOutbox = ReturnType<typeof createWebhookOutbox>;
