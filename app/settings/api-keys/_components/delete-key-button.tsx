"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { useActionCall } from "@/components/use-action-call";
import { deleteApiKeyAction } from "../actions";

export function DeleteKeyButton({ keyId, name }: { keyId: string; name: string }) {
  const [open, setOpen] = useState(false);
  const action = useActionCall();

  async function confirm() {
    if (await action.call(() => deleteApiKeyAction({ keyId }))) setOpen(false);
  }

  return (
    <>
      <Button variant="ghost" className="text-red-700" onClick={() => setOpen(true)}>
        Delete
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={(next) => {
          setOpen(next);
          action.reset();
        }}
        title={`Delete ${name}?`}
        description={<p>Requests made with this key will fail from now on. This cannot be undone.</p>}
        confirmLabel="Delete key"
        onConfirm={confirm}
        pending={action.pending}
        error={action.error}
      />
    </>
  );
}
