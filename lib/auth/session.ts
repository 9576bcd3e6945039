import "server-only";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { auth } from "@/lib/auth/next-auth";
import { findAccountForSession, type MemberDto } from "@/lib/dal/accounts";

/** The team a user switched to (SPEC §11 `Team`): a preference only — membership is checked on every read. */
export const TEAM_COOKIE = "keyscope-team";

/**
 * The signed-in member — the user in the team they are working in — re-read from the database on
 * every request (once per render), or null. A valid cookie counts as signed out when its user no
 * longer exists, is in no team, or when its session was ended (sign-out moved the user's session
 * version on since it was issued). The team is the one the `Team` switcher chose if the user is
 * still in it, else their first.
 */
export const getCurrentAccount = cache(async (): Promise<MemberDto | null> => {
  const session = await auth();
  const userId = session?.user?.id;
  if (!userId) return null;
  const chosen = (await cookies()).get(TEAM_COOKIE)?.value ?? null;
  return findAccountForSession(userId, session.sessionVersion, chosen);
});

/** For pages: the signed-in member, or a redirect to the sign-in page. */
export async function requireAccount(): Promise<MemberDto> {
  const account = await getCurrentAccount();
  if (!account) redirect("/signin");
  return account;
}
