"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { deleteEndpointAction, renameEndpointAction } from "../actions";

const OFFLINE = "Could not reach the server. Check your connection and try again.";

function RenameEndpointDialog({ endpointId, name }: { endpointId: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(name);
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      const result = await renameEndpointAction({ endpointId, name: draft });
      if (result.ok) setOpen(false);
      else setError(result.fieldErrors?.name ?? result.message);
    } catch {
      setError(OFFLINE);
    } finally {
      setPending(false);
    }
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) setDraft(name);
        setError(undefined);
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">Rename</Button>
      </DialogTrigger>
      <DialogContent title={`Rename ${name}`} description="The endpoint id stays the same, so API calls keep working.">
        <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
          <Field id={`rename-${endpointId}`} label="Name" value={draft} onChange={(event) => setDraft(event.target.value)} error={error} autoComplete="off" />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={pending}>
              {pending ? "Saving…" : "Save"}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function DeleteEndpointButton({ endpointId, name }: { endpointId: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();

  async function confirm() {
    setPending(true);
    setError(undefined);
    try {
      const result = await deleteEndpointAction({ endpointId });
      if (result.ok) setOpen(false);
      else setError(result.message);
    } catch {
      setError(OFFLINE);
    } finally {
      setPending(false);
    }
  }

  return (
    <>
      <Button variant="ghost" className="text-red-700" onClick={() => setOpen(true)}>
        Delete
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={(next) => {
          setOpen(next);
          setError(undefined);
        }}
        title={`Delete ${name}?`}
        description={<p>Calls to this endpoint will fail, and every key&apos;s setting for it is removed. This cannot be undone.</p>}
        confirmLabel="Delete endpoint"
        onConfirm={confirm}
        pending={pending}
        error={error}
      />
    </>
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
