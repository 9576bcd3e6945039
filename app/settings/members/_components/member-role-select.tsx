"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { useActionCall } from "@/components/use-action-call";
import { ROLE_LABELS, TEAM_ROLES, type TeamRole } from "@/lib/core/teams/roles";
import { changeMemberRoleAction } from "../actions";

/** An owner's native select for one member's role: saved on change; a refusal puts the old role back and says why. */
export function MemberRoleSelect({ userId, email, role }: { userId: string; email: string; role: TeamRole }) {
  const [value, setValue] = useState(role);
  const action = useActionCall();
  const router = useRouter();
  const errorId = `role-error-${userId}`;

  async function change(next: TeamRole) {
    setValue(next);
    if (await action.call(() => changeMemberRoleAction({ userId, role: next }))) router.refresh();
    else setValue(role);
  }

  return (
    <div className="flex flex-col gap-1">
      <select
        aria-label={`Role of ${email}`}
        value={value}
        disabled={action.pending}
        onChange={(event) => void change(event.target.value as TeamRole)}
        aria-invalid={action.error ? true : undefined}
        aria-describedby={action.error ? errorId : undefined}
        className="w-fit rounded-md border border-zinc-300 bg-white px-2 py-1 text-sm shadow-xs focus:border-indigo-500"
      >
        {TEAM_ROLES.map((option) => (
          <option key={option} value={option}>
            {ROLE_LABELS[option]}
          </option>
        ))}
      </select>
      {action.error ? (
        <p id={errorId} role="alert" className="text-xs text-red-600">
          {action.error}
        </p>
      ) : null}
    </div>
  );
}
