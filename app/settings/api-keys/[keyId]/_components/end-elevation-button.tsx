"use client";

import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/button";
import { useActionCall } from "@/components/use-action-call";
import { endElevationAction } from "../../actions";

/**
 * Ends an elevation at once: it only takes access away, so it needs no confirmation.
 * `describedBy` is the id of the text that says which elevation it ends.
 */
export function EndElevationButton({ keyId, elevationId, describedBy }: { keyId: string; elevationId: string; describedBy: string }) {
  const router = useRouter();
  const action = useActionCall();
  return (
    <span className="inline-flex flex-wrap items-center gap-2">
      <Button
        variant="secondary"
        disabled={action.pending}
        aria-describedby={describedBy}
        onClick={async () => {
          if (await action.call(() => endElevationAction({ keyId, elevationId }))) router.refresh();
        }}
      >
        {action.pending ? "Ending…" : "End elevation"}
      </Button>
      {action.error ? (
        <span role="alert" className="text-sm text-red-600">
          {action.error}
        </span>
      ) : null}
    </span>
  );
}
