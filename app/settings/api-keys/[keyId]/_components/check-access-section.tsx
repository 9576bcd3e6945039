"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field, SelectField } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { LEVEL_LABELS, REQUIRED_LEVELS, type RequiredLevel } from "@/lib/core/scopes/levels";
import type { AccessCheck } from "@/lib/server/check-access";
import { checkAccessAction } from "../actions";

type Endpoint = { id: string; name: string };

const initial = { resource: "graphql", access: "read" as RequiredLevel, ip: "" };

/**
 * `Check access` (SPEC §10): what a request with this key would get now, from the same decision
 * function as real requests, in a mode that records nothing.
 */
export function CheckAccessSection({ keyId, endpoints, className }: { keyId: string; endpoints: Endpoint[]; className?: string }) {
  const [form, setForm] = useState(initial);
  const [answer, setAnswer] = useState<AccessCheck | null>(null);
  const action = useActionCall();
  const errors = action.fieldErrors;
  // A changed question clears the old answer, so it is never read as this one's.
  const edit = (next: Partial<typeof initial>) => {
    setForm({ ...form, ...next });
    setAnswer(null);
    action.reset();
  };

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setAnswer(null);
    const result = await action.call(() => checkAccessAction({ keyId, ...form }));
    if (result) setAnswer(result.data);
  }

  return (
    <section aria-labelledby="check-access-heading" className={className}>
      <h2 id="check-access-heading" className="text-base font-semibold">
        Check access
      </h2>
      <p className="mt-1 text-xs text-zinc-500">
        What a request with this key would get now. Checking changes nothing: no last-used date, usage count or rate limit.
      </p>
      <form onSubmit={submit} noValidate className="mt-3 grid gap-3 sm:grid-cols-[minmax(0,1fr)_auto_minmax(0,1fr)_auto] sm:items-start">
        <SelectField id="check-resource" label="Resource" value={form.resource} error={errors?.resource} onChange={(event) => edit({ resource: event.target.value })}>
          <option value="graphql">GraphQL</option>
          {endpoints.length > 0 ? (
            <optgroup label="Endpoints">
              {endpoints.map((endpoint) => (
                <option key={endpoint.id} value={`endpoint:${endpoint.id}`}>
                  {endpoint.name}
                </option>
              ))}
            </optgroup>
          ) : null}
        </SelectField>
        <SelectField id="check-access" label="Access" value={form.access} error={errors?.access} onChange={(event) => edit({ access: event.target.value as RequiredLevel })}>
          {REQUIRED_LEVELS.map((level) => (
            <option key={level} value={level}>
              {LEVEL_LABELS[level]}
            </option>
          ))}
        </SelectField>
        <Field
          id="check-ip"
          label="IP address"
          placeholder="Optional, e.g. 203.0.113.7"
          autoComplete="off"
          spellCheck={false}
          value={form.ip}
          error={errors?.ip}
          onChange={(event) => edit({ ip: event.target.value })}
        />
        <Button type="submit" disabled={action.pending} className="sm:mt-6">
          {action.pending ? "Checking…" : "Check"}
        </Button>
      </form>
      <div role="status" className="mt-3 text-sm">
        {answer ? (
          answer.allowed ? (
            <p className="font-semibold text-emerald-700">Allowed</p>
          ) : (
            <>
              <p className="font-semibold text-red-700">Refused: {answer.code}</p>
              <p className="mt-0.5 break-words text-zinc-700">{answer.reason}</p>
            </>
          )
        ) : null}
      </div>
      {action.error && !errors?.ip && !errors?.resource && !errors?.access ? (
        <p role="alert" className="mt-2 text-sm text-red-600">
          {action.error}
        </p>
      ) : null}
    </section>
  );
}
