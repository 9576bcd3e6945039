import { can, canChangeKey, ROLE_LABELS, type Permission, type TeamRole } from "./roles";

// SPEC §11: what a refused member is told, by permission — the same sentence from a server action
// (`FORBIDDEN`) and beside a control a page shows disabled, so the two cannot disagree.

const WHAT: Readonly<Record<Permission, string>> = {
  view: "see this team",
  "keys.create": "create keys",
  "keys.manage": "change keys",
  "keys.manageOwn": "change keys",
  "endpoints.manage": "change endpoints",
  "webhooks.manage": "change webhooks",
  "members.manage": "manage members",
  "policies.manage": "change policies",
  "approvals.decide": "approve or decline requests",
};

/** "Your role (Viewer) cannot create keys." — or null when the role has the permission. */
export function permissionRefusal(role: TeamRole, permission: Permission): string | null {
  return can(role, permission) ? null : `Your role (${ROLE_LABELS[role]}) cannot ${WHAT[permission]}.`;
}

/**
 * Why a member may not change one key (canChangeKey), or null when they may: a Viewer changes no
 * key; a Member only the keys they created.
 */
export function keyChangeRefusal(member: { role: TeamRole; userId: string }, createdBy: string | null): string | null {
  if (canChangeKey(member, createdBy)) return null;
  if (!can(member.role, "keys.manageOwn")) return permissionRefusal(member.role, "keys.manageOwn");
  return `Your role (${ROLE_LABELS[member.role]}) can only change keys you created.`;
}
