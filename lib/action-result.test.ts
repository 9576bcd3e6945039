import { redirect } from "next/navigation";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { MemberDto } from "@/lib/dal/accounts";
import { PERMISSIONS, TEAM_ROLES, type Permission, type TeamRole } from "@/lib/core/teams/roles";
import { accountAction, actionOk, keyAction, memberActor } from "./action-result";

// The one wrapper every dashboard action goes through: session first, then the role, then the
// input, once; for a change to one key, then the key's creator.
const session = vi.hoisted(() => ({ account: null as MemberDto | null, checks: 0, fail: false }));
vi.mock("@/lib/auth/session", () => ({
  getCurrentAccount: async () => {
    session.checks += 1;
    if (session.fail) throw new Error("session store down");
    return session.account;
  },
}));

// The team's keys by id, as findKeyCreator finds them in the member's team (and only there).
const keys = vi.hoisted(() => ({ lookups: [] as [string, string][], creators: new Map<string, string | null>() }));
vi.mock("@/lib/dal/api-keys", () => ({
  findKeyCreator: async (accountId: string, keyId: string) => {
    keys.lookups.push([accountId, keyId]);
    return accountId === "acct_1" && keys.creators.has(keyId) ? { createdBy: keys.creators.get(keyId)! } : null;
  },
}));

const ACCOUNT: MemberDto = { id: "acct_1", email: "a@example.test", createdAt: new Date(0), userId: "user_1", role: "owner" };
const schema = z.object({ name: z.string().trim().min(1, "Name is required."), count: z.number().int("Count must be whole.") });

let logged: string[] = [];
beforeEach(() => {
  session.account = ACCOUNT;
  session.checks = 0;
  keys.lookups = [];
  keys.creators = new Map([["key_own", "user_1"], ["key_other", "user_2"], ["key_imported", null]]);
  session.fail = false;
  logged = [];
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void logged.push(String(line)));
});
afterEach(() => vi.restoreAllMocks());

function spyAction() {
  const body = vi.fn(async (account: MemberDto, input: z.output<typeof schema>) => actionOk({ account: account.id, input }));
  return { body, action: accountAction("view", schema, body) };
}

describe("accountAction", () => {
  it.each<[string, unknown]>([
    ["valid input", { name: "x", count: 1 }],
    ["invalid input", { name: "", count: 1.5 }],
    ["no input", undefined],
    ["a string", "name=x"],
  ])("signed out, %s → UNAUTHENTICATED, and the body never runs", async (_label, input) => {
    session.account = null;
    const { body, action } = spyAction();
    expect(await action(input as never)).toEqual({ ok: false, code: "UNAUTHENTICATED", message: "Your session has ended. Sign in again." });
    expect(body).not.toHaveBeenCalled();
  });

  it("passes the account and the parsed input (not the raw one) to the body, and its result back unchanged", async () => {
    const { body, action } = spyAction();
    expect(await action({ name: "  padded  ", count: 2, extra: "dropped" } as never)).toEqual({ ok: true, data: { account: "acct_1", input: { name: "padded", count: 2 } } });
    expect(body).toHaveBeenCalledTimes(1);
    expect(body).toHaveBeenCalledWith(ACCOUNT, { name: "padded", count: 2 });
  });

  it("passes a refusal from the body back unchanged", async () => {
    const refusal = { ok: false, code: "NOT_FOUND", message: "API key not found." } as const;
    const action = accountAction("view", schema, async () => refusal);
    expect(await action({ name: "x", count: 1 })).toBe(refusal);
  });

  it.each<[string, unknown, string, Record<string, string>]>([
    ["one bad field", { name: " ", count: 1 }, "Name is required.", { name: "Name is required." }],
    ["two bad fields", { name: "", count: 0.5 }, "Name is required.", { name: "Name is required.", count: "Count must be whole." }],
  ])("signed in, %s → BAD_REQUEST with the first message and one per field; the body never runs", async (_label, input, message, fieldErrors) => {
    const { body, action } = spyAction();
    expect(await action(input as never)).toEqual({ ok: false, code: "BAD_REQUEST", message, fieldErrors });
    expect(body).not.toHaveBeenCalled();
  });

  it("re-checks the session on every call: a session that ends in between refuses the next call", async () => {
    const { body, action } = spyAction();
    expect((await action({ name: "x", count: 1 })).ok).toBe(true);
    session.account = null;
    expect(await action({ name: "x", count: 1 })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    expect(session.checks).toBe(2);
    expect(body).toHaveBeenCalledTimes(1);
  });

  it.each<[string, () => void]>([
    ["the body throws", () => void 0],
    ["the session check throws", () => void (session.fail = true)],
  ])("%s → UNAVAILABLE with a try-again message; only the error's class is logged", async (_label, arrange) => {
    arrange();
    const action = accountAction("view", schema, async () => {
      throw new TypeError("SELECT * FROM api_keys WHERE key_hash = 'secret'");
    });
    expect(await action({ name: "x", count: 1 })).toEqual({ ok: false, code: "UNAVAILABLE", message: "Something went wrong on our side. Try again in a moment." });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^server action failed: (TypeError|Error)$/);
  });

  it("lets Next.js control flow (a redirect) through instead of turning it into an error", async () => {
    const action = accountAction("view", schema, async () => redirect("/signin"));
    await expect(action({ name: "x", count: 1 })).rejects.toMatchObject({ digest: expect.stringMatching(/^NEXT_REDIRECT/) });
    expect(logged).toEqual([]);
  });
});

