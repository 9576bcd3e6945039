import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { TeamRole } from "@/lib/core/teams/roles";
import { createAccount, findAccountForSession, type MemberDto } from "@/lib/dal/accounts";
import { acceptInvitation, inviteMember } from "@/lib/dal/members";
import { switchTeamAction } from "../actions";
import * as memberActions from "./actions";

// The members page's actions and the header's `Team`, as Next.js runs them, with the session
// stubbed: owners only for members ("members.manage"), any member for switching, and a refused
// call changes nothing.
const session = vi.hoisted(() => ({ account: null as MemberDto | null }));
const revalidated = vi.hoisted(() => [] as string[]);
const cookieJar = vi.hoisted(() => [] as { name: string; value: string; options: Record<string, unknown> }[]);
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account, TEAM_COOKIE: "keyscope-team" }));
vi.mock("next/cache", () => ({ revalidatePath: (path: string) => void revalidated.push(path) }));
vi.mock("next/headers", () => ({
  headers: async () => new Headers(),
  cookies: async () => ({ set: (name: string, value: string, options: Record<string, unknown>) => void cookieJar.push({ name, value, options }) }),
}));

type AnyAction = (input: unknown) => Promise<unknown>;
const actions = memberActions as unknown as Record<string, AnyAction>;

const as = {} as Record<TeamRole, MemberDto>;
let outsider: MemberDto;
let target: MemberDto;

async function user(label: string) {
  const created = await createAccount(uniqueEmail(label), "password-members-123");
  if (!created.ok) throw new Error("setup: account");
  return created.value;
}

/** The member `userId` working in `teamId`, as the session would give them. */
async function member(userId: string, teamId: string): Promise<MemberDto> {
  const found = await findAccountForSession(userId, 0, teamId);
  if (!found || found.id !== teamId) throw new Error("setup: member");
  return found;
}

async function join(owner: MemberDto, email: string, userId: string, role: TeamRole) {
  const invited = await inviteMember(owner.id, { email, role }, owner.userId);
  if (!invited.ok) throw new Error("setup: invite");
  const joined = await acceptInvitation(invited.value.path.replace("/invite/", ""), userId);
  if (!joined.ok) throw new Error("setup: join");
}

/** Every row the actions could touch. */
async function snapshot(): Promise<string> {
  const tables = ["memberships", "invitations", "api_keys", "audit_log"];
  return JSON.stringify(await Promise.all(tables.map((table) => rawRows(`SELECT * FROM ${table} ORDER BY rowid`))));
}

beforeAll(async () => {
  const owner = await user("owner");
  as.owner = owner;
  for (const role of ["admin", "member", "viewer"] as const) {
    const created = await user(role);
    await join(owner, created.email, created.userId, role);
    as[role] = await member(created.userId, owner.id);
  }
  const someone = await user("target");
  await join(owner, someone.email, someone.userId, "viewer");
  target = await member(someone.userId, owner.id);
  outsider = await user("outsider");
});

afterAll(removeTestDatabase);

beforeEach(() => {
  session.account = null;
  revalidated.length = 0;
  cookieJar.length = 0;
});

const validInputs: Record<string, () => unknown> = {
  inviteMemberAction: () => ({ email: uniqueEmail("invited"), role: "member" }),
  changeMemberRoleAction: () => ({ userId: target.userId, role: "admin" }),
  removeMemberAction: () => ({ userId: target.userId }),
};

