"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { FormFooter } from "@/components/ui/form-footer";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { useActionCall } from "@/components/use-action-call";
import { setApiKeyExpirationAction } from "../../actions";
import { ExpirationField, expirationInput, initialExpiration, type ExpirationDraft } from "../../_components/expiration-field";

/** `Change expiration`: the create form's choices, counted from now. */
export function ChangeExpirationDialog({ keyId, name, maxLifetimeDays = null }: { keyId: string; name: string; maxLifetimeDays?: number | null }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState<ExpirationDraft>(() => initialExpiration(maxLifetimeDays));
  const action = useActionCall();

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (await action.call(() => setApiKeyExpirationAction({ keyId, ...expirationInput(draft) }))) {
      setOpen(false);
      router.refresh();
    }
  }
  const shownInline = Boolean(action.fieldErrors?.expiration || action.fieldErrors?.expiresAt);

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) setDraft(initialExpiration(maxLifetimeDays));
        action.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">Change expiration</Button>
      </DialogTrigger>
      <DialogContent title={`Change expiration of ${name}`} description="Counted from now. From its expiry on, the key is refused.">
        <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
          <ExpirationField id="change" value={draft} onChange={setDraft} errors={action.fieldErrors} maxLifetimeDays={maxLifetimeDays} />
          <FormFooter error={shownInline ? undefined : action.error} onCancel={() => setOpen(false)} pending={action.pending} label="Save" pendingLabel="Saving…" />
        </form>
      </DialogContent>
    </Dialog>
  );
}
