import "server-only";
import { readEnv } from "@/lib/env";
import { AuthLimiter, DEFAULT_AUTH_LIMITS } from "./auth-limiter";
import { CLIENT_ADDRESS_HEADER } from "@/lib/http/front-door";
import { normalizeAddress } from "./client-address";

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

/**
 * The per-address bucket of a request: the client address that the front door decided on (TCP
 * peer, or X-Forwarded-For as TRUST_PROXY says), which it sets on every request it admits. A
 * request that did not come through the front door (a bare `next start`) has none and shares the
 * "unknown" bucket: nothing a client sends can choose its bucket.
 */
export function requestClientAddress(headers: Pick<Headers, "get">): string {
  return normalizeAddress(headers.get(CLIENT_ADDRESS_HEADER) ?? "unknown");
}
