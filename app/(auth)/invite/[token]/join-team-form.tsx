"use client";

import { useActionState } from "react";
import { Button } from "@/components/ui/button";
import { joinTeamAction } from "../actions";

/** `Join team`: a form, so it works before the page's script has loaded too. */
export function JoinTeamForm({ token }: { token: string }) {
  const [state, formAction, pending] = useActionState(joinTeamAction, {});
  return (
    <form action={formAction} className="flex flex-col gap-3">
      <input type="hidden" name="token" value={token} />
      {state.error ? (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700">
          {state.error}
        </p>
      ) : null}
      <Button type="submit" disabled={pending}>
        {pending ? "Joining…" : "Join team"}
      </Button>
    </form>
  );
}
