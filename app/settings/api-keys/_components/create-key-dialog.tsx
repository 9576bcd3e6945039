"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { CopyButton } from "@/components/ui/copy-button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { createEmptyScopes, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { createApiKeyAction } from "../actions";
import { ScopeGrid } from "./scope-grid";

type Endpoint = { id: string; name: string };

export function CreateKeyDialog({ endpoints }: { endpoints: Endpoint[] }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<KeyScopes>(createEmptyScopes);
  const action = useActionCall();
  // The plaintext lives only here, until the dialog closes.
  const [created, setCreated] = useState<{ plaintext: string; name: string } | null>(null);

  function reset() {
    setName("");
    setScopes(createEmptyScopes());
    action.reset();
    setCreated(null);
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const result = await action.call(() => createApiKeyAction({ name, scopes }));
    if (result) setCreated(result.data);
  }
  const nameError = action.fieldErrors?.name;

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
          <div className="flex flex-col gap-3">
            <label htmlFor="new-api-key" className="text-sm font-medium">
              New API key
            </label>
            <div className="flex gap-2">
              <input
                id="new-api-key"
                readOnly
                value={created.plaintext}
                onFocus={(event) => event.currentTarget.select()}
                className="min-w-0 flex-1 rounded-md border border-zinc-300 bg-zinc-50 px-3 py-2 font-mono text-sm"
              />
              <CopyButton value={created.plaintext} label="Copy API key" />
            </div>
            <p className="text-sm text-zinc-600">
              Store it in a secret manager. If it is lost, create a new key and delete this one.
            </p>
            <div className="flex justify-end">
              <Button
                onClick={() => {
                  setOpen(false);
                  reset();
                }}
              >
                Done
              </Button>
            </div>
          </div>
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
              error={nameError}
              autoComplete="off"
              placeholder="e.g. Production inference"
            />
            <ScopeGrid endpoints={endpoints} value={scopes} onChange={setScopes} />
            {action.error && !nameError ? (
              <p role="alert" className="text-sm text-red-600">
                {action.error}
              </p>
            ) : null}
            <div className="flex justify-end gap-2">
              <Button variant="secondary" onClick={() => setOpen(false)}>
                Cancel
              </Button>
              <Button type="submit" disabled={action.pending}>
                {action.pending ? "Creating…" : "Create"}
              </Button>
            </div>
          </form>
        </DialogContent>
      )}
    </Dialog>
  );
}
