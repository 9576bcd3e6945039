"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field, SelectField } from "@/components/ui/field";
import { FormFooter } from "@/components/ui/form-footer";
import { useActionCall } from "@/components/use-action-call";
import { ROLE_LABELS, TEAM_ROLES, type TeamRole } from "@/lib/core/teams/roles";
import { NewKeySecret } from "../../api-keys/_components/new-key-secret";
import { inviteMemberAction } from "../actions";

type Invited = { link: string; email: string; replaced: boolean };

/** `Invite member`: `Email` and `Role`, confirmed with `Invite`; then the link, once. No mail is sent. */
export function InviteMemberDialog() {
  const [open, setOpen] = useState(false);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<TeamRole>("member");
  const action = useActionCall();
  // The link lives only here, until the dialog closes.
  const [invited, setInvited] = useState<Invited | null>(null);

  function reset() {
    setEmail("");
    setRole("member");
    setInvited(null);
    action.reset();
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const result = await action.call(() => inviteMemberAction({ email, role }));
    if (result) setInvited({ link: `${window.location.origin}${result.data.path}`, email: result.data.email, replaced: result.data.replaced });
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
        <Button>Invite member</Button>
      </DialogTrigger>
      {invited ? (
        <DialogContent title="Invitation created" description="Copy the link now and send it yourself: no email is sent, and it is never shown again.">
          <NewKeySecret
            plaintext={invited.link}
            label="Invitation link"
            id="invitation-link"
            copyLabel="Copy invitation link"
            onDone={() => {
              setOpen(false);
              reset();
            }}
          >
            <p className="text-sm text-zinc-600">
              It works once, for 7 days, for whoever signs in or signs up as <span className="font-medium text-zinc-900">{invited.email}</span>.
              {invited.replaced ? " The earlier link for this email no longer works." : ""}
            </p>
          </NewKeySecret>
        </DialogContent>
      ) : (
        <DialogContent title="Invite member" description="They join with the role you choose here. Owners can change it later.">
          <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
            <Field
              id="invite-email"
              label="Email"
              type="email"
              value={email}
              maxLength={320}
              onChange={(event) => setEmail(event.target.value)}
              error={action.fieldErrors?.email}
              autoComplete="off"
              spellCheck={false}
            />
            <SelectField id="invite-role" label="Role" value={role} onChange={(event) => setRole(event.target.value as TeamRole)} error={action.fieldErrors?.role}>
              {TEAM_ROLES.map((value) => (
                <option key={value} value={value}>
                  {ROLE_LABELS[value]}
                </option>
              ))}
            </SelectField>
            <FormFooter
              error={action.fieldErrors?.email || action.fieldErrors?.role ? undefined : action.error}
              onCancel={() => setOpen(false)}
              pending={action.pending}
              label="Invite"
              pendingLabel="Inviting…"
            />
          </form>
        </DialogContent>
      )}
    </Dialog>
  );
}
