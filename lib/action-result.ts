import "server-only";
import { unstable_rethrow } from "next/navigation";
import type { z } from "zod";
import { getCurrentAccount } from "@/lib/auth/session";
import type { AccountDto } from "@/lib/dal/accounts";
import type { DalErrorCode } from "@/lib/dal/result";

export type ActionErrorCode = DalErrorCode | "UNAUTHENTICATED" | "UNAVAILABLE";

/** What a dashboard server action answers: data or an error meant for the form, never a stack. */
export type ActionResult<T = undefined> =
  | { ok: true; data: T }
  | { ok: false; code: ActionErrorCode; message: string; fieldErrors?: Record<string, string> };

export const actionOk = <T>(data: T): ActionResult<T> => ({ ok: true, data });

/**
 * Runs an action body for the signed-in account. Every server action is a public POST endpoint,
 * so each one goes through here: the session and the account row are re-checked on every call,
 * and an unexpected failure becomes a "try again" message rather than a 500.
 */
async function forSignedInAccount<T>(body: (account: AccountDto) => Promise<ActionResult<T>>): Promise<ActionResult<T>> {
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
 * The one way to write a dashboard server action: `schema → (account, input) → result`. The
 * session is checked first (a signed-out caller learns nothing about its input), then the input is
 * parsed once, and `body` runs only with both. `export const xAction = accountAction(schema, …)`.
 */
export function accountAction<Schema extends z.ZodType, T>(
  schema: Schema,
  body: (account: AccountDto, input: z.output<Schema>) => Promise<ActionResult<T>>,
): (input: z.input<Schema>) => Promise<ActionResult<T>> {
  return async (input) =>
    forSignedInAccount(async (account) => {
      const parsed = schema.safeParse(input);
      if (!parsed.success) return invalidInput(parsed.error);
      return body(account, parsed.data);
    });
}
