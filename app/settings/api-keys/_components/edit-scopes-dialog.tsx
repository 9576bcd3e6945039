"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { useActionCall } from "@/components/use-action-call";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import type { UsageTally } from "@/lib/core/usage/tally";
import { updateApiKeyScopesAction } from "../actions";
import { ScopeGrid } from "./scope-grid";
import { ScopeImpact } from "./scope-impact";

type Endpoint = { id: string; name: string };

export function EditScopesDialog({
  keyId,
  name,
  legacy,
  scopes,
  endpoints,
  tallies,
}: {
  keyId: string;
  name: string;
  legacy: boolean;
  scopes: KeyScopes;
  endpoints: Endpoint[];
  /** The key's usage over the last 7 days, for the impact preview (lib/core/usage/impact.ts). */
  tallies?: UsageTally[];
}) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(scopes);
  const action = useActionCall();

  async function save() {
    if (await action.call(() => updateApiKeyScopesAction({ keyId, scopes: draft }))) {
      setOpen(false);
      router.refresh();
    }
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        // Start from what is saved each time the dialog opens.
        if (next) setDraft(scopes);
        action.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">
          Edit scopes
        </Button>
      </DialogTrigger>
      <DialogContent
        title={`Scopes of ${name}`}
        description={
          legacy
            ? "Legacy keys keep the permission they were imported with; their scopes cannot be edited."
            : "Changes apply to the next request made with this key."
        }
        wide
      >
        <div className="flex flex-col gap-4">
          <ScopeGrid endpoints={endpoints} value={legacy ? scopes : draft} onChange={setDraft} readOnly={legacy} />
          {legacy || !tallies ? null : <ScopeImpact scopes={draft} current={scopes} endpoints={endpoints} tallies={tallies} />}
          {action.error ? (
            <p role="alert" className="text-sm text-red-600">
              {action.error}
            </p>
          ) : null}
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={() => setOpen(false)}>
              {legacy ? "Close" : "Cancel"}
            </Button>
            {legacy ? null : (
              <Button onClick={save} disabled={action.pending}>
                {action.pending ? "Saving…" : "Save scopes"}
              </Button>
            )}
          </div>
        </div>
      </DialogContent>
    </Dialog>
  );
}
