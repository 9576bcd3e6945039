"use client";

import { useState, type ReactNode } from "react";
import type { ActionResult } from "@/lib/action-result";
import { Button, type ButtonVariant } from "./ui/button";
import { ConfirmDialog } from "./ui/confirm-dialog";
import { useActionCall } from "./use-action-call";

/**
 * A button that asks first, then runs one server action: the dialog stays open with the action's
 * refusal, and closes (then `onDone`) when it succeeds. Delete a key, an endpoint, a webhook;
 * expire a previous key.
 */
export function ConfirmedActionButton({
  label,
  variant = "ghost",
  ariaLabel,
  title,
  description,
  confirmLabel,
  run,
  onDone,
}: {
  label: string;
  variant?: ButtonVariant;
  ariaLabel?: string;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  run: () => Promise<ActionResult<unknown>>;
  onDone?: () => void;
}) {
  const [open, setOpen] = useState(false);
  const action = useActionCall();

  async function confirm() {
    if (await action.call(run)) {
      setOpen(false);
      onDone?.();
    }
  }

  return (
    <>
      <Button variant={variant} className="text-red-700" onClick={() => setOpen(true)} aria-label={ariaLabel}>
        {label}
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={(next) => {
          setOpen(next);
          action.reset();
        }}
        title={title}
        description={description}
        confirmLabel={confirmLabel}
        onConfirm={confirm}
        pending={action.pending}
        error={action.error}
      />
    </>
  );
}
