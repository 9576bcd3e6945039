"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { useActionCall } from "@/components/use-action-call";
import { expirePreviousKeyAction } from "../../actions";

export function ExpirePreviousButton({ keyId, hint }: { keyId: string; hint: string }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const action = useActionCall();

  async function confirm() {
    if (await action.call(() => expirePreviousKeyAction({ keyId }))) {
      setOpen(false);
      router.refresh();
    }
  }

  return (
    <>
      <Button variant="secondary" className="text-red-700" onClick={() => setOpen(true)}>
        Expire previous key now
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={(next) => {
          setOpen(next);
          action.reset();
        }}
        title="Expire the previous key now?"
        description={<p>Requests made with the previous key ({hint}) will fail from now on. The current key keeps working.</p>}
        confirmLabel="Expire previous key"
        onConfirm={confirm}
        pending={action.pending}
        error={action.error}
      />
    </>
  );
}
