import "server-only";
import { unstable_rethrow } from "next/navigation";
import type { z } from "zod";
import { getCurrentAccount } from "@/lib/auth/session";
import type { MemberDto } from "@/lib/dal/accounts";
import { findKeyCreator } from "@/lib/dal/api-keys";
import type { AuditActor } from "@/lib/dal/audit-log";
import type { DalErrorCode } from "@/lib/dal/result";
import type { Permission } from "@/lib/core/teams/roles";
import { keyChangeRefusal, permissionRefusal } from "@/lib/core/teams/refusals";

export type ActionErrorCode = DalErrorCode | "UNAUTHENTICATED" | "UNAVAILABLE" | "FORBIDDEN";

/** What a dashboard server action answers: data or an error meant for the form, never a stack. */
export type ActionResult<T = undefined> =
  | { ok: true; data: T }
  | { ok: false; code: ActionErrorCode; message: string; fieldErrors?: Record<string, string> };

export const actionOk = <T>(data: T): ActionResult<T> => ({ ok: true, data });

const forbidden = (message: string): ActionResult<never> => ({ ok: false, code: "FORBIDDEN", message });

/** The signed-in member as the audit log records them (SPEC §11: entries name the user). */
export function memberActor(member: MemberDto): AuditActor {
  return { type: "dashboard", userId: member.userId };
}

/**
 * Runs an action body for the signed-in member. Every server action is a public POST endpoint,
 * so each one goes through here: the session and the membership are re-checked on every call,
 * and an unexpected failure becomes a "try again" message rather than a 500.
 */
async function forSignedInAccount<T>(body: (account: MemberDto) => Promise<ActionResult<T>>): Promise<ActionResult<T>> {
  try {
    const account = await getCurrentAccount();
    if (!account) return { ok: false, code: "UNAUTHENTICATED", message: "Your session has ended. Sign in again." };
    return await body(account);
  } catch (error) {
    unstable_rethrow(error);
    // The error's class only: messages can carry SQL parameters.
    console.error(`server action failed: ${error instanceof Error ? error.name : typeof error}`);
    return { ok: false, code: "UNAVAILABLE", message: "Something went wrong on our side. Try again in a moment." };
  }
}

/** A zod failure as a form answer: the first message, and one message per field. */
function invalidInput(error: z.ZodError): ActionResult<never> {
  const fieldErrors = Object.fromEntries(error.issues.map((issue) => [issue.path.join("."), issue.message]));
  return { ok: false, code: "BAD_REQUEST", message: error.issues[0]?.message ?? "Invalid input.", fieldErrors };
}

/**
 * The one way to write a dashboard server action: `permission, schema → (member, input) → result`.
 * The session is checked first (a signed-out caller learns nothing about its input), then the
 * member's role against `permission` (lib/core/teams/roles.ts; a refusal is `FORBIDDEN` and runs
 * nothing), then the input is parsed once, and `body` runs only with all three.
 * `export const xAction = accountAction("endpoints.manage", schema, …)`.
 */
export function accountAction<Schema extends z.ZodType, T>(
  permission: Permission,
  schema: Schema,
  body: (account: MemberDto, input: z.output<Schema>) => Promise<ActionResult<T>>,
): (input: z.input<Schema>) => Promise<ActionResult<T>> {
  return async (input) =>
    forSignedInAccount(async (account) => {
      const refused = permissionRefusal(account.role, permission);
      if (refused) return forbidden(refused);
      const parsed = schema.safeParse(input);
      if (!parsed.success) return invalidInput(parsed.error);
      return body(account, parsed.data);
    });
}

/** The key a keyAction changes, as the team has it. */
export type ActionKey = { id: string; createdBy: string | null };

const KEY_NOT_FOUND = "API key not found.";

/**
 * A change to one key of the team (`input.keyId`): as accountAction, and then the key is looked
 * up in the member's team — another team's key, or none, is `NOT_FOUND` as before — and the
 * member must be allowed to change it (canChangeKey: any key for Owner and Admin, the keys they
 * created for a Member, none for a Viewer), else `FORBIDDEN` and nothing runs. A Viewer is refused
 * before the input is read.
 */
export function keyAction<Schema extends z.ZodType<{ keyId: string }>, T>(
  schema: Schema,
  body: (account: MemberDto, input: z.output<Schema>, key: ActionKey) => Promise<ActionResult<T>>,
): (input: z.input<Schema>) => Promise<ActionResult<T>> {
  return accountAction("keys.manageOwn", schema, async (account, input) => {
    const found = await findKeyCreator(account.id, input.keyId);
    if (!found) return { ok: false, code: "NOT_FOUND", message: KEY_NOT_FOUND };
    const refused = keyChangeRefusal(account, found.createdBy);
    if (refused) return forbidden(refused);
    return body(account, input, { id: input.keyId, createdBy: found.createdBy });
  });
}
