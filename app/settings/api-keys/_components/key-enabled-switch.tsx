"use client";

import { useState } from "react";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Switch } from "@/components/ui/switch";
import { useActionCall } from "@/components/use-action-call";
import { setApiKeyEnabledAction } from "../actions";

/**
 * Shows the new state at once; if the server refuses, flips back and says why. The parent keys
 * this component on the server's state, so a refresh after success remounts it in sync. A key
 * reported leaked (SPEC §9) is switched back on only after a confirmation that recommends rolling it.
 * `readOnly` (SPEC §11: why this member may not change the key) shows the state, switched off.
 */
export function KeyEnabledSwitch({
  keyId,
  name,
  enabled,
  leaked = false,
  readOnly = null,
}: {
  keyId: string;
  name: string;
  enabled: boolean;
  leaked?: boolean;
  readOnly?: string | null;
}) {
  const [checked, setChecked] = useState(enabled);
  const [confirming, setConfirming] = useState(false);
  const action = useActionCall();

  async function change(next: boolean) {
    const previous = checked;
    setChecked(next);
    // Refused or unreachable alike: back to what the server last confirmed.
    if (!(await action.call(() => setApiKeyEnabledAction({ keyId, enabled: next })))) setChecked(previous);
  }

  function toggle(next: boolean) {
    if (next && leaked) setConfirming(true);
    else void change(next);
  }

  return (
    <div className="flex items-center gap-2">
      <Switch
        checked={checked}
        onCheckedChange={toggle}
        disabled={action.pending || readOnly !== null}
        aria-label={`Enable ${name}`}
        title={readOnly ?? undefined}
      />
      <span className="text-xs text-zinc-600" aria-hidden="true">
        {checked ? "On" : "Off"}
      </span>
      {action.error ? (
        <span role="alert" className="text-xs text-red-600">
          {action.error}
        </span>
      ) : null}
      {leaked ? (
        <ConfirmDialog
          open={confirming}
          onOpenChange={setConfirming}
          title={`Enable ${name} anyway?`}
          description={
            <>
              <p>This key was reported leaked: whoever found it can use it again as soon as it is on.</p>
              <p className="mt-2">
                Roll it instead: <strong>Roll key</strong> on its page with <strong>Expire now</strong> gives it a new secret, keeping its
                scopes and settings, and the leaked one stops working.
              </p>
            </>
          }
          confirmLabel="Enable anyway"
          onConfirm={() => {
            setConfirming(false);
            void change(true);
          }}
        />
      ) : null}
    </div>
  );
}
