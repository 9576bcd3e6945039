// Pure: the sign-in and sign-up limits. Counters live in this process's memory (see README,
// "Security"): several app processes each keep their own, and a restart forgets them.
//
// The email key is counted whether or not an account has that email, and a refused attempt
// answers before any database read, so the limiter tells nobody which emails have accounts.

import { SlidingWindow } from "./sliding-window";

export type AuthLimits = {
  /** Failed sign-ins per email (any spelling that normalises the same) per window. */
  signInFailuresPerEmail: number;
  /** Failed sign-ins per client address per window. */
  signInFailuresPerAddress: number;
  signInWindowMs: number;
  /** Sign-up attempts (valid form, whether or not the email was taken) per address per window. */
  signUpsPerAddress: number;
  signUpWindowMs: number;
};

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  signInFailuresPerEmail: 5,
  signInFailuresPerAddress: 20,
  signInWindowMs: 15 * 60_000,
  signUpsPerAddress: 10,
  signUpWindowMs: 60 * 60_000,
};

export type Refused = { ok: false; retryAfterMs: number };

/**
 * An admitted sign-in attempt. It already counts as a failure (so that concurrent attempts
 * cannot all slip past the check while their password hashes run); report how it ended.
 */
export type SignInAttempt = {
  ok: true;
  /** Right password: the email's failures are forgotten, the address's slot is given back. */
  succeeded(): void;
  /** Neither right nor wrong (the database failed): both slots are given back. */
  abandoned(): void;
};

export class AuthLimiter {
  private readonly byEmail: SlidingWindow;
  private readonly byAddress: SlidingWindow;
  private readonly signUps: SlidingWindow;

  constructor(limits: AuthLimits = DEFAULT_AUTH_LIMITS) {
    this.byEmail = new SlidingWindow({ limit: limits.signInFailuresPerEmail, windowMs: limits.signInWindowMs });
    this.byAddress = new SlidingWindow({ limit: limits.signInFailuresPerAddress, windowMs: limits.signInWindowMs });
    this.signUps = new SlidingWindow({ limit: limits.signUpsPerAddress, windowMs: limits.signUpWindowMs });
  }

  /** `email` normalised by the caller (trimmed, lower-cased), so that spellings share a counter. */
  beginSignIn(email: string, address: string, now: number): SignInAttempt | Refused {
    const refused = worst([this.byEmail.check(email, now), this.byAddress.check(address, now)]);
    if (refused) return refused;
    this.byEmail.record(email, now);
    this.byAddress.record(address, now);
    let settled = false;
    const settle = (after: () => void) => () => {
      if (settled) return;
      settled = true;
      after();
    };
    return {
      ok: true,
      succeeded: settle(() => {
        this.byEmail.reset(email);
        this.byAddress.release(address, now);
      }),
      abandoned: settle(() => {
        this.byEmail.release(email, now);
        this.byAddress.release(address, now);
      }),
    };
  }

  /** Counts one sign-up attempt from `address`, or refuses it. */
  beginSignUp(address: string, now: number): { ok: true } | Refused {
    const verdict = this.signUps.check(address, now);
    if (!verdict.ok) return verdict;
    this.signUps.record(address, now);
    return { ok: true };
  }
}

function worst(verdicts: ReturnType<SlidingWindow["check"]>[]): Refused | null {
  let refused: Refused | null = null;
  for (const verdict of verdicts) {
    if (!verdict.ok && (!refused || verdict.retryAfterMs > refused.retryAfterMs)) refused = verdict;
  }
  return refused;
}

/** Whole minutes, rounded up, never 0: "Try again in 0 minutes" would be a lie. */
export function retryAfterText(retryAfterMs: number): string {
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  return `Try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`;
}

export function signInRefusedMessage(retryAfterMs: number): string {
  return `Too many sign-in attempts. ${retryAfterText(retryAfterMs)}`;
}

export function signUpRefusedMessage(retryAfterMs: number): string {
  return `Too many sign-up attempts. ${retryAfterText(retryAfterMs)}`;
}
