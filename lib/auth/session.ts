import "server-only";
import { redirect } from "next/navigation";
import { cache } from "react";
import { auth } from "@/lib/auth/next-auth";
import { findAccountForSession, type AccountDto } from "@/lib/dal/accounts";

/**
 * The signed-in account, re-read from the database on every request (once per render), or
 * null. A valid cookie counts as signed out when its account no longer exists or when its
 * session was ended (sign-out moved the account's session version on since it was issued).
 */
export const getCurrentAccount = cache(async (): Promise<AccountDto | null> => {
  const session = await auth();
  const accountId = session?.user?.id;
  if (!accountId) return null;
  return findAccountForSession(accountId, session.sessionVersion);
});

/** For pages: the signed-in account, or a redirect to the sign-in page. */
export async function requireAccount(): Promise<AccountDto> {
  const account = await getCurrentAccount();
  if (!account) redirect("/signin");
  return account;
}
