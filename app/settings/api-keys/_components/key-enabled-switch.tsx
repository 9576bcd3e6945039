"use client";

import { useState } from "react";
import { Switch } from "@/components/ui/switch";
import { useActionCall } from "@/components/use-action-call";
import { setApiKeyEnabledAction } from "../actions";

/**
 * Shows the new state at once; if the server refuses, flips back and says why. The parent keys
 * this component on the server's state, so a refresh after success remounts it in sync.
 */
export function KeyEnabledSwitch({ keyId, name, enabled }: { keyId: string; name: string; enabled: boolean }) {
  const [checked, setChecked] = useState(enabled);
  const action = useActionCall();

  async function toggle(next: boolean) {
    const previous = checked;
    setChecked(next);
    // Refused or unreachable alike: back to what the server last confirmed.
    if (!(await action.call(() => setApiKeyEnabledAction({ keyId, enabled: next })))) setChecked(previous);
  }

  return (
    <div className="flex items-center gap-2">
      <Switch checked={checked} onCheckedChange={toggle} disabled={action.pending} aria-label={`Enable ${name}`} />
      <span className="text-xs text-zinc-600" aria-hidden="true">
        {checked ? "On" : "Off"}
      </span>
      {action.error ? (
        <span role="alert" className="text-xs text-red-600">
          {action.error}
        </span>
      ) : null}
    </div>
  );
}
