"use client";

import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Switch } from "@/components/ui/switch";
import { setApiKeyEnabledAction } from "../actions";

/**
 * Shows the new state at once; if the server refuses, flips back and says why. The parent keys
 * this component on the server's state, so a refresh after success remounts it in sync.
 */
export function KeyEnabledSwitch({ keyId, name, enabled }: { keyId: string; name: string; enabled: boolean }) {
  const [checked, setChecked] = useState(enabled);
  const [error, setError] = useState<string | null>(null);
  const mutation = useMutation({
    mutationFn: async (next: boolean) => {
      const result = await setApiKeyEnabledAction({ keyId, enabled: next });
      if (!result.ok) throw new Error(result.message);
      return result.data;
    },
    onMutate: (next) => {
      setError(null);
      setChecked(next);
      return { previous: checked };
    },
    onError: (cause, _next, context) => {
      setChecked(context?.previous ?? enabled);
      setError(cause instanceof Error && cause.message ? cause.message : "Could not change this key. Try again.");
    },
  });
  return (
    <div className="flex items-center gap-2">
      <Switch
        checked={checked}
        onCheckedChange={(next) => mutation.mutate(next)}
        disabled={mutation.isPending}
        aria-label={`Enable ${name}`}
      />
      <span className="text-xs text-zinc-600" aria-hidden="true">
        {checked ? "On" : "Off"}
      </span>
      {error ? (
        <span role="alert" className="text-xs text-red-600">
          {error}
        </span>
      ) : null}
    </div>
  );
}
