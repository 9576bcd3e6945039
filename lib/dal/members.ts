import "server-only";
import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "@/db/handle";
import { accounts, apiKeys, auditLog, invitations, memberships, users } from "@/db/schema";
import { hashInvitationToken, INVITATION_TTL_MS, invitationPath, isInvitationToken, newInvitationToken } from "@/lib/core/teams/invitations";
import { ROLE_LABELS, type TeamRole } from "@/lib/core/teams/roles";
import { normalizeEmail } from "./accounts";
import { actorJson, auditSelection, outer } from "./audit-log";
import { newId } from "./ids";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch, runWriteBatchResults } from "./write-batch";

// SPEC §11 members: who is in a team, invitations, roles, removal. Every write carries its own
// authorization in its WHERE — the acting user must be an owner of the team (or, to leave, the
// member themselves) at the moment the statement runs — so a membership changed concurrently, or a
// caller that skipped the action's check, changes nothing. The last owner rule is in the same
// WHERE: each batch takes the write lock up front, so two owners demoting each other at once
// cannot leave a team without one.

/**
 * A DAL result that may also be FORBIDDEN: the acting user is in the team, but their role does
 * not allow the change (the action refuses it first; the DAL re-checks inside the write).
 */
export type MembersResult<T> = DalResult<T> | { ok: false; code: "FORBIDDEN"; message: string };

const forbidden = (message: string): MembersResult<never> => ({ ok: false, code: "FORBIDDEN", message });

/** A member of the team, as the members page lists them. */
export type TeamMemberDto = { userId: string; email: string; role: TeamRole; joinedAt: Date };
/** A team the user is in, for the `Team` switcher: named by its creator's email (accounts.email). */
export type UserTeamDto = { id: string; name: string; role: TeamRole };
/** A link not used yet (owners see these on the members page; the link itself is never stored). */
export type PendingInvitationDto = { id: string; email: string; role: TeamRole; createdAt: Date; expiresAt: Date };
/** What the invitation page shows about a link, before anyone acts on it. */
export type InvitationPreview = {
  teamId: string;
  teamName: string;
  email: string;
  role: TeamRole;
  expiresAt: Date;
  status: "pending" | "expired" | "used";
};

const TEAM_NOT_FOUND = "Team not found.";
const MEMBER_NOT_FOUND = "Member not found.";
const OWNERS_ONLY = "Only owners can manage members.";
const LAST_OWNER = "A team needs at least one owner: make another member an owner first.";
export const INVITATION_INVALID = "This invitation link is not valid. Ask a team owner for a new one.";
export const INVITATION_USED = "This invitation link has already been used. Ask a team owner for a new one.";
export const INVITATION_EXPIRED = "This invitation link has expired. Ask a team owner for a new one.";

const emailSchema = z.email().max(320);

// --- Conditions, each a self-contained SQL predicate (aliases keep them from binding to the
// statement's own table).

/** The user is in the team. */
const isMember = (teamId: string, userId: string) =>
  sql`EXISTS (SELECT 1 FROM memberships am WHERE am.account_id = ${teamId} AND am.user_id = ${userId})`;

/** The user is an owner of the team. */
const isOwner = (teamId: string, userId: string) =>
  sql`EXISTS (SELECT 1 FROM memberships ao WHERE ao.account_id = ${teamId} AND ao.user_id = ${userId} AND ao.role = 'owner')`;

/** The user is the team's only owner: removing or demoting them would leave it without one. */
const isLastOwner = (teamId: string, userId: string) =>
  sql`(EXISTS (SELECT 1 FROM memberships lo WHERE lo.account_id = ${teamId} AND lo.user_id = ${userId} AND lo.role = 'owner')
    AND (SELECT count(*) FROM memberships lc WHERE lc.account_id = ${teamId} AND lc.role = 'owner') <= 1)`;

