import { countRows, rawRows, readDatabaseFiles, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, describe, expect, it } from "vitest";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import { hashInvitationToken, INVITATION_TTL_MS, newInvitationToken } from "@/lib/core/teams/invitations";
import type { TeamRole } from "@/lib/core/teams/roles";
import { createAccount } from "./accounts";
import { createScopedApiKey, setApiKeyEnabled } from "./api-keys";
import { listAuditLog } from "./audit-log";
import {
  acceptInvitation,
  changeMemberRole,
  INVITATION_EXPIRED,
  INVITATION_INVALID,
  INVITATION_USED,
  inviteMember,
  listMembers,
  listPendingInvitations,
  listUserTeams,
  previewInvitation,
  removeMember,
} from "./members";

afterAll(removeTestDatabase);

type User = { userId: string; teamId: string; email: string };

async function newUser(label: string): Promise<User> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  return { userId: result.value.userId, teamId: result.value.id, email: result.value.email };
}

/** Puts `user` into `team` as `role` through the real invitation flow. */
async function join(team: User, user: User, role: TeamRole): Promise<void> {
  const invited = await inviteMember(team.teamId, { email: user.email, role }, team.userId);
  if (!invited.ok) throw new Error(`invite failed: ${invited.message}`);
  const joined = await acceptInvitation(tokenOf(invited.value.path), user.userId);
  if (!joined.ok) throw new Error(`join failed: ${joined.message}`);
}

/** A team with an owner and one user of each other role. */
async function newTeam(label: string) {
  const [owner, admin, member, viewer] = await Promise.all(["owner", "admin", "member", "viewer"].map((role) => newUser(`${label}-${role}`)));
  await join(owner!, admin!, "admin");
  await join(owner!, member!, "member");
  await join(owner!, viewer!, "viewer");
  return { owner: owner!, admin: admin!, member: member!, viewer: viewer! };
}

const tokenOf = (path: string) => path.replace(/^\/invite\//, "");

/** Everything a member operation could change in a team, to prove a refused one changed nothing. */
async function teamState(teamId: string) {
  return {
    memberships: await rawRows("SELECT * FROM memberships WHERE account_id = ? ORDER BY user_id", [teamId]),
    invitations: await rawRows("SELECT * FROM invitations WHERE account_id = ? ORDER BY id", [teamId]),
    keys: await rawRows("SELECT id, enabled FROM api_keys WHERE account_id = ? ORDER BY id", [teamId]),
    audit: await rawRows("SELECT * FROM audit_log WHERE account_id = ? ORDER BY id", [teamId]),
  };
}

async function newKey(teamId: string, creatorUserId: string, name: string): Promise<string> {
  const result = await createScopedApiKey(teamId, { name, scopes: createEmptyScopes() }, { type: "dashboard", userId: creatorUserId });
  if (!result.ok) throw new Error(`createScopedApiKey failed: ${result.message}`);
  return result.value.key.id;
}

async function roleOf(teamId: string, userId: string): Promise<string | undefined> {
  const [row] = await rawRows("SELECT role FROM memberships WHERE account_id = ? AND user_id = ?", [teamId, userId]);
  return row?.role as string | undefined;
}

async function newestEntries(teamId: string, count: number) {
  return (await listAuditLog(teamId, { page: 1, pageSize: count })).entries;
}

describe("listMembers", () => {
  it("lists every member with email, role and join time, oldest first, to any member of the team", async () => {
    const team = await newTeam("list");
    for (const viewer of [team.owner, team.admin, team.member, team.viewer]) {
      const result = await listMembers(team.owner.teamId, viewer.userId);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.value.map(({ email, role }) => [email, role])).toEqual([
        [team.owner.email, "owner"],
        [team.admin.email, "admin"],
        [team.member.email, "member"],
        [team.viewer.email, "viewer"],
      ]);
      for (const row of result.value) {
        expect(Object.keys(row).sort()).toEqual(["email", "joinedAt", "role", "userId"]);
        expect(row.joinedAt).toBeInstanceOf(Date);
      }
    }
  });

  it("refuses a user who is not in the team (a member of another team) with NOT_FOUND", async () => {
    const [a, b] = await Promise.all([newTeam("list-a"), newTeam("list-b")]);
    for (const outsider of [b.owner, b.member]) {
      expect(await listMembers(a.owner.teamId, outsider.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: "Team not found." });
    }
    expect(await listMembers("no-such-team", a.owner.userId)).toMatchObject({ ok: false, code: "NOT_FOUND" });
  });
});

