"use server";

import { z } from "zod";
import { accountAction, actionOk } from "@/lib/action-result";
import { chooseTeam } from "@/lib/auth/team-cookie";
import { listUserTeams } from "@/lib/dal/members";

const switchSchema = z.object({ teamId: z.string().min(1).max(100) });

/**
 * `Team` in the header (SPEC §11): works in another of the user's teams from the next request on.
 * Any member may switch; only a team the user is in now is accepted. The caller reloads.
 */
export const switchTeamAction = accountAction("view", switchSchema, async (account, input) => {
  const teams = await listUserTeams(account.userId);
  if (!teams.some((team) => team.id === input.teamId)) return { ok: false, code: "NOT_FOUND", message: "You are not a member of that team." };
  await chooseTeam(input.teamId);
  return actionOk(undefined);
});
