"use server";

import { AuthError } from "next-auth";
import { headers } from "next/headers";
import { redirect, unstable_rethrow } from "next/navigation";
import { z } from "zod";
import { signIn, SignInRateLimited } from "@/lib/auth/next-auth";
import { isInvitationToken } from "@/lib/core/teams/invitations";
import { createAccount, normalizeEmail } from "@/lib/dal/accounts";
import { previewInvitation } from "@/lib/dal/members";
import { signInRefusedMessage, signUpRefusedMessage } from "@/lib/rate-limit/auth-limiter";
import { getAuthLimiter, requestClientAddress } from "@/lib/rate-limit/process-limiter";
import { joinInvitedTeamAs } from "./invite/join";

export type AuthFormState = { email: string; error?: string; fieldErrors?: { email?: string; password?: string } };

const AFTER_SIGN_IN = "/settings/api-keys";
const PASSWORD_MIN_LENGTH = 8;

const signUpSchema = z.object({
  email: z.email({ error: "Enter a valid email address." }).max(320, "That email address is too long."),
  password: z
    .string()
    .min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters.`)
    .max(1024, "Use at most 1024 characters."),
});

function field(formData: FormData, name: string): string {
  const value = formData.get(name);
  return typeof value === "string" ? value : "";
}

const UNAVAILABLE = "Something went wrong on our side. Try again in a moment.";

/** The invitation a form carries (SPEC §11, from `/invite/<token>`), if it is one at all; anything else is ignored. */
function inviteOf(formData: FormData): string | null {
  const value = field(formData, "invite");
  return isInvitationToken(value) ? value : null;
}

/** An open invitation for another email refuses the form before anything happens (no account, no session). */
async function inviteRefusal(invite: string | null, email: string): Promise<string | null> {
  if (invite === null) return null;
  const preview = await previewInvitation(invite);
  if (!preview || preview.status !== "pending" || preview.email === normalizeEmail(email)) return null;
  return `This invitation is for ${preview.email}. Use that email to join the team.`;
}

// signIn() signals success by throwing Next's redirect; only AuthError means "wrong credentials".
// The sign-in limits are applied inside signIn (lib/auth/next-auth.ts, authorize), for every way in.
// With an invitation, the session is made without redirecting, then the team is joined and
// switched to (app/(auth)/invite/join.ts), which redirects: into the team, or to the link's page
// saying why it did not work.
async function signInOrExplain(email: string, password: string, invite: string | null = null): Promise<AuthFormState> {
  try {
    if (invite === null) await signIn("credentials", { email, password, redirectTo: AFTER_SIGN_IN });
    else await signIn("credentials", { email, password, redirect: false });
  } catch (error) {
    if (error instanceof SignInRateLimited) return { email, error: signInRefusedMessage(error.retryAfterMs) };
    // Only a credentials miss is "wrong password"; any other AuthError wraps a failure of ours
    // (say, a locked database) and must not read as the user's mistake.
    if (error instanceof AuthError) {
      return { email, error: error.type === "CredentialsSignin" ? "Wrong email or password." : UNAVAILABLE };
    }
    throw error;
  }
  if (invite !== null) {
    try {
      await joinInvitedTeamAs(invite, email);
    } catch (error) {
      unstable_rethrow(error);
      // Signed in by now: the link's page offers `Join team` again.
      console.error(`joining after sign-in failed: ${error instanceof Error ? error.name : "unknown error"}`);
      redirect(`/invite/${invite}`);
    }
  }
  return { email };
}

export async function signInAction(_previous: AuthFormState, formData: FormData): Promise<AuthFormState> {
  const email = field(formData, "email").trim();
  const password = field(formData, "password");
  if (!email || !password) return { email, error: "Enter your email and password." };
  const invite = inviteOf(formData);
  const refused = await inviteRefusal(invite, email);
  if (refused) return { email, error: refused };
  return signInOrExplain(email, password, invite);
}

export async function signUpAction(_previous: AuthFormState, formData: FormData): Promise<AuthFormState> {
  const email = field(formData, "email").trim();
  const parsed = signUpSchema.safeParse({ email, password: field(formData, "password") });
  if (!parsed.success) {
    const errors = z.flattenError(parsed.error).fieldErrors;
    return { email, fieldErrors: { email: errors.email?.[0], password: errors.password?.[0] } };
  }
  const invite = inviteOf(formData);
  const refused = await inviteRefusal(invite, parsed.data.email);
  if (refused) return { email, fieldErrors: { email: refused } };
  // Counted per client address before the password is hashed: each attempt costs an argon2 hash.
  const admitted = getAuthLimiter().beginSignUp(requestClientAddress(await headers()), Date.now());
  if (!admitted.ok) return { email, error: signUpRefusedMessage(admitted.retryAfterMs) };
  let created: Awaited<ReturnType<typeof createAccount>>;
  try {
    created = await createAccount(parsed.data.email, parsed.data.password);
  } catch (error) {
    console.error(`sign-up failed: ${error instanceof Error ? error.name : "unknown error"}`);
    return { email, error: UNAVAILABLE };
  }
  if (!created.ok) return { email, fieldErrors: { email: created.message } };
  return signInOrExplain(parsed.data.email, parsed.data.password, invite);
}