describe("inviteMember", () => {
  it("stores only the SHA-256 of a 32-byte token, expiring in 7 days, and answers the link once", async () => {
    const owner = await newUser("invite-owner");
    const now = new Date("2026-03-01T10:00:00.000Z");
    const result = await inviteMember(owner.teamId, { email: "  New.Person@Example.TEST ", role: "member" }, owner.userId, now);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.path).toMatch(/^\/invite\/[A-Za-z0-9_-]{43}$/);
    const token = tokenOf(result.value.path);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(result.value).toMatchObject({ email: "new.person@example.test", role: "member", replaced: false });
    expect(result.value.expiresAt.getTime()).toBe(now.getTime() + INVITATION_TTL_MS);

    const rows = await rawRows("SELECT * FROM invitations WHERE account_id = ?", [owner.teamId]);
    expect(rows).toEqual([
      {
        id: expect.stringMatching(/^inv_/),
        account_id: owner.teamId,
        email: "new.person@example.test",
        role: "member",
        token_hash: hashInvitationToken(token),
        invited_by: owner.userId,
        created_at: now.getTime(),
        expires_at: now.getTime() + 7 * 24 * 60 * 60 * 1000,
        accepted_at: null,
        accepted_by: null,
      },
    ]);
    expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    // The token itself is nowhere in the database files.
    expect(readDatabaseFiles().includes(Buffer.from(token))).toBe(false);

    const [entry] = await newestEntries(owner.teamId, 1);
    expect(entry).toMatchObject({
      action: "member.invited",
      details: { role: "member" },
      target: { type: "member", name: "new.person@example.test" },
      actor: { type: "dashboard", userId: owner.userId, email: owner.email },
    });
    expect(JSON.stringify(await rawRows("SELECT * FROM audit_log WHERE account_id = ?", [owner.teamId]))).not.toContain(token);
  });

  it.each(["admin", "member", "viewer"] as const)("refuses the role %s with FORBIDDEN and writes nothing", async (role) => {
    const team = await newTeam(`invite-${role}`);
    const before = await teamState(team.owner.teamId);
    const result = await inviteMember(team.owner.teamId, { email: uniqueEmail("nope"), role: "viewer" }, team[role].userId);
    expect(result).toEqual({ ok: false, code: "FORBIDDEN", message: "Only owners can manage members." });
    expect(await teamState(team.owner.teamId)).toEqual(before);
  });

  it("refuses the owner of another team with NOT_FOUND and writes nothing", async () => {
    const [a, b] = await Promise.all([newTeam("invite-a"), newTeam("invite-b")]);
    const before = await teamState(a.owner.teamId);
    const result = await inviteMember(a.owner.teamId, { email: uniqueEmail("nope"), role: "owner" }, b.owner.userId);
    expect(result).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await teamState(a.owner.teamId)).toEqual(before);
  });

  it.each([
    ["the same spelling", (email: string) => email],
    ["another case, padded", (email: string) => `  ${email.toUpperCase()} `],
  ])("refuses inviting an existing member (%s) with CONFLICT “already a member”", async (_label, spell) => {
    const team = await newTeam("invite-existing");
    const before = await teamState(team.owner.teamId);
    for (const existing of [team.owner, team.member]) {
      const result = await inviteMember(team.owner.teamId, { email: spell(existing.email), role: "admin" }, team.owner.userId);
      expect(result).toEqual({ ok: false, code: "CONFLICT", message: `${existing.email} is already a member of this team.` });
    }
    expect(await teamState(team.owner.teamId)).toEqual(before);
  });

  it.each(["", "not-an-email", "a@", `${"x".repeat(320)}@example.test`])("refuses the email %j with BAD_REQUEST", async (email) => {
    const owner = await newUser("invite-bad");
    const before = await teamState(owner.teamId);
    expect(await inviteMember(owner.teamId, { email, role: "member" }, owner.userId)).toMatchObject({ ok: false, code: "BAD_REQUEST" });
    expect(await teamState(owner.teamId)).toEqual(before);
  });

  it("replaces a pending invitation of the same email: the old link stops working, the new one carries the new role", async () => {
    const owner = await newUser("replace-owner");
    const invitee = await newUser("replace-invitee");
    const first = await inviteMember(owner.teamId, { email: invitee.email, role: "viewer" }, owner.userId);
    const second = await inviteMember(owner.teamId, { email: invitee.email.toUpperCase(), role: "admin" }, owner.userId);
    if (!first.ok || !second.ok) throw new Error("setup failed");
    expect(second.value.replaced).toBe(true);
    expect(await countRows("invitations", "account_id = ? AND accepted_at IS NULL", [owner.teamId])).toBe(1);

    expect(await acceptInvitation(tokenOf(first.value.path), invitee.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: INVITATION_INVALID });
    expect(await acceptInvitation(tokenOf(second.value.path), invitee.userId)).toEqual({ ok: true, value: { teamId: owner.teamId, role: "admin" } });
    expect(await roleOf(owner.teamId, invitee.userId)).toBe("admin");
  });

  it("does not count an expired invitation it replaces as replaced", async () => {
    const owner = await newUser("replace-expired");
    const email = uniqueEmail("late");
    const long = new Date(Date.now() - 2 * INVITATION_TTL_MS);
    const old = await inviteMember(owner.teamId, { email, role: "member" }, owner.userId, long);
    const fresh = await inviteMember(owner.teamId, { email, role: "member" }, owner.userId);
    if (!old.ok || !fresh.ok) throw new Error("setup failed");
    expect(fresh.value.replaced).toBe(false);
    expect(await countRows("invitations", "account_id = ?", [owner.teamId])).toBe(1);
  });

  it("lists pending invitations to owners only", async () => {
    const team = await newTeam("pending");
    const email = uniqueEmail("pending");
    await inviteMember(team.owner.teamId, { email, role: "viewer" }, team.owner.userId);
    expect((await listPendingInvitations(team.owner.teamId, team.owner.userId)).map((row) => [row.email, row.role])).toEqual([[email, "viewer"]]);
    for (const other of [team.admin, team.member, team.viewer]) expect(await listPendingInvitations(team.owner.teamId, other.userId)).toEqual([]);
    const outsider = await newUser("pending-outsider");
    expect(await listPendingInvitations(team.owner.teamId, outsider.userId)).toEqual([]);
  });
});

