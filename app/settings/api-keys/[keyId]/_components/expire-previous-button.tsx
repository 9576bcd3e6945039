"use client";

import { useRouter } from "next/navigation";
import { ConfirmedActionButton } from "@/components/confirmed-action-button";
import { expirePreviousKeyAction } from "../../actions";

export function ExpirePreviousButton({ keyId, hint }: { keyId: string; hint: string }) {
  const router = useRouter();
  return (
    <ConfirmedActionButton
      label="Expire previous key now"
      variant="secondary"
      title="Expire the previous key now?"
      description={<p>Requests made with the previous key ({hint}) will fail from now on. The current key keeps working.</p>}
      confirmLabel="Expire previous key"
      run={() => expirePreviousKeyAction({ keyId })}
      onDone={() => router.refresh()}
    />
  );
}
