"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { deleteApiKeyAction } from "../actions";

export function DeleteKeyButton({ keyId, name }: { keyId: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();

  async function confirm() {
    setPending(true);
    setError(undefined);
    try {
      const result = await deleteApiKeyAction({ keyId });
      if (result.ok) setOpen(false);
      else setError(result.message);
    } catch {
      setError("Could not reach the server. Check your connection and try again.");
    } finally {
      setPending(false);
    }
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
          setError(undefined);
        }}
        title={`Delete ${name}?`}
        description={<p>Requests made with this key will fail from now on. This cannot be undone.</p>}
        confirmLabel="Delete key"
        onConfirm={confirm}
        pending={pending}
        error={error}
      />
    </>
  );
}