describe("accountAction: the permission (SPEC §11)", () => {
  // Every permission × every role, from the one table: allowed runs the body, refused never does.
  const cases = (Object.keys(PERMISSIONS) as Permission[]).flatMap((permission) => TEAM_ROLES.map((role) => [permission, role] as [Permission, TeamRole]));

  it.each(cases)("%s as %s: runs the body exactly when the table allows it", async (permission, role) => {
    session.account = { ...ACCOUNT, role };
    const body = vi.fn(async () => actionOk("ran"));
    const result = await accountAction(permission, schema, body)({ name: "x", count: 1 });
    const allowed = (PERMISSIONS[permission] as readonly string[]).includes(role);
    if (allowed) {
      expect(result).toEqual({ ok: true, data: "ran" });
      expect(body).toHaveBeenCalledTimes(1);
    } else {
      expect(result).toEqual({ ok: false, code: "FORBIDDEN", message: expect.stringMatching(new RegExp(`^Your role \\(${role[0]!.toUpperCase()}${role.slice(1)}\\) cannot `)) });
      expect(body).not.toHaveBeenCalled();
    }
  });

  it("refuses before the input is read: a refused role learns nothing about it", async () => {
    session.account = { ...ACCOUNT, role: "viewer" };
    const { body } = spyAction();
    const action = accountAction("endpoints.manage", schema, body);
    for (const input of [{ name: "x", count: 1 }, { name: "", count: 0.5 }, undefined]) {
      expect(await action(input as never)).toEqual({ ok: false, code: "FORBIDDEN", message: "Your role (Viewer) cannot change endpoints." });
    }
    expect(body).not.toHaveBeenCalled();
  });

  it("memberActor names the user who acts, for the audit log", () => {
    expect(memberActor({ ...ACCOUNT, role: "member", userId: "user_9" })).toEqual({ type: "dashboard", userId: "user_9" });
  });
});

describe("keyAction (SPEC §11: canChangeKey)", () => {
  const keySchema = z.object({ keyId: z.string().min(1) });
  function spyKeyAction() {
    const body = vi.fn(async (account: MemberDto, input: { keyId: string }, key: { id: string; createdBy: string | null }) => actionOk({ input, key }));
    return { body, action: keyAction(keySchema, body) };
  }

  // role × whose key → allowed, or the refusal.
  const table: [TeamRole, string, string | null][] = [
    ["owner", "key_own", null],
    ["owner", "key_other", null],
    ["owner", "key_imported", null],
    ["admin", "key_own", null],
    ["admin", "key_other", null],
    ["admin", "key_imported", null],
    ["member", "key_own", null],
    ["member", "key_other", "Your role (Member) can only change keys you created."],
    ["member", "key_imported", "Your role (Member) can only change keys you created."],
    ["viewer", "key_own", "Your role (Viewer) cannot change keys."],
    ["viewer", "key_other", "Your role (Viewer) cannot change keys."],
    ["viewer", "key_imported", "Your role (Viewer) cannot change keys."],
  ];

  it.each(table)("%s on %s → %s", async (role, keyId, refusal) => {
    session.account = { ...ACCOUNT, role };
    const { body, action } = spyKeyAction();
    const result = await action({ keyId });
    if (refusal === null) {
      expect(result).toEqual({ ok: true, data: { input: { keyId }, key: { id: keyId, createdBy: keys.creators.get(keyId) } } });
      expect(body).toHaveBeenCalledTimes(1);
    } else {
      expect(result).toEqual({ ok: false, code: "FORBIDDEN", message: refusal });
      expect(body).not.toHaveBeenCalled();
    }
  });

  it.each<TeamRole>(["owner", "admin", "member"])("%s: a key outside the team (or none) is NOT_FOUND, looked up in the member's team only", async (role) => {
    session.account = { ...ACCOUNT, role };
    const { body, action } = spyKeyAction();
    expect(await action({ keyId: "key_elsewhere" })).toEqual({ ok: false, code: "NOT_FOUND", message: "API key not found." });
    expect(keys.lookups).toEqual([["acct_1", "key_elsewhere"]]);
    expect(body).not.toHaveBeenCalled();
  });

  it("a Viewer is refused before the input is read or any key looked up", async () => {
    session.account = { ...ACCOUNT, role: "viewer" };
    const { body, action } = spyKeyAction();
    for (const input of [{ keyId: "key_elsewhere" }, { keyId: "" }, undefined]) {
      expect(await action(input as never)).toEqual({ ok: false, code: "FORBIDDEN", message: "Your role (Viewer) cannot change keys." });
    }
    expect(keys.lookups).toEqual([]);
    expect(body).not.toHaveBeenCalled();
  });

  it("a malformed input is BAD_REQUEST before any key is looked up", async () => {
    const { body, action } = spyKeyAction();
    expect(await action({ keyId: "" })).toMatchObject({ ok: false, code: "BAD_REQUEST", fieldErrors: { keyId: expect.any(String) } });
    expect(keys.lookups).toEqual([]);
    expect(body).not.toHaveBeenCalled();
  });

  it("signed out is UNAUTHENTICATED, nothing looked up", async () => {
    session.account = null;
    const { body, action } = spyKeyAction();
    expect(await action({ keyId: "key_own" })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    expect(keys.lookups).toEqual([]);
    expect(body).not.toHaveBeenCalled();
  });
});
