// When a failed webhook delivery is tried again (SPEC §9: with backoff, for 24 hours). In units of
// the base delay (WEBHOOK_RETRY_BASE_MS, 10 s by default), so that tests can run the whole
// schedule, window included, in moments: 10 s, 30 s, 1 min, 5 min, 15 min, 1 h, then hourly.

const STEPS = [1, 3, 6, 30, 90, 360] as const;
/** 24 h at the default base of 10 s. */
const WINDOW_STEPS = 8_640;

export const DEFAULT_RETRY_BASE_MS = 10_000;

/** How long a delivery is retried after its event: 24 h at the default base. */
export function retryWindowMs(baseMs: number): number {
  return WINDOW_STEPS * baseMs;
}

/** The wait after the `attempts`-th failed attempt (1 for the first). */
export function retryDelayMs(attempts: number, baseMs: number): number {
  const step = STEPS[Math.min(Math.max(attempts, 1), STEPS.length) - 1]!;
  return step * baseMs;
}

/**
 * After the `attempts`-th attempt failed at `now`: when to try again, or null when the next try
 * would fall after the retry window that began at `createdAt` (the delivery has then failed).
 */
export function nextAttemptAt(attempts: number, createdAt: number, now: number, baseMs: number): number | null {
  const next = now + retryDelayMs(attempts, baseMs);
  return next > createdAt + retryWindowMs(baseMs) ? null : next;
}
