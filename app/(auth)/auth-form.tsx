"use client";

import Link from "next/link";
import { useActionState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import type { AuthFormState } from "./actions";

type Mode = "signin" | "signup";

const copy = {
  signin: { title: "Sign in", submit: "Sign in", pending: "Signing in…", other: "No account yet?", otherLink: "Create account", otherHref: "/signup" },
  signup: { title: "Create account", submit: "Create account", pending: "Creating account…", other: "Already have an account?", otherLink: "Sign in", otherHref: "/signin" },
} as const;

/** An invitation being accepted (SPEC §11): its token rides along, and its email is filled in. */
export type FormInvitation = { token: string; email: string };

export function AuthForm({
  mode,
  action,
  invite,
}: {
  mode: Mode;
  action: (state: AuthFormState, formData: FormData) => Promise<AuthFormState>;
  invite?: FormInvitation;
}) {
  const [state, formAction, pending] = useActionState(action, { email: invite?.email ?? "" });
  const text = copy[mode];
  const otherHref = invite ? `${text.otherHref}?invite=${encodeURIComponent(invite.token)}` : text.otherHref;
  return (
    <form action={formAction} className="flex flex-col gap-4" noValidate>
      <h1 className="text-lg font-semibold">{text.title}</h1>
      {invite ? (
        <>
          <input type="hidden" name="invite" value={invite.token} />
          <p className="-mt-2 text-sm text-zinc-600">Then you join the team you were invited to.</p>
        </>
      ) : null}
      {state.error ? (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700">
          {state.error}
        </p>
      ) : null}
      <Field id="email" name="email" label="Email" type="email" autoComplete="email" required defaultValue={state.email} error={state.fieldErrors?.email} />
      <Field
        id="password"
        name="password"
        label="Password"
        type="password"
        autoComplete={mode === "signup" ? "new-password" : "current-password"}
        required
        minLength={mode === "signup" ? 8 : undefined}
        error={state.fieldErrors?.password}
      />
      {mode === "signup" ? <p className="-mt-2 text-xs text-zinc-500">At least 8 characters.</p> : null}
      <Button type="submit" disabled={pending}>
        {pending ? text.pending : text.submit}
      </Button>
      <p className="text-center text-sm text-zinc-600">
        {text.other}{" "}
        <Link href={otherHref} className="font-medium text-indigo-700 underline-offset-2 hover:underline">
          {text.otherLink}
        </Link>
      </p>
    </form>
  );
}
