"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { FormFooter } from "@/components/ui/form-footer";
import { ConfirmedActionButton } from "@/components/confirmed-action-button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { deleteEndpointAction, renameEndpointAction } from "../actions";

function RenameEndpointDialog({ endpointId, name }: { endpointId: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(name);
  const action = useActionCall();

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (await action.call(() => renameEndpointAction({ endpointId, name: draft }))) setOpen(false);
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) setDraft(name);
        action.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">Rename</Button>
      </DialogTrigger>
      <DialogContent title={`Rename ${name}`} description="The endpoint id stays the same, so API calls keep working.">
        <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
          <Field id={`rename-${endpointId}`} label="Name" value={draft} onChange={(event) => setDraft(event.target.value)} error={action.fieldErrors?.name ?? action.error} autoComplete="off" />
          <FormFooter onCancel={() => setOpen(false)} pending={action.pending} label="Save" pendingLabel="Saving…" />
        </form>
      </DialogContent>
    </Dialog>
  );
}

function DeleteEndpointButton({ endpointId, name }: { endpointId: string; name: string }) {
  return (
    <ConfirmedActionButton
      label="Delete"
      title={`Delete ${name}?`}
      description={<p>Calls to this endpoint will fail, and every key&apos;s setting for it is removed. This cannot be undone.</p>}
      confirmLabel="Delete endpoint"
      run={() => deleteEndpointAction({ endpointId })}
    />
  );
}

export function EndpointActions({ endpointId, name }: { endpointId: string; name: string }) {
  return (
    <div className="flex gap-1">
      <RenameEndpointDialog endpointId={endpointId} name={name} />
      <DeleteEndpointButton endpointId={endpointId} name={name} />
    </div>
  );
}
