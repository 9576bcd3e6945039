"use client";

import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/button";
import { useActionCall } from "@/components/use-action-call";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import type { SuggestionWindow } from "@/lib/core/usage/suggest";
import { setApiKeyEnabledAction } from "../../actions";
import { applyScopeSuggestionAction } from "../actions";

/**
 * `Apply suggestion`: sends the scopes it showed; the server applies them only if it still
 * suggests exactly these. When it does not, the page is refreshed to show what it suggests now,
 * and the refusal stays visible beside it.
 */
export function ApplySuggestionButton({ keyId, basedOn, after }: { keyId: string; basedOn: SuggestionWindow; after: KeyScopes }) {
  const router = useRouter();
  const action = useActionCall();
  return (
    <div className="flex flex-wrap items-center gap-2">
      <Button
        disabled={action.pending}
        onClick={async () => {
          await action.call(() => applyScopeSuggestionAction({ keyId, basedOn, after }));
          // Applied or refused, the page should show the key and its suggestion as they are now.
          router.refresh();
        }}
      >
        {action.pending ? "Applying…" : "Apply suggestion"}
      </Button>
      {action.error ? (
        <p role="alert" className="text-sm text-red-600">
          {action.error}
        </p>
      ) : null}
    </div>
  );
}

/** The suggestion `Disable`: the same change as the key's switch, audited the same way (switch it on again to undo). */
export function DisableSuggestionButton({ keyId }: { keyId: string }) {
  const router = useRouter();
  const action = useActionCall();
  return (
    <div className="flex flex-wrap items-center gap-2">
      <Button
        variant="secondary"
        disabled={action.pending}
        onClick={async () => {
          if (await action.call(() => setApiKeyEnabledAction({ keyId, enabled: false }))) router.refresh();
        }}
      >
        {action.pending ? "Disabling…" : "Disable"}
      </Button>
      {action.error ? (
        <p role="alert" className="text-sm text-red-600">
          {action.error}
        </p>
      ) : null}
    </div>
  );
}
