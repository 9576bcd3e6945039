import { redirect } from "next/navigation";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { AccountDto } from "@/lib/dal/accounts";
import { accountAction, actionOk } from "./action-result";

// The one wrapper every dashboard action goes through: session first, then the input, once.
const session = vi.hoisted(() => ({ account: null as AccountDto | null, checks: 0, fail: false }));
vi.mock("@/lib/auth/session", () => ({
  getCurrentAccount: async () => {
    session.checks += 1;
    if (session.fail) throw new Error("session store down");
    return session.account;
  },
}));

const ACCOUNT: AccountDto = { id: "acct_1", email: "a@example.test", createdAt: new Date(0) };
const schema = z.object({ name: z.string().trim().min(1, "Name is required."), count: z.number().int("Count must be whole.") });

let logged: string[] = [];
beforeEach(() => {
  session.account = ACCOUNT;
  session.checks = 0;
  session.fail = false;
  logged = [];
  vi.spyOn(console, "error").mockImplementation((line: unknown) => void logged.push(String(line)));
});
afterEach(() => vi.restoreAllMocks());

function spyAction() {
  const body = vi.fn(async (account: AccountDto, input: z.output<typeof schema>) => actionOk({ account: account.id, input }));
  return { body, action: accountAction(schema, body) };
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
    const action = accountAction(schema, async () => refusal);
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
    const action = accountAction(schema, async () => {
      throw new TypeError("SELECT * FROM api_keys WHERE key_hash = 'secret'");
    });
    expect(await action({ name: "x", count: 1 })).toEqual({ ok: false, code: "UNAVAILABLE", message: "Something went wrong on our side. Try again in a moment." });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^server action failed: (TypeError|Error)$/);
  });

  it("lets Next.js control flow (a redirect) through instead of turning it into an error", async () => {
    const action = accountAction(schema, async () => redirect("/signin"));
    await expect(action({ name: "x", count: 1 })).rejects.toMatchObject({ digest: expect.stringMatching(/^NEXT_REDIRECT/) });
    expect(logged).toEqual([]);
  });
});
