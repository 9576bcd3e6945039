"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk } from "@/lib/action-result";
import { TEAM_ROLES } from "@/lib/core/teams/roles";
import { changeMemberRole, inviteMember, removeMember } from "@/lib/dal/members";

// SPEC §11: owners manage members ("members.manage"); the DAL re-checks the role inside each
// write, and keeps the last owner. The email rule itself is the DAL's (it normalizes first).
const roleSchema = z.enum(TEAM_ROLES, { error: "Choose a role." });
const inviteSchema = z.object({ email: z.string().max(1_000, "That email address is too long."), role: roleSchema });
const changeRoleSchema = z.object({ userId: z.string().min(1).max(100), role: roleSchema });
const removeSchema = z.object({ userId: z.string().min(1).max(100) });
const PATH = "/settings/members";

/** `Invite member`: the link's path is in the answer, once (the page makes it absolute). */
export const inviteMemberAction = accountAction("members.manage", inviteSchema, async (account, input) => {
  const result = await inviteMember(account.id, input, account.userId);
  if (!result.ok) {
    // A bad or already-present email is the `Email` field's refusal.
    return result.code === "BAD_REQUEST" || result.code === "CONFLICT" ? { ...result, fieldErrors: { email: result.message } } : result;
  }
  revalidatePath(PATH);
  return actionOk({ path: result.value.path, email: result.value.email, replaced: result.value.replaced });
});

export const changeMemberRoleAction = accountAction("members.manage", changeRoleSchema, async (account, input) => {
  const result = await changeMemberRole(account.id, input.userId, input.role, account.userId);
  if (!result.ok) return result;
  revalidatePath(PATH);
  return actionOk(undefined);
});

/** `Remove`: the member leaves the team, and every key they created in it is disabled. */
export const removeMemberAction = accountAction("members.manage", removeSchema, async (account, input) => {
  const result = await removeMember(account.id, input.userId, account.userId);
  if (!result.ok) return result;
  revalidatePath(PATH);
  revalidatePath("/settings/api-keys");
  return actionOk({ keysDisabled: result.value.keysDisabled });
});
