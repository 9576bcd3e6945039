import "server-only";
import NextAuth, { CredentialsSignin } from "next-auth";
import type { JWT } from "next-auth/jwt";
import Credentials from "next-auth/providers/credentials";
import { z } from "zod";
import { findAccountForSession, normalizeEmail, verifyAccountCredentials } from "@/lib/dal/accounts";
import { resolveAuthSecret } from "@/lib/env";
import { getAuthLimiter, requestClientAddress } from "@/lib/rate-limit/process-limiter";

declare module "next-auth" {
  interface Session {
    user: { id: string; email: string };
    /** The account's session version when this cookie was issued (see sessionVersionOf). */
    sessionVersion: number;
  }
  interface User {
    sessionVersion?: number;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    sessionVersion?: number;
  }
}

/** Cookies issued before session versions existed carry none: they count as version 0. */
const sessionVersionOf = (token: JWT): number => token.sessionVersion ?? 0;

const credentialsSchema = z.object({ email: z.string().trim().min(1).max(320), password: z.string().min(1).max(1024) });

/** Too many failed sign-ins for this email or client address; nothing was checked. */
export class SignInRateLimited extends CredentialsSignin {
  code = "rate_limited";
  constructor(readonly retryAfterMs: number) {
    super();
  }
}

// Lazy config: the secret is read (or generated) when the first request needs it, not at build time.
// `request` is set only when next-auth's own routes (/api/auth/*) handle a request; auth(),
// signIn() and signOut() in pages and actions build the config without one.
export const { handlers, auth, signIn, signOut } = NextAuth((request) => ({
  secret: resolveAuthSecret(),
  // next-auth builds its URL from AUTH_URL if set, else from X-Forwarded-Host / Host and
  // X-Forwarded-Proto (Next.js fills these from the socket when no proxy did). The cookies follow
  // that URL: https → `__Secure-authjs.session-token` with Secure; always HttpOnly, SameSite=Lax.
  // So behind a TLS-terminating proxy that sends X-Forwarded-Proto: https, cookies are Secure.
  trustHost: true,
  // Credentials sign-in requires JWT sessions; every data access re-reads the account row instead.
  session: { strategy: "jwt", maxAge: 7 * 24 * 60 * 60 },
  pages: { signIn: "/signin" },
  logger: {
    // A wrong password is an expected outcome, not a stack trace; other errors by name only.
    error(error) {
      // Refused attempts (SignInRateLimited) are wrong-password outcomes too: no line per attempt.
      if (!(error instanceof CredentialsSignin) && error.name !== "CredentialsSignin") console.error(`[auth] ${error.name}`);
    },
  },
  providers: [
    Credentials({
      credentials: { email: { label: "Email" }, password: { label: "Password", type: "password" } },
      // The limiter sits here, not in the sign-in form's action, so that it also covers a POST
      // straight to /api/auth/callback/credentials. `request` carries the original headers.
      async authorize(raw, request) {
        const parsed = credentialsSchema.safeParse(raw);
        if (!parsed.success) return null;
        const attempt = getAuthLimiter().beginSignIn(normalizeEmail(parsed.data.email), requestClientAddress(request.headers), Date.now());
        if (!attempt.ok) throw new SignInRateLimited(attempt.retryAfterMs);
        let account;
        try {
          account = await verifyAccountCredentials(parsed.data.email, parsed.data.password);
        } catch (error) {
          attempt.abandoned();
          throw error;
        }
        if (!account) return null;
        attempt.succeeded();
        return { id: account.id, email: account.email, sessionVersion: account.sessionVersion };
      },
    }),
  ],
  callbacks: {
    async jwt({ token, user }) {
      if (user?.id) {
        // Sign-in: the cookie records the account's current session version (authorize read it).
        token.sub = user.id;
        token.sessionVersion = user.sessionVersion ?? 0;
        return token;
      }
      // Pages and actions check the version in getCurrentAccount, with the one account read they
      // already make. Only /api/auth/session checks it here, so that it does not report (and
      // re-sign) a session that sign-out ended; null makes next-auth clear the cookie.
      if (request && !(token.sub && (await findAccountForSession(token.sub, sessionVersionOf(token))))) return null;
      return token;
    },
    session({ session, token }) {
      if (token.sub) session.user.id = token.sub;
      session.sessionVersion = sessionVersionOf(token);
      return session;
    },
  },
}));
