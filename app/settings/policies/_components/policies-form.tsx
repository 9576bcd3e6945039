"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { SelectField } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { KEY_LIFETIME_CHOICES, lifetimeChoiceFor, type KeyLifetimeChoice, type TeamPolicies } from "@/lib/core/teams/policies";
import { savePoliciesAction } from "../actions";

/**
 * `Maximum key lifetime` and `GraphQL Read / Write needs approval`, saved together with `Save
 * policies`. `readOnly` (everyone but owners) shows the policies in force with the controls off.
 */
export function PoliciesForm({ policies, readOnly }: { policies: TeamPolicies; readOnly: boolean }) {
  const router = useRouter();
  const [lifetime, setLifetime] = useState<KeyLifetimeChoice>(lifetimeChoiceFor(policies.maxKeyLifetimeDays) ?? "none");
  const [approval, setApproval] = useState(policies.graphqlWriteNeedsApproval);
  const [saved, setSaved] = useState(false);
  const action = useActionCall();

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setSaved(false);
    if (await action.call(() => savePoliciesAction({ maxKeyLifetime: lifetime, graphqlWriteNeedsApproval: approval }))) {
      setSaved(true);
      router.refresh();
    }
  }

  return (
    <form onSubmit={submit} className="flex max-w-2xl flex-col gap-5 rounded-lg border border-zinc-200 bg-white p-4 sm:p-5" noValidate>
      <div className="flex flex-col gap-1">
        <SelectField
          id="policy-max-lifetime"
          label="Maximum key lifetime"
          value={lifetime}
          disabled={readOnly}
          error={action.fieldErrors?.maxKeyLifetime}
          aria-describedby="policy-max-lifetime-hint"
          onChange={(event) => {
            setLifetime(event.target.value as KeyLifetimeChoice);
            setSaved(false);
          }}
        >
          {KEY_LIFETIME_CHOICES.map((choice) => (
            <option key={choice.id} value={choice.id}>
              {choice.label}
            </option>
          ))}
        </SelectField>
        <p id="policy-max-lifetime-hint" className="text-xs text-zinc-500">
          Every new key and every expiration change must expire within this time; &ldquo;No expiration&rdquo; is no longer offered. Keys that exist
          keep their expiry until it is changed.
        </p>
      </div>
      <div className="flex items-start gap-3">
        <input
          id="policy-graphql-approval"
          type="checkbox"
          checked={approval}
          disabled={readOnly}
          aria-describedby="policy-graphql-approval-hint"
          onChange={(event) => {
            setApproval(event.target.checked);
            setSaved(false);
          }}
          className="mt-0.5 size-4 rounded border-zinc-300"
        />
        <div className="flex flex-col gap-1">
          <label htmlFor="policy-graphql-approval" className="text-sm font-medium text-zinc-800">
            GraphQL Read / Write needs approval
          </label>
          <p id="policy-graphql-approval-hint" className="text-xs text-zinc-500">
            When a Member creates a key, changes its scopes or elevates it asking for GraphQL Read / Write, the rest takes effect at once
            and GraphQL Read / Write waits until an owner or admin approves it at Approvals. Owners and admins are not asked.
          </p>
        </div>
      </div>
      {readOnly ? null : (
        <div className="flex flex-wrap items-center justify-end gap-3">
          {action.error ? (
            <p role="alert" className="mr-auto text-sm text-red-600">
              {action.error}
            </p>
          ) : saved ? (
            <p role="status" className="mr-auto text-sm text-emerald-700">
              Policies saved.
            </p>
          ) : null}
          <Button type="submit" disabled={action.pending}>
            {action.pending ? "Saving…" : "Save policies"}
          </Button>
        </div>
      )}
    </form>
  );
}
