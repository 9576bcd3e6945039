"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { useActionCall } from "@/components/use-action-call";
import type { UserTeamDto } from "@/lib/dal/members";
import { switchTeamAction } from "../actions";

/**
 * `Team` (SPEC §11): a native select of the user's teams, shown when they are in more than one.
 * Choosing one opens the keys page of that team; the action set a cookie, which drops the client's
 * cached pages, so nothing of the previous team stays on screen.
 */
export function TeamSwitcher({ teams, currentTeamId }: { teams: UserTeamDto[]; currentTeamId: string }) {
  const [value, setValue] = useState(currentTeamId);
  const action = useActionCall();
  const router = useRouter();

  async function change(teamId: string) {
    setValue(teamId);
    if (await action.call(() => switchTeamAction({ teamId }))) {
      router.push("/settings/api-keys");
      // Already there: render it again for the new team.
      router.refresh();
    } else {
      setValue(currentTeamId);
    }
  }

  return (
    <div className="flex items-center gap-2">
      <label htmlFor="team-switcher" className="text-sm font-medium text-zinc-700">
        Team
      </label>
      <select
        id="team-switcher"
        value={value}
        disabled={action.pending}
        onChange={(event) => void change(event.target.value)}
        aria-describedby={action.error ? "team-switcher-error" : undefined}
        className="max-w-[14rem] truncate rounded-md border border-zinc-300 bg-white px-2 py-1 text-sm shadow-xs focus:border-indigo-500"
      >
        {teams.map((team) => (
          <option key={team.id} value={team.id}>
            {team.id === currentTeamId ? `${team.name} (current)` : team.name}
          </option>
        ))}
      </select>
      {action.error ? (
        <span id="team-switcher-error" role="alert" className="text-xs text-red-600">
          {action.error}
        </span>
      ) : null}
    </div>
  );
}
