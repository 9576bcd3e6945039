import "server-only";
import { redirect } from "next/navigation";
import { chooseTeam } from "@/lib/auth/team-cookie";
import { isInvitationToken } from "@/lib/core/teams/invitations";
import { acceptInvitation, findUserIdByEmail, previewInvitation } from "@/lib/dal/members";

// Not a "use server" module on purpose: these take a user id or an email the caller has already
// proven, so they must never be reachable as server actions themselves.

const AFTER_JOIN = "/settings/api-keys";

/**
 * Accepts the invitation `token` for `userId` and works in that team from now on; otherwise back to
 * the invitation's page, which says what is wrong with the link (expired, used, someone else's).
 * Both end in a redirect. Only a well-formed token is ever put into a path.
 */
export async function joinInvitedTeam(token: string, userId: string): Promise<never> {
  const joined = await acceptInvitation(token, userId);
  if (joined.ok) {
    await chooseTeam(joined.value.teamId);
    redirect(AFTER_JOIN);
  }
  redirect(isInvitationToken(token) ? `/invite/${token}` : AFTER_JOIN);
}

/** After a sign-in or sign-up carrying an invitation: the credentials have just proven `email`. */
export async function joinInvitedTeamAs(token: string, email: string): Promise<never> {
  const userId = await findUserIdByEmail(email);
  if (!userId) redirect("/signin");
  return joinInvitedTeam(token, userId);
}

/** The invitation a sign-in or sign-up page was opened with (`?invite=`), while the link is still open. */
export async function formInvitation(param: string | string[] | undefined): Promise<{ token: string; email: string } | undefined> {
  if (typeof param !== "string" || !isInvitationToken(param)) return undefined;
  const preview = await previewInvitation(param);
  return preview?.status === "pending" ? { token: param, email: preview.email } : undefined;
}