describe("acceptInvitation", () => {
  it("adds the membership with the invited role, marks the link used and audits the join, in one go", async () => {
    const owner = await newUser("accept-owner");
    const invitee = await newUser("accept-invitee");
    const invited = await inviteMember(owner.teamId, { email: invitee.email, role: "viewer" }, owner.userId);
    if (!invited.ok) throw new Error("setup failed");
    const now = new Date();
    const result = await acceptInvitation(tokenOf(invited.value.path), invitee.userId, now);
    expect(result).toEqual({ ok: true, value: { teamId: owner.teamId, role: "viewer" } });
    expect(await rawRows("SELECT role, created_at FROM memberships WHERE account_id = ? AND user_id = ?", [owner.teamId, invitee.userId])).toEqual([
      { role: "viewer", created_at: now.getTime() },
    ]);
    expect(await rawRows("SELECT accepted_at, accepted_by FROM invitations WHERE account_id = ?", [owner.teamId])).toEqual([
      { accepted_at: now.getTime(), accepted_by: invitee.userId },
    ]);
    const [entry] = await newestEntries(owner.teamId, 1);
    expect(entry).toMatchObject({
      action: "member.joined",
      details: { role: "viewer" },
      target: { type: "member", id: invitee.userId, name: invitee.email },
      actor: { type: "dashboard", userId: invitee.userId, email: invitee.email },
    });
    // Their own team is still theirs; the switcher lists both, in the order joined.
    expect(await listUserTeams(invitee.userId)).toEqual([
      { id: invitee.teamId, name: invitee.email, role: "owner" },
      { id: owner.teamId, name: owner.email, role: "viewer" },
    ]);
  });

  it("is single use: a second acceptance is refused as used, and changes nothing", async () => {
    const owner = await newUser("reuse-owner");
    const invitee = await newUser("reuse-invitee");
    const invited = await inviteMember(owner.teamId, { email: invitee.email, role: "member" }, owner.userId);
    if (!invited.ok) throw new Error("setup failed");
    const token = tokenOf(invited.value.path);
    expect((await acceptInvitation(token, invitee.userId)).ok).toBe(true);
    // Removed since, the link still does not let them back in.
    expect((await removeMember(owner.teamId, invitee.userId, owner.userId)).ok).toBe(true);
    const before = await teamState(owner.teamId);
    expect(await acceptInvitation(token, invitee.userId)).toEqual({ ok: false, code: "CONFLICT", message: INVITATION_USED });
    expect(await teamState(owner.teamId)).toEqual(before);
    expect(await previewInvitation(token)).toMatchObject({ status: "used" });
  });

  it("lets exactly one of two simultaneous acceptances through", async () => {
    const owner = await newUser("race-owner");
    const invitee = await newUser("race-invitee");
    const invited = await inviteMember(owner.teamId, { email: invitee.email, role: "member" }, owner.userId);
    if (!invited.ok) throw new Error("setup failed");
    const token = tokenOf(invited.value.path);
    // In the same millisecond, too (a double-clicked `Join team`): the claim is told apart by more than its time.
    const now = new Date();
    const results = await Promise.all([acceptInvitation(token, invitee.userId, now), acceptInvitation(token, invitee.userId, now)]);
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(await countRows("memberships", "account_id = ? AND user_id = ?", [owner.teamId, invitee.userId])).toBe(1);
    expect(await countRows("audit_log", "account_id = ? AND action = 'member.joined'", [owner.teamId])).toBe(1);
  });

  it.each([
    ["at the expiry instant", 0],
    ["after the expiry", 1],
    ["long after", INVITATION_TTL_MS],
  ])("refuses an expired link (%s) and changes nothing", async (_label, afterMs) => {
    const owner = await newUser("expired-owner");
    const invitee = await newUser("expired-invitee");
    const created = new Date("2026-01-01T00:00:00.000Z");
    const invited = await inviteMember(owner.teamId, { email: invitee.email, role: "member" }, owner.userId, created);
    if (!invited.ok) throw new Error("setup failed");
    const token = tokenOf(invited.value.path);
    const before = await teamState(owner.teamId);
    const at = new Date(created.getTime() + INVITATION_TTL_MS + afterMs);
    expect(await acceptInvitation(token, invitee.userId, at)).toEqual({ ok: false, code: "BAD_REQUEST", message: INVITATION_EXPIRED });
    expect(await teamState(owner.teamId)).toEqual(before);
    expect(await previewInvitation(token, at)).toMatchObject({ status: "expired" });
    // One millisecond before the expiry it still works.
    expect((await acceptInvitation(token, invitee.userId, new Date(created.getTime() + INVITATION_TTL_MS - 1))).ok).toBe(true);
  });

  it("refuses a user whose email is not the invited one (FORBIDDEN, nothing changed); the invited user can still join", async () => {
    const owner = await newUser("foreign-owner");
    const invitee = await newUser("foreign-invitee");
    const stranger = await newUser("foreign-stranger");
    const invited = await inviteMember(owner.teamId, { email: invitee.email, role: "admin" }, owner.userId);
    if (!invited.ok) throw new Error("setup failed");
    const token = tokenOf(invited.value.path);
    const before = await teamState(owner.teamId);
    expect(await acceptInvitation(token, stranger.userId)).toEqual({
      ok: false,
      code: "FORBIDDEN",
      message: `This invitation is for ${invitee.email}, but you are signed in as ${stranger.email}.`,
    });
    // Not even the owner who sent it can use it.
    expect(await acceptInvitation(token, owner.userId)).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(await teamState(owner.teamId)).toEqual(before);
    expect(await previewInvitation(token)).toMatchObject({ status: "pending", email: invitee.email, role: "admin", teamName: owner.email });
    expect((await acceptInvitation(token, invitee.userId)).ok).toBe(true);
  });

  it.each([
    ["a well-formed token that was never issued", () => newInvitationToken()],
    ["a malformed token", () => "not-a-token"],
    ["an empty token", () => ""],
    ["the stored hash instead of the token", () => hashInvitationToken(newInvitationToken())],
  ])("refuses %s as not valid", async (_label, token) => {
    const user = await newUser("unknown-token");
    const memberships = await countRows("memberships");
    expect(await acceptInvitation(token(), user.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: INVITATION_INVALID });
    expect(await previewInvitation(token())).toBeNull();
    expect(await countRows("memberships")).toBe(memberships);
  });

  it("cannot be replayed with the hash read from the database", async () => {
    const owner = await newUser("hash-owner");
    const invitee = await newUser("hash-invitee");
    const invited = await inviteMember(owner.teamId, { email: invitee.email, role: "member" }, owner.userId);
    if (!invited.ok) throw new Error("setup failed");
    const [row] = await rawRows("SELECT token_hash FROM invitations WHERE account_id = ?", [owner.teamId]);
    expect(await acceptInvitation(String(row?.token_hash), invitee.userId)).toMatchObject({ ok: false, code: "NOT_FOUND" });
  });

  it("refuses a user who is a member already, leaving their role as it was", async () => {
    const owner = await newUser("already-owner");
    const invitee = await newUser("already-invitee");
    await join(owner, invitee, "viewer");
    // Inviting a member is refused, so plant the invitation the way an old row could be left.
    const token = newInvitationToken();
    await rawRows("INSERT INTO invitations (id, account_id, email, role, token_hash, created_at, expires_at) VALUES ('inv_planted', ?, ?, 'owner', ?, ?, ?)", [
      owner.teamId,
      invitee.email,
      hashInvitationToken(token),
      Date.now(),
      Date.now() + INVITATION_TTL_MS,
    ]);
    const before = await teamState(owner.teamId);
    expect(await acceptInvitation(token, invitee.userId)).toEqual({ ok: false, code: "CONFLICT", message: "You are already a member of this team." });
    expect(await teamState(owner.teamId)).toEqual(before);
  });
});

