"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { FormFooter } from "@/components/ui/form-footer";
import { useActionCall } from "@/components/use-action-call";
import { NewKeySecret } from "../../api-keys/_components/new-key-secret";
import { addWebhookAction } from "../actions";

/** `Add webhook`: a `URL`, confirmed with `Add`; then the signing secret, once. */
export function AddWebhookDialog() {
  const [open, setOpen] = useState(false);
  const [url, setUrl] = useState("");
  const action = useActionCall();
  // The secret lives only here, until the dialog closes.
  const [secret, setSecret] = useState<string | null>(null);

  function reset() {
    setUrl("");
    setSecret(null);
    action.reset();
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const result = await action.call(() => addWebhookAction({ url }));
    if (result) setSecret(result.data.secret);
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) reset();
      }}
    >
      <DialogTrigger asChild>
        <Button>Add webhook</Button>
      </DialogTrigger>
      {secret ? (
        <DialogContent title="Webhook added" description="Copy the signing secret now. For your security it is never shown again.">
          <NewKeySecret
            plaintext={secret}
            label="Signing secret"
            id="webhook-signing-secret"
            copyLabel="Copy webhook secret"
            onDone={() => {
              setOpen(false);
              reset();
            }}
          >
            <p className="text-sm text-zinc-600">
              Every delivery carries <code className="font-mono">Keyscope-Signature: sha256=…</code>, the HMAC-SHA256 of its body under this secret.
              Check it before trusting a delivery.
            </p>
          </NewKeySecret>
        </DialogContent>
      ) : (
        <DialogContent title="Add webhook" description="Keyscope will POST a signed JSON event to this URL whenever a key is created, enabled, disabled, deleted, rolled, elevated, leaked, or is about to expire.">
          <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
            <Field
              id="webhook-url"
              label="URL"
              type="url"
              inputMode="url"
              value={url}
              maxLength={2048}
              onChange={(event) => setUrl(event.target.value)}
              error={action.fieldErrors?.url}
              autoComplete="off"
              spellCheck={false}
              placeholder="https://hooks.example.com/keyscope"
            />
            <FormFooter error={action.fieldErrors?.url ? undefined : action.error} onCancel={() => setOpen(false)} pending={action.pending} label="Add" pendingLabel="Adding…" />
          </form>
        </DialogContent>
      )}
    </Dialog>
  );
}
