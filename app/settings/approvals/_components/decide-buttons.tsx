"use client";

import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/button";
import { useActionCall } from "@/components/use-action-call";
import { approveRequestAction, declineRequestAction } from "../actions";

/**
 * `Approve` and `Decline` for one pending request; `describedBy` names the row they act on (the key,
 * what was asked, by whom). `canApprove` is false on the decider's own request (the server refuses
 * it too): they may only withdraw it.
 */
export function DecideButtons({ requestId, describedBy, canApprove }: { requestId: string; describedBy: string; canApprove: boolean }) {
  const router = useRouter();
  const action = useActionCall();

  async function decide(run: typeof approveRequestAction) {
    if (await action.call(() => run({ requestId }))) router.refresh();
  }

  return (
    <div className="flex flex-col items-start gap-1 sm:items-end">
      <div className="flex gap-2">
        {canApprove ? (
          <Button onClick={() => decide(approveRequestAction)} disabled={action.pending} aria-describedby={describedBy}>
            Approve
          </Button>
        ) : (
          <span className="self-center text-xs text-zinc-500">Your own request: another owner or admin approves it.</span>
        )}
        <Button variant="secondary" onClick={() => decide(declineRequestAction)} disabled={action.pending} aria-describedby={describedBy}>
          Decline
        </Button>
      </div>
      {action.error ? (
        <p role="alert" className="text-sm text-red-600">
          {action.error}
        </p>
      ) : null}
    </div>
  );
}
