"use client";

import { ConfirmedActionButton } from "@/components/confirmed-action-button";
import { deleteApiKeyAction } from "../actions";

export function DeleteKeyButton({ keyId, name }: { keyId: string; name: string }) {
  return (
    <ConfirmedActionButton
      label="Delete"
      title={`Delete ${name}?`}
      description={<p>Requests made with this key will fail from now on. This cannot be undone.</p>}
      confirmLabel="Delete key"
      run={() => deleteApiKeyAction({ keyId })}
    />
  );
}
