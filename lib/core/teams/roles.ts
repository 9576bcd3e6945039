// SPEC §11: the roles of a team's members, and the one table of what each may do. Every server
// action and page asks `can()` (through lib/action-result.ts and lib/auth/session.ts); nothing
// else decides who may change what.

export const TEAM_ROLES = ["owner", "admin", "member", "viewer"] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

export const ROLE_LABELS: Readonly<Record<TeamRole, string>> = { owner: "Owner", admin: "Admin", member: "Member", viewer: "Viewer" };

/**
 * What a member may do, by role (SPEC §11): `Owner` everything, including members and policies;
 * `Admin` every key and endpoint, and approvals; `Member` creates keys and manages the keys they
 * created, and sees the rest; `Viewer` sees keys (never a secret), endpoints, usage and the audit
 * log, and changes nothing.
 */
export const PERMISSIONS = {
  /** Every page of the team: keys, endpoints, usage, audit log, Check access (it changes nothing). */
  view: ["owner", "admin", "member", "viewer"],
  "keys.create": ["owner", "admin", "member"],
  /** Change, roll, elevate, restrict or delete any key of the team. */
  "keys.manage": ["owner", "admin"],
  /** The same, for the keys the member created. */
  "keys.manageOwn": ["owner", "admin", "member"],
  "endpoints.manage": ["owner", "admin"],
  "webhooks.manage": ["owner"],
  "members.manage": ["owner"],
  "policies.manage": ["owner"],
  "approvals.decide": ["owner", "admin"],
} as const satisfies Record<string, readonly TeamRole[]>;

export type Permission = keyof typeof PERMISSIONS;

/** Whether `role` has `permission`: the one table's answer. Anything not a role has none. */
export function can(role: TeamRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly string[]).includes(role);
}

/**
 * Whether a member may change one key: any key with `keys.manage`, a key they created with
 * `keys.manageOwn`. Keys created before teams belong to the team's first owner; imported ones
 * (no creator) only to those who manage every key.
 */
export function canChangeKey(member: { role: TeamRole; userId: string }, createdBy: string | null): boolean {
  if (can(member.role, "keys.manage")) return true;
  return can(member.role, "keys.manageOwn") && createdBy !== null && createdBy === member.userId;
}
