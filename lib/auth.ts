import "server-only";
import NextAuth from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { z } from "zod";
import { verifyAccountCredentials } from "@/lib/dal/accounts";
import { resolveAuthSecret } from "@/lib/env";

declare module "next-auth" {
  interface Session {
    user: { id: string; email: string };
  }
}

const credentialsSchema = z.object({ email: z.string().trim().min(1).max(320), password: z.string().min(1).max(1024) });

// Lazy config: the secret is read (or generated) when the first request needs it, not at build time.
export const { handlers, auth, signIn, signOut } = NextAuth(() => ({
  secret: resolveAuthSecret(),
  trustHost: true,
  // Credentials sign-in requires JWT sessions; every data access re-reads the account row instead.
  session: { strategy: "jwt", maxAge: 7 * 24 * 60 * 60 },
  pages: { signIn: "/signin" },
  logger: {
    // A wrong password is an expected outcome, not a stack trace; other errors by name only.
    error(error) {
      if (error.name !== "CredentialsSignin") console.error(`[auth] ${error.name}`);
    },
  },
  providers: [
    Credentials({
      credentials: { email: { label: "Email" }, password: { label: "Password", type: "password" } },
      async authorize(raw) {
        const parsed = credentialsSchema.safeParse(raw);
        if (!parsed.success) return null;
        const account = await verifyAccountCredentials(parsed.data.email, parsed.data.password);
        return account ? { id: account.id, email: account.email } : null;
      },
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user?.id) token.sub = user.id;
      return token;
    },
    session({ session, token }) {
      if (token.sub) session.user.id = token.sub;
      return session;
    },
  },
}));