describe("changeMemberRole", () => {
  it("changes the role and audits before → after, by whom; the same role again records nothing", async () => {
    const team = await newTeam("role");
    const result = await changeMemberRole(team.owner.teamId, team.member.userId, "admin", team.owner.userId);
    expect(result).toEqual({ ok: true, value: { userId: team.member.userId, role: "admin" } });
    expect(await roleOf(team.owner.teamId, team.member.userId)).toBe("admin");
    const [entry] = await newestEntries(team.owner.teamId, 1);
    expect(entry).toMatchObject({
      action: "member.role_changed",
      details: { from: "member", to: "admin" },
      target: { type: "member", id: team.member.userId, name: team.member.email },
      actor: { type: "dashboard", userId: team.owner.userId, email: team.owner.email },
    });
    const entries = await countRows("audit_log", "account_id = ?", [team.owner.teamId]);
    expect((await changeMemberRole(team.owner.teamId, team.member.userId, "admin", team.owner.userId)).ok).toBe(true);
    expect(await countRows("audit_log", "account_id = ?", [team.owner.teamId])).toBe(entries);
  });

  it.each(["admin", "member", "viewer"] as const)("refuses the role %s with FORBIDDEN (even for their own role) and changes nothing", async (role) => {
    const team = await newTeam(`role-${role}`);
    const before = await teamState(team.owner.teamId);
    for (const [target, to] of [
      [team.viewer, "owner"],
      [team[role], "owner"],
      [team.owner, "viewer"],
    ] as const) {
      expect(await changeMemberRole(team.owner.teamId, target.userId, to, team[role].userId)).toMatchObject({ ok: false, code: "FORBIDDEN" });
    }
    expect(await teamState(team.owner.teamId)).toEqual(before);
  });

  it("refuses the owner of another team, and a target who is not in the team, with NOT_FOUND", async () => {
    const [a, b] = await Promise.all([newTeam("role-a"), newTeam("role-b")]);
    const [beforeA, beforeB] = [await teamState(a.owner.teamId), await teamState(b.owner.teamId)];
    expect(await changeMemberRole(a.owner.teamId, a.member.userId, "owner", b.owner.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: "Team not found." });
    expect(await changeMemberRole(a.owner.teamId, b.member.userId, "owner", a.owner.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: "Member not found." });
    expect([await teamState(a.owner.teamId), await teamState(b.owner.teamId)]).toEqual([beforeA, beforeB]);
  });

  it.each(["admin", "member", "viewer"] as const)("refuses demoting the last owner to %s (CONFLICT); with a second owner it works", async (role) => {
    const team = await newTeam(`last-owner-${role}`);
    const before = await teamState(team.owner.teamId);
    expect(await changeMemberRole(team.owner.teamId, team.owner.userId, role, team.owner.userId)).toEqual({
      ok: false,
      code: "CONFLICT",
      message: "A team needs at least one owner: make another member an owner first.",
    });
    expect(await teamState(team.owner.teamId)).toEqual(before);

    expect((await changeMemberRole(team.owner.teamId, team.admin.userId, "owner", team.owner.userId)).ok).toBe(true);
    expect((await changeMemberRole(team.owner.teamId, team.owner.userId, role, team.owner.userId)).ok).toBe(true);
    // Now the former admin is the last owner, and the former owner can no longer change roles.
    expect(await changeMemberRole(team.owner.teamId, team.admin.userId, "viewer", team.admin.userId)).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(await changeMemberRole(team.owner.teamId, team.admin.userId, "viewer", team.owner.userId)).toMatchObject({ ok: false, code: "FORBIDDEN" });
  });

  it("leaves one owner when two owners demote each other at the same time", async () => {
    const team = await newTeam("mutual");
    await changeMemberRole(team.owner.teamId, team.admin.userId, "owner", team.owner.userId);
    const results = await Promise.all([
      changeMemberRole(team.owner.teamId, team.admin.userId, "member", team.owner.userId),
      changeMemberRole(team.owner.teamId, team.owner.userId, "member", team.admin.userId),
    ]);
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(await countRows("memberships", "account_id = ? AND role = 'owner'", [team.owner.teamId])).toBe(1);
  });
});