/** Someone with this (normalized) email is in the team already. */
const emailIsMember = (teamId: string, email: string) =>
  sql`EXISTS (SELECT 1 FROM memberships em JOIN users eu ON eu.id = em.user_id WHERE em.account_id = ${teamId} AND eu.email = ${email})`;

/** Who acted on a member: the signed-in user (their email is read in the same batch). */
const byUser = (teamId: string, actorUserId: string) => actorJson(teamId, { type: "dashboard", userId: actorUserId });

/**
 * Why a guarded write changed nothing, read after the fact (the write itself was atomic; this
 * only picks the message): the actor is not in the team (as if it did not exist), or not an owner.
 */
async function actorRefusal(teamId: string, actorUserId: string): Promise<MembersResult<never> | null> {
  const db = await getDb();
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.accountId, teamId), eq(memberships.userId, actorUserId)))
    .limit(1);
  if (!row) return fail("NOT_FOUND", TEAM_NOT_FOUND);
  if (row.role !== "owner") return forbidden(OWNERS_ONLY);
  return null;
}

async function memberRole(teamId: string, userId: string): Promise<TeamRole | null> {
  const db = await getDb();
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.accountId, teamId), eq(memberships.userId, userId)))
    .limit(1);
  return row?.role ?? null;
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * The team's members, oldest first, for a user who is one of them (any role may look); another
 * team's user gets NOT_FOUND. One query: a team always has a member (its last owner stays), so
 * no rows means the viewer is not in it.
 */
export async function listMembers(teamId: string, viewerUserId: string): Promise<DalResult<TeamMemberDto[]>> {
  const db = await getDb();
  const rows = await db
    .select({ userId: users.id, email: users.email, role: memberships.role, joinedAt: memberships.createdAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.accountId, teamId), isMember(teamId, viewerUserId)))
    .orderBy(asc(memberships.createdAt), asc(users.email));
  return rows.length === 0 ? fail("NOT_FOUND", TEAM_NOT_FOUND) : ok(rows);
}

/** The team's unused, unexpired invitations, newest first: for its owners only (others: an empty list). */
export async function listPendingInvitations(teamId: string, viewerUserId: string, now = new Date()): Promise<PendingInvitationDto[]> {
  const db = await getDb();
  return db
    .select({ id: invitations.id, email: invitations.email, role: invitations.role, createdAt: invitations.createdAt, expiresAt: invitations.expiresAt })
    .from(invitations)
    .where(and(eq(invitations.accountId, teamId), isNull(invitations.acceptedAt), gt(invitations.expiresAt, now), isOwner(teamId, viewerUserId)))
    .orderBy(sql`${invitations.createdAt} DESC`, asc(invitations.id));
}

/** The user's teams, in the order they joined them: the `Team` switcher's choices. */
export async function listUserTeams(userId: string): Promise<UserTeamDto[]> {
  const db = await getDb();
  return db
    .select({ id: accounts.id, name: accounts.email, role: memberships.role })
    .from(memberships)
    .innerJoin(accounts, eq(accounts.id, memberships.accountId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt), asc(accounts.id));
}

/** The user with this email, if any: after a successful sign-in, the id the credentials proved. */
export async function findUserIdByEmail(email: string): Promise<string | null> {
  const db = await getDb();
  const [row] = await db.select({ id: users.id }).from(users).where(eq(users.email, normalizeEmail(email))).limit(1);
  return row?.id ?? null;
}

