"use server";

import { redirect, unstable_rethrow } from "next/navigation";
import { getCurrentAccount } from "@/lib/auth/session";
import { isInvitationToken } from "@/lib/core/teams/invitations";
import { joinInvitedTeam } from "./join";

export type JoinTeamState = { error?: string };

/**
 * `Join team` on the invitation page, as the signed-in user (re-checked here: an action is a
 * public POST endpoint). Ends in a redirect: into the team, or back to the page, which then says
 * why the link did not work.
 */
export async function joinTeamAction(_previous: JoinTeamState, formData: FormData): Promise<JoinTeamState> {
  const token = formData.get("token");
  if (typeof token !== "string" || !isInvitationToken(token)) return { error: "This invitation link is not valid." };
  try {
    const account = await getCurrentAccount();
    if (!account) redirect(`/invite/${token}`);
    return await joinInvitedTeam(token, account.userId);
  } catch (error) {
    unstable_rethrow(error);
    console.error(`join failed: ${error instanceof Error ? error.name : "unknown error"}`);
    return { error: "Something went wrong on our side. Try again in a moment." };
  }
}
