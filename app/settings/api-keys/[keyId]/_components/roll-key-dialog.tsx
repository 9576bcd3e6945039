"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { SelectField } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { GRACE_CHOICES, type GraceChoice } from "@/lib/core/lifecycle/choices";
import { rollApiKeyAction } from "../../actions";
import { NewKeySecret } from "../../_components/new-key-secret";

/**
 * `Roll key`: a new secret for the same key, shown once. The parent must not key this component
 * on anything a roll changes, or the secret would vanish with the re-render the roll causes.
 */
export function RollKeyDialog({ keyId, name, legacy, access }: { keyId: string; name: string; legacy: boolean; access: string }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [grace, setGrace] = useState<GraceChoice>("now");
  const action = useActionCall();
  // The plaintext lives only here, until the dialog closes.
  const [rolled, setRolled] = useState<string | null>(null);

  function close() {
    setOpen(false);
    setRolled(null);
    setGrace("now");
    action.reset();
    router.refresh();
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const result = await action.call(() => rollApiKeyAction({ keyId, grace }));
    if (result) setRolled(result.data.plaintext);
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        if (next) setOpen(true);
        else close();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">Roll key</Button>
      </DialogTrigger>
      {rolled ? (
        <DialogContent title="Key rolled" description="Copy the new key now. For your security it is never shown again.">
          <NewKeySecret plaintext={rolled} onDone={close}>
            <p className="text-sm text-zinc-600">
              {grace === "now"
                ? "The old key no longer works."
                : "The old key keeps working for the time you chose; the key's page says until when."}
            </p>
          </NewKeySecret>
        </DialogContent>
      ) : (
        <DialogContent title={`Roll ${name}`} description="The key gets a new secret. Its name, scopes, expiry and history stay.">
          <form onSubmit={submit} className="flex flex-col gap-4">
            {legacy ? (
              <p className="rounded-md bg-amber-50 p-3 text-sm text-amber-900">
                This is a legacy key. Rolling turns it into a scoped <code>rpa_</code> key with the same access ({access}), whose
                scopes you can then edit. The legacy secret stays valid for the time you choose below.
              </p>
            ) : null}
            <SelectField
              id="roll-grace"
              label="Old key stays valid for"
              value={grace}
              onChange={(event) => setGrace(event.target.value as GraceChoice)}
              error={action.fieldErrors?.grace}
            >
              {GRACE_CHOICES.map((choice) => (
                <option key={choice.id} value={choice.id}>
                  {choice.label}
                </option>
              ))}
            </SelectField>
            <p className="text-xs text-zinc-500">
              Give the services that use this key time to switch to the new one. &ldquo;Until the new key is first used&rdquo; ends after 7
              days at the latest.
            </p>
            {action.error && !action.fieldErrors?.grace ? (
              <p role="alert" className="text-sm text-red-600">
                {action.error}
              </p>
            ) : null}
            <div className="flex justify-end gap-2">
              <Button variant="secondary" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" variant="danger" disabled={action.pending}>
                {action.pending ? "Rolling…" : "Roll key"}
              </Button>
            </div>
          </form>
        </DialogContent>
      )}
    </Dialog>
  );
}