/** What a link invites to, whatever its state; null for a token that matches no invitation. */
export async function previewInvitation(token: string, now = new Date()): Promise<InvitationPreview | null> {
  if (!isInvitationToken(token)) return null;
  const db = await getDb();
  const [row] = await db
    .select({
      teamId: invitations.accountId,
      teamName: accounts.email,
      email: invitations.email,
      role: invitations.role,
      expiresAt: invitations.expiresAt,
      acceptedAt: invitations.acceptedAt,
    })
    .from(invitations)
    .innerJoin(accounts, eq(accounts.id, invitations.accountId))
    .where(eq(invitations.tokenHash, hashInvitationToken(token)))
    .limit(1);
  if (!row) return null;
  const { acceptedAt, ...rest } = row;
  const status = acceptedAt !== null ? "used" : row.expiresAt.getTime() <= now.getTime() ? "expired" : "pending";
  return { ...rest, status };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Invites `email` to the team as `role` (owners only). Answers the link's path, `/invite/<token>`:
 * the token is in this answer only (the row keeps its SHA-256), and works once, for 7 days, for
 * whoever signs in or up with that email. An email already in the team is refused. An email with
 * an unused invitation gets a new one that replaces it (`replaced`): the link is shown once, so an
 * owner who lost it needs a new one, and one live link per email keeps the role unambiguous. The
 * replacement, the new row and its audit entry commit together.
 */
export async function inviteMember(
  teamId: string,
  input: { email: string; role: TeamRole },
  actorUserId: string,
  now = new Date(),
): Promise<MembersResult<{ path: string; email: string; role: TeamRole; expiresAt: Date; replaced: boolean }>> {
  const email = normalizeEmail(input.email);
  if (!emailSchema.safeParse(email).success) return fail("BAD_REQUEST", "Enter a valid email address.");
  if (!(input.role in ROLE_LABELS)) return fail("BAD_REQUEST", "Choose a role.");
  const db = await getDb();
  const token = newInvitationToken();
  const id = `inv_${newId()}`;
  const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS);
  const allowed = and(isOwner(teamId, actorUserId), sql`NOT ${emailIsMember(teamId, email)}`);
  const [replaced, inserted] = await runWriteBatchResults(db, [
    db
      .delete(invitations)
      .where(and(eq(invitations.accountId, teamId), eq(invitations.email, email), isNull(invitations.acceptedAt), allowed))
      .returning({ expiresAt: invitations.expiresAt }),
    db.insert(invitations).select(
      db
        .select({
          id: sql<string>`${id}`.as("id"),
          accountId: accounts.id,
          email: sql<string>`${email}`.as("email"),
          role: sql<TeamRole>`${input.role}`.as("role"),
          tokenHash: sql<string>`${hashInvitationToken(token)}`.as("token_hash"),
          invitedBy: sql<string>`${actorUserId}`.as("invited_by"),
          createdAt: sql<number>`${now.getTime()}`.as("created_at"),
          expiresAt: sql<number>`${expiresAt.getTime()}`.as("expires_at"),
          acceptedAt: sql<null>`null`.as("accepted_at"),
          acceptedBy: sql<null>`null`.as("accepted_by"),
        })
        .from(accounts)
        .where(and(eq(accounts.id, teamId), allowed)),
    ),
    db.insert(auditLog).select(
      db
        // No user yet: the entry's target is the invitation, named by the email invited.
        .select(
          auditSelection(now, "member.invited", "member", {
            accountId: invitations.accountId,
            targetId: invitations.id,
            targetName: invitations.email,
            details: sql<string>`json_object('role', ${invitations.role})`,
            actor: byUser(teamId, actorUserId),
          }),
        )
        .from(invitations)
        .where(and(eq(invitations.id, id), eq(invitations.accountId, teamId))),
    ),
  ]);
  if (!inserted?.rowsAffected) {
    const refused = await actorRefusal(teamId, actorUserId);
    if (refused) return refused;
    return fail("CONFLICT", `${email} is already a member of this team.`);
  }
  // Only a link that still worked counts as replaced: an expired one was dead anyway.
  const replacedLive = (replaced?.rows ?? []).some((row) => Number(row.expires_at ?? row[0]) > now.getTime());
  return ok({ path: invitationPath(token), email, role: input.role, expiresAt, replaced: replacedLive });
}

