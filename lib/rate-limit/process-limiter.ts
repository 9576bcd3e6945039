import "server-only";
import { readEnv } from "@/lib/env";
import { AuthLimiter, DEFAULT_AUTH_LIMITS } from "./auth-limiter";
import { clientAddress } from "./client-address";

const globalForLimiter = globalThis as unknown as { keyscopeAuthLimiter?: AuthLimiter };

/** This process's sign-in and sign-up limiter (one per process, whichever bundle asks). */
export function getAuthLimiter(): AuthLimiter {
  if (!globalForLimiter.keyscopeAuthLimiter) {
    const env = readEnv();
    globalForLimiter.keyscopeAuthLimiter = new AuthLimiter({
      ...DEFAULT_AUTH_LIMITS,
      signInFailuresPerEmail: env.SIGNIN_MAX_FAILURES_PER_EMAIL,
      signInFailuresPerAddress: env.SIGNIN_MAX_FAILURES_PER_ADDRESS,
      signUpsPerAddress: env.SIGNUP_MAX_PER_ADDRESS,
    });
  }
  return globalForLimiter.keyscopeAuthLimiter;
}

/** The client address of a request, from X-Forwarded-For as TRUST_PROXY says to read it. */
export function requestClientAddress(headers: Pick<Headers, "get">): string {
  return clientAddress(headers.get("x-forwarded-for"), readEnv().TRUST_PROXY);
}
