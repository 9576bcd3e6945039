import "server-only";
import { redirect } from "next/navigation";
import { cache } from "react";
import { auth } from "@/lib/auth";
import { findAccountById, type AccountDto } from "./accounts";

/**
 * The signed-in account, re-read from the database on every request (once per render), or
 * null. A valid cookie for an account that no longer exists counts as signed out.
 */
export const getCurrentAccount = cache(async (): Promise<AccountDto | null> => {
  const session = await auth();
  const accountId = session?.user?.id;
  if (!accountId) return null;
  return findAccountById(accountId);
});

/** For pages: the signed-in account, or a redirect to the sign-in page. */
export async function requireAccount(): Promise<AccountDto> {
  const account = await getCurrentAccount();
  if (!account) redirect("/signin");
  return account;
}