/**
 * Joins the team of the invitation `token` as the user `userId`, whose email must be the one
 * invited. Single use: the row is claimed by one conditional UPDATE (unused, unexpired, that
 * email, not a member yet), and the membership, then the `member.joined` entry, follow in the same
 * batch only when the statement before them changed a row. Expired, used, unknown or someone else's links change
 * nothing, and say which they are.
 */
export async function acceptInvitation(token: string, userId: string, now = new Date()): Promise<MembersResult<{ teamId: string; role: TeamRole }>> {
  if (!isInvitationToken(token)) return fail("NOT_FOUND", INVITATION_INVALID);
  const tokenHash = hashInvitationToken(token);
  const db = await getDb();
  // The claim just made by this batch: its user and time, and the statement before changed a row
  // (SQLite's changes() is the count of the last completed statement on this connection). The
  // latter tells two acceptances by one user in the same millisecond apart: only one claims.
  const claimedNow = and(eq(invitations.tokenHash, tokenHash), eq(invitations.acceptedBy, userId), eq(invitations.acceptedAt, now), sql`changes() = 1`);
  const [claimed] = await runWriteBatch(db, [
    db
      .update(invitations)
      .set({ acceptedAt: now, acceptedBy: userId })
      .where(
        and(
          eq(invitations.tokenHash, tokenHash),
          isNull(invitations.acceptedAt),
          gt(invitations.expiresAt, now),
          sql`${invitations.email} = (SELECT iu.email FROM users iu WHERE iu.id = ${userId})`,
          sql`NOT EXISTS (SELECT 1 FROM memberships im WHERE im.account_id = ${outer(invitations.accountId)} AND im.user_id = ${userId})`,
        ),
      ),
    db
      .insert(memberships)
      .select(
        db
          .select({
            accountId: invitations.accountId,
            userId: sql<string>`${userId}`.as("user_id"),
            role: invitations.role,
            createdAt: sql<number>`${now.getTime()}`.as("created_at"),
          })
          .from(invitations)
          .where(claimedNow),
      )
      .onConflictDoNothing(),
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "member.joined", "member", {
            accountId: invitations.accountId,
            // Just claimed: the user who joined.
            targetId: invitations.acceptedBy,
            targetName: invitations.email,
            details: sql<string>`json_object('role', ${invitations.role})`,
            // The joining user acted; their email is the invitation's (the claim required it).
            actor: sql<string>`json_object('type', 'dashboard', 'userId', ${userId}, 'email', ${invitations.email})`,
          }),
        )
        .from(invitations)
        .where(claimedNow),
    ),
  ]);
  const preview = await previewInvitation(token, now);
  if (claimed && preview) return ok({ teamId: preview.teamId, role: preview.role });
  if (!preview) return fail("NOT_FOUND", INVITATION_INVALID);
  if (preview.status === "used") return fail("CONFLICT", INVITATION_USED);
  if (preview.status === "expired") return fail("BAD_REQUEST", INVITATION_EXPIRED);
  const [user] = await db.select({ email: users.email }).from(users).where(eq(users.id, userId)).limit(1);
  if (!user) return fail("NOT_FOUND", "Your account no longer exists.");
  if (user.email !== preview.email) return forbidden(`This invitation is for ${preview.email}, but you are signed in as ${user.email}.`);
  return fail("CONFLICT", "You are already a member of this team.");
}

/**
 * Gives a member another role (owners only). Demoting the last owner is refused. Choosing the
 * role a member already has succeeds and records nothing.
 */
