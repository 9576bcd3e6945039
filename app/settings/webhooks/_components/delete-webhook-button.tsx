"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { useActionCall } from "@/components/use-action-call";
import { deleteWebhookAction } from "../actions";

export function DeleteWebhookButton({ webhookId, url }: { webhookId: string; url: string }) {
  const [open, setOpen] = useState(false);
  const action = useActionCall();

  async function confirm() {
    if (await action.call(() => deleteWebhookAction({ webhookId }))) setOpen(false);
  }

  return (
    <>
      <Button variant="ghost" className="text-red-700" onClick={() => setOpen(true)} aria-label={`Delete webhook ${url}`}>
        Delete
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={(next) => {
          setOpen(next);
          action.reset();
        }}
        title="Delete this webhook?"
        description={
          <p className="break-all">
            <span className="font-mono">{url}</span> will receive no more events, and its undelivered events are dropped. This cannot be undone.
          </p>
        }
        confirmLabel="Delete webhook"
        onConfirm={confirm}
        pending={action.pending}
        error={action.error}
      />
    </>
  );
}
