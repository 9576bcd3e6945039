"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { FormFooter } from "@/components/ui/form-footer";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { createEmptyScopes, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { createApiKeyAction } from "../actions";
import { ExpirationField, expirationInput, initialExpiration, type ExpirationDraft } from "./expiration-field";
import { NewKeySecret } from "./new-key-secret";
import { ScopeGrid } from "./scope-grid";

type Endpoint = { id: string; name: string };

/** `maxLifetimeDays`: the team's `Maximum key lifetime` (SPEC §11), which the `Expiration` choices keep within. */
export function CreateKeyDialog({ endpoints, maxLifetimeDays = null }: { endpoints: Endpoint[]; maxLifetimeDays?: number | null }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<KeyScopes>(createEmptyScopes);
  const [expiration, setExpiration] = useState<ExpirationDraft>(() => initialExpiration(maxLifetimeDays));
  const action = useActionCall();
  // The plaintext lives only here, until the dialog closes.
  const [created, setCreated] = useState<{ plaintext: string; name: string; pendingApproval?: true } | null>(null);

  function reset() {
    setName("");
    setScopes(createEmptyScopes());
    setExpiration(initialExpiration(maxLifetimeDays));
    action.reset();
    setCreated(null);
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const result = await action.call(() => createApiKeyAction({ name, scopes, ...expirationInput(expiration) }));
    if (result) setCreated(result.data);
  }
  const fieldErrors = action.fieldErrors;
  // A refusal that belongs to a field is shown there, not twice.
  const shownInline = Boolean(fieldErrors?.name || fieldErrors?.expiration || fieldErrors?.expiresAt);

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) reset();
      }}
    >
      <DialogTrigger asChild>
        <Button>Create API key</Button>
      </DialogTrigger>
      {created ? (
        <DialogContent title="API key created" description="Copy this key now. For your security it is never shown again.">
          <NewKeySecret
            plaintext={created.plaintext}
            onDone={() => {
              setOpen(false);
              reset();
            }}
          >
            <p className="text-sm text-zinc-600">Store it in a secret manager. If it is lost, roll the key to get a new secret.</p>
            {created.pendingApproval ? (
              <p role="status" className="rounded-md bg-amber-50 p-3 text-sm text-amber-900">
                GraphQL Read / Write: waiting for approval. An owner or admin approves it at Approvals; until then the key has GraphQL None.
              </p>
            ) : null}
          </NewKeySecret>
        </DialogContent>
      ) : (
        <DialogContent title="Create API key" description="A new key can do nothing until you grant it access." wide>
          <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
            <Field
              id="new-key-name"
              label="Name"
              value={name}
              maxLength={200}
              onChange={(event) => setName(event.target.value)}
              error={fieldErrors?.name}
              autoComplete="off"
              placeholder="e.g. Production inference"
            />
            <ScopeGrid endpoints={endpoints} value={scopes} onChange={setScopes} />
            <ExpirationField id="new-key" value={expiration} onChange={setExpiration} errors={fieldErrors} maxLifetimeDays={maxLifetimeDays} />
            <FormFooter error={shownInline ? undefined : action.error} onCancel={() => setOpen(false)} pending={action.pending} label="Create" pendingLabel="Creating…" />
          </form>
        </DialogContent>
      )}
    </Dialog>
  );
}