export async function changeMemberRole(
  teamId: string,
  userId: string,
  role: TeamRole,
  actorUserId: string,
  now = new Date(),
): Promise<MembersResult<{ userId: string; role: TeamRole }>> {
  if (!(role in ROLE_LABELS)) return fail("BAD_REQUEST", "Choose a role.");
  const db = await getDb();
  const allowed = and(
    eq(memberships.accountId, teamId),
    eq(memberships.userId, userId),
    isOwner(teamId, actorUserId),
    role === "owner" ? undefined : sql`NOT ${isLastOwner(teamId, userId)}`,
  );
  const [, updated] = await runWriteBatch(db, [
    // Before the update, to record the role it changes from.
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "member.role_changed", "member", {
            accountId: memberships.accountId,
            targetId: memberships.userId,
            targetName: users.email,
            details: sql<string>`json_object('from', ${memberships.role}, 'to', ${role})`,
            actor: byUser(teamId, actorUserId),
          }),
        )
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(allowed, sql`${memberships.role} <> ${role}`)),
    ),
    db.update(memberships).set({ role }).where(allowed),
  ]);
  if (updated) return ok({ userId, role });
  const refused = await actorRefusal(teamId, actorUserId);
  if (refused) return refused;
  if ((await memberRole(teamId, userId)) === null) return fail("NOT_FOUND", MEMBER_NOT_FOUND);
  return fail("CONFLICT", LAST_OWNER);
}

/**
 * Removes a member from the team: an owner removes anyone, any member removes themselves (leaves);
 * the last owner can do neither. Every enabled key of this team that the member created is disabled,
 * each with an `api_key.disabled` entry saying why (`reason: "member_removed"`), after the
 * `member.removed` entry, all in one batch with the removal. Their keys in other teams are untouched.
 */
export async function removeMember(
  teamId: string,
  userId: string,
  actorUserId: string,
  now = new Date(),
): Promise<MembersResult<{ userId: string; keysDisabled: number }>> {
  const db = await getDb();
  const allowed = and(
    sql`EXISTS (SELECT 1 FROM memberships rm WHERE rm.account_id = ${teamId} AND rm.user_id = ${userId})`,
    userId === actorUserId ? undefined : isOwner(teamId, actorUserId),
    sql`NOT ${isLastOwner(teamId, userId)}`,
  );
  const theirEnabledKeys = and(eq(apiKeys.accountId, teamId), eq(apiKeys.createdBy, userId), eq(apiKeys.enabled, true), allowed);
  const memberEmail = sql<string>`(SELECT ru.email FROM users ru WHERE ru.id = ${userId})`;
  const [removedEntries, , keysDisabled, removed] = await runWriteBatch(db, [
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "member.removed", "member", {
            accountId: memberships.accountId,
            targetId: memberships.userId,
            targetName: users.email,
            // `left`: they removed themselves. `keysDisabled`: counted before the next statements disable them.
            details: sql<string>`json_object('role', ${memberships.role}, 'left', json(${userId === actorUserId ? "true" : "false"}), 'keysDisabled', (
              SELECT count(*) FROM api_keys rk WHERE rk.account_id = ${teamId} AND rk.created_by = ${userId} AND rk.enabled = 1
            ))`,
            actor: byUser(teamId, actorUserId),
          }),
        )
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.accountId, teamId), eq(memberships.userId, userId), allowed)),
    ),
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "api_key.disabled", "api_key", {
            accountId: apiKeys.accountId,
            targetId: apiKeys.id,
            targetName: apiKeys.name,
            details: sql<string>`json_object('kind', ${apiKeys.kind}, 'reason', 'member_removed', 'member', ${memberEmail})`,
            actor: byUser(teamId, actorUserId),
          }),
        )
        .from(apiKeys)
        .where(theirEnabledKeys),
    ),
    db.update(apiKeys).set({ enabled: false }).where(theirEnabledKeys),
    db.delete(memberships).where(and(eq(memberships.accountId, teamId), eq(memberships.userId, userId), allowed)),
  ]);
  if (removed && removedEntries) return ok({ userId, keysDisabled: keysDisabled ?? 0 });
  if (userId !== actorUserId) {
    const refused = await actorRefusal(teamId, actorUserId);
    if (refused) return refused;
  }
  if ((await memberRole(teamId, userId)) === null) return fail("NOT_FOUND", userId === actorUserId ? TEAM_NOT_FOUND : MEMBER_NOT_FOUND);
  return fail("CONFLICT", LAST_OWNER);
}
