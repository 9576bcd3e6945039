"use client";

import { Button } from "@/components/ui/button";
import { useActionCall } from "@/components/use-action-call";
import { dismissLeakBannerAction } from "../actions";

/** `Dismiss` on a leak banner; the action revalidates the page, which then leaves the banner out. */
export function DismissLeakButton({ keyId }: { keyId: string }) {
  const action = useActionCall();
  return (
    <div className="flex shrink-0 items-center gap-2">
      {action.error ? (
        <span role="alert" className="text-xs text-red-700">
          {action.error}
        </span>
      ) : null}
      <Button
        variant="secondary"
        disabled={action.pending}
        onClick={() => void action.call(() => dismissLeakBannerAction({ keyId }))}
      >
        Dismiss
      </Button>
    </div>
  );
}