describe("removeMember", () => {
  it("removes the member and disables exactly their enabled keys in this team, each audited with the reason", async () => {
    const team = await newTeam("remove");
    const teamId = team.owner.teamId;
    const theirs = [await newKey(teamId, team.member.userId, "m-one"), await newKey(teamId, team.member.userId, "m-two")];
    const theirDisabled = await newKey(teamId, team.member.userId, "m-off");
    await setApiKeyEnabled(teamId, theirDisabled, false, { type: "dashboard", userId: team.member.userId });
    const others = [await newKey(teamId, team.owner.userId, "o-one"), await newKey(teamId, team.admin.userId, "a-one")];
    const inTheirOwnTeam = await newKey(team.member.teamId, team.member.userId, "own-team");
    const auditBefore = await countRows("audit_log", "account_id = ?", [teamId]);
    const now = new Date();

    const result = await removeMember(teamId, team.member.userId, team.owner.userId, now);
    expect(result).toEqual({ ok: true, value: { userId: team.member.userId, keysDisabled: 2 } });
    expect(await roleOf(teamId, team.member.userId)).toBeUndefined();
    const enabled = async (keyId: string, inTeam = teamId) => (await rawRows("SELECT enabled FROM api_keys WHERE account_id = ? AND id = ?", [inTeam, keyId]))[0]?.enabled;
    for (const keyId of [...theirs, theirDisabled]) expect(await enabled(keyId)).toBe(0);
    for (const keyId of others) expect(await enabled(keyId)).toBe(1);
    expect(await enabled(inTheirOwnTeam, team.member.teamId)).toBe(1);
    // Still in their own team, which is untouched.
    expect(await listUserTeams(team.member.userId)).toEqual([{ id: team.member.teamId, name: team.member.email, role: "owner" }]);

    const entries = await newestEntries(teamId, 3);
    expect(await countRows("audit_log", "account_id = ?", [teamId])).toBe(auditBefore + 3);
    const actor = { type: "dashboard", userId: team.owner.userId, email: team.owner.email };
    expect(entries.filter((entry) => entry.action === "api_key.disabled").map((entry) => [entry.target.id, entry.details, entry.actor]).sort()).toEqual(
      theirs.map((keyId) => [keyId, { kind: "scoped", reason: "member_removed", member: team.member.email }, actor]).sort(),
    );
    expect(entries.find((entry) => entry.action === "member.removed")).toMatchObject({
      details: { role: "member", left: false, keysDisabled: 2 },
      target: { type: "member", id: team.member.userId, name: team.member.email },
      actor,
      createdAt: now,
    });
  });

  it("sends the disabled keys' webhook event with the reason", async () => {
    const owner = await newUser("remove-hook-owner");
    const member = await newUser("remove-hook-member");
    await join(owner, member, "member");
    const keyId = await newKey(owner.teamId, member.userId, "hooked");
    await rawRows("INSERT INTO webhooks (id, account_id, url, secret, created_at) VALUES ('wh_members', ?, 'https://hooks.example.test/x', 'secret', ?)", [owner.teamId, Date.now()]);
    expect((await removeMember(owner.teamId, member.userId, owner.userId)).ok).toBe(true);
    const deliveries = await rawRows("SELECT event, payload FROM webhook_deliveries WHERE account_id = ? AND webhook_id = 'wh_members'", [owner.teamId]);
    expect(deliveries.map((row) => [row.event, JSON.parse(String(row.payload)).key.id, JSON.parse(String(row.payload)).details.reason])).toEqual([["key.disabled", keyId, "member_removed"]]);
  });

  it.each(["admin", "member", "viewer"] as const)("refuses the role %s removing someone else (FORBIDDEN): nothing changes, their keys stay enabled", async (role) => {
    const team = await newTeam(`remove-${role}`);
    const teamId = team.owner.teamId;
    await newKey(teamId, team.member.userId, "stays");
    const before = await teamState(teamId);
    for (const target of [team.owner, team.admin, team.member, team.viewer].filter((user) => user !== team[role])) {
      expect(await removeMember(teamId, target.userId, team[role].userId)).toEqual({ ok: false, code: "FORBIDDEN", message: "Only owners can manage members." });
    }
    expect(await teamState(teamId)).toEqual(before);
  });

  it("refuses the owner of another team (NOT_FOUND) and a target in another team (NOT_FOUND); nothing changes in either", async () => {
    const [a, b] = await Promise.all([newTeam("remove-a"), newTeam("remove-b")]);
    await newKey(a.owner.teamId, a.member.userId, "a-key");
    await newKey(b.owner.teamId, b.member.userId, "b-key");
    const [beforeA, beforeB] = [await teamState(a.owner.teamId), await teamState(b.owner.teamId)];
    expect(await removeMember(a.owner.teamId, a.member.userId, b.owner.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: "Team not found." });
    expect(await removeMember(a.owner.teamId, b.member.userId, a.owner.userId)).toEqual({ ok: false, code: "NOT_FOUND", message: "Member not found." });
    expect([await teamState(a.owner.teamId), await teamState(b.owner.teamId)]).toEqual([beforeA, beforeB]);
  });

  it.each(["admin", "member", "viewer"] as const)("lets the role %s remove themselves (leave), disabling their keys", async (role) => {
    const team = await newTeam(`leave-${role}`);
    const keyId = role === "viewer" ? null : await newKey(team.owner.teamId, team[role].userId, "mine");
    const result = await removeMember(team.owner.teamId, team[role].userId, team[role].userId);
    expect(result).toEqual({ ok: true, value: { userId: team[role].userId, keysDisabled: keyId ? 1 : 0 } });
    expect(await roleOf(team.owner.teamId, team[role].userId)).toBeUndefined();
    const [entry] = (await newestEntries(team.owner.teamId, 3)).filter((e) => e.action === "member.removed");
    expect(entry).toMatchObject({ details: { role, left: true }, actor: { userId: team[role].userId } });
  });

  it("refuses removing the last owner, by themselves (CONFLICT); a second owner makes it possible", async () => {
    const team = await newTeam("remove-last");
    const teamId = team.owner.teamId;
    await newKey(teamId, team.owner.userId, "owner-key");
    const before = await teamState(teamId);
    expect(await removeMember(teamId, team.owner.userId, team.owner.userId)).toEqual({
      ok: false,
      code: "CONFLICT",
      message: "A team needs at least one owner: make another member an owner first.",
    });
    expect(await teamState(teamId)).toEqual(before);

    await changeMemberRole(teamId, team.admin.userId, "owner", team.owner.userId);
    // An owner may remove another owner while one remains; then the last one still cannot go.
    expect((await removeMember(teamId, team.owner.userId, team.admin.userId)).ok).toBe(true);
    expect(await removeMember(teamId, team.admin.userId, team.admin.userId)).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(await countRows("memberships", "account_id = ? AND role = 'owner'", [teamId])).toBe(1);
  });

  it("answers NOT_FOUND for a member already removed, and changes nothing", async () => {
    const team = await newTeam("remove-twice");
    expect((await removeMember(team.owner.teamId, team.viewer.userId, team.owner.userId)).ok).toBe(true);
    const before = await teamState(team.owner.teamId);
    expect(await removeMember(team.owner.teamId, team.viewer.userId, team.owner.userId)).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await teamState(team.owner.teamId)).toEqual(before);
  });
});

describe("listUserTeams", () => {
  it("lists only the user's own teams, named by their creators' emails", async () => {
    const [a, b] = await Promise.all([newUser("teams-a"), newUser("teams-b")]);
    const c = await newUser("teams-c");
    await join(a, c, "member");
    await join(b, c, "viewer");
    expect(await listUserTeams(c.userId)).toEqual([
      { id: c.teamId, name: c.email, role: "owner" },
      { id: a.teamId, name: a.email, role: "member" },
      { id: b.teamId, name: b.email, role: "viewer" },
    ]);
    expect(await listUserTeams(a.userId)).toEqual([{ id: a.teamId, name: a.email, role: "owner" }]);
    expect(await listUserTeams("no-such-user")).toEqual([]);
  });
});