describe("members actions", () => {
  it("are exactly these ('use server' exports only actions)", () => {
    expect(Object.keys(actions).sort()).toEqual(Object.keys(validInputs).sort());
  });

  const names = Object.keys(validInputs);

  it.each(names)("%s: signed out is UNAUTHENTICATED and changes nothing", async (name) => {
    const before = await snapshot();
    expect(await actions[name]!(validInputs[name]!())).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    expect(await snapshot()).toBe(before);
  });

  it.each(names.flatMap((name) => (["admin", "member", "viewer"] as const).map((role) => [name, role] as const)))(
    "%s: refused for the role %s (FORBIDDEN), nothing changed",
    async (name, role) => {
      session.account = as[role];
      const before = await snapshot();
      expect(await actions[name]!(validInputs[name]!())).toEqual({ ok: false, code: "FORBIDDEN", message: expect.stringMatching(/cannot manage members/) });
      expect(await snapshot()).toBe(before);
      expect(revalidated).toEqual([]);
    },
  );

  it.each(names)("%s: a malformed input is BAD_REQUEST and changes nothing", async (name) => {
    session.account = as.owner;
    const before = await snapshot();
    for (const input of [undefined, "garbage", { userId: 1, role: "superuser", email: 7 }]) {
      expect(await actions[name]!(input)).toMatchObject({ ok: false, code: "BAD_REQUEST", fieldErrors: expect.any(Object) });
    }
    expect(await snapshot()).toBe(before);
  });

  it("another team's owner reaches no member of this team (NOT_FOUND), and changes nothing", async () => {
    session.account = outsider;
    const before = await snapshot();
    expect(await actions.changeMemberRoleAction!({ userId: target.userId, role: "owner" })).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await actions.removeMemberAction!({ userId: target.userId })).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await snapshot()).toBe(before);
  });

  it("the owner invites (the link once, in the answer), and an existing member's email is the field's refusal", async () => {
    session.account = as.owner;
    const email = uniqueEmail("new");
    expect(await actions.inviteMemberAction!({ email, role: "viewer" })).toEqual({
      ok: true,
      data: { path: expect.stringMatching(/^\/invite\/[A-Za-z0-9_-]{43}$/), email, replaced: false },
    });
    expect(revalidated).toEqual(["/settings/members"]);
    expect(await actions.inviteMemberAction!({ email: as.viewer.email, role: "viewer" })).toEqual({
      ok: false,
      code: "CONFLICT",
      message: `${as.viewer.email} is already a member of this team.`,
      fieldErrors: { email: `${as.viewer.email} is already a member of this team.` },
    });
  });

  it("the owner changes a role and removes a member", async () => {
    session.account = as.owner;
    expect(await actions.changeMemberRoleAction!({ userId: target.userId, role: "admin" })).toEqual({ ok: true, data: undefined });
    expect((await rawRows("SELECT role FROM memberships WHERE account_id = ? AND user_id = ?", [as.owner.id, target.userId]))[0]?.role).toBe("admin");
    expect(await actions.removeMemberAction!({ userId: target.userId })).toEqual({ ok: true, data: { keysDisabled: 0 } });
    expect(revalidated).toContain("/settings/api-keys");
    expect(await rawRows("SELECT * FROM memberships WHERE account_id = ? AND user_id = ?", [as.owner.id, target.userId])).toEqual([]);
  });
});

describe("switchTeamAction", () => {
  it("chooses one of the user's teams: an HttpOnly, SameSite=Lax cookie naming it", async () => {
    session.account = as.viewer;
    // The viewer's own team (sign-up made it), then back to the one they joined.
    const own = (await rawRows("SELECT account_id FROM memberships WHERE user_id = ? AND role = 'owner'", [as.viewer.userId]))[0]?.account_id as string;
    for (const teamId of [own, as.owner.id]) {
      cookieJar.length = 0;
      expect(await switchTeamAction({ teamId })).toEqual({ ok: true, data: undefined });
      expect(cookieJar).toEqual([{ name: "keyscope-team", value: teamId, options: expect.objectContaining({ httpOnly: true, sameSite: "lax", path: "/" }) }]);
    }
  });

  it.each([
    ["a team the user is not in", () => outsider.id],
    ["no such team", () => "no-such-team"],
  ])("refuses %s with NOT_FOUND and sets no cookie", async (_label, teamId) => {
    session.account = as.viewer;
    expect(await switchTeamAction({ teamId: teamId() })).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(cookieJar).toEqual([]);
  });

  it("refuses a signed-out caller", async () => {
    expect(await switchTeamAction({ teamId: as.owner.id })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    expect(cookieJar).toEqual([]);
  });
});
