"use client";

import { useRouter } from "next/navigation";
import { ConfirmedActionButton } from "@/components/confirmed-action-button";
import { removeMemberAction } from "../actions";

/** `Remove`, confirmed: an owner removing themselves leaves the team, so the dashboard opens in their next one. */
export function RemoveMemberButton({ userId, email, self }: { userId: string; email: string; self: boolean }) {
  const router = useRouter();
  return (
    <ConfirmedActionButton
      label="Remove"
      ariaLabel={`Remove ${email}`}
      title={self ? "Leave this team?" : "Remove this member?"}
      description={
        <p className="break-all">
          <span className="font-medium text-zinc-900">{email}</span> loses access to this team, and every key they created in it is disabled. The
          audit log records why.
        </p>
      }
      confirmLabel={self ? "Leave team" : "Remove member"}
      run={() => removeMemberAction({ userId })}
      onDone={self ? () => router.push("/settings/api-keys") : undefined}
    />
  );
}
