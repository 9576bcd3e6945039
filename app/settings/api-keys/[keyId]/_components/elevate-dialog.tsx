"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { FormFooter } from "@/components/ui/form-footer";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { SelectField } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { ELEVATION_DURATIONS, type ElevationDuration } from "@/lib/core/lifecycle/choices";
import { LEVEL_LABELS, REQUIRED_LEVELS, type RequiredLevel } from "@/lib/core/scopes/levels";
import { elevateApiKeyAction } from "../../actions";

type Endpoint = { id: string; name: string };

const initial = { target: "graphql", level: "read" as RequiredLevel, duration: "15m" as ElevationDuration, reason: "", password: "" };

/** `Elevate access`: a higher level on one resource for a while, with a reason and the user's password. */
export function ElevateDialog({ keyId, name, endpoints }: { keyId: string; name: string; endpoints: Endpoint[] }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState(initial);
  const action = useActionCall();
  const errors = action.fieldErrors;

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (await action.call(() => elevateApiKeyAction({ keyId, ...form }))) {
      setOpen(false);
      router.refresh();
    }
  }
  const shownInline = Boolean(errors?.target || errors?.level || errors?.duration || errors?.reason || errors?.password);

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        // The password is never kept between openings.
        setForm(initial);
        action.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">Elevate access</Button>
      </DialogTrigger>
      <DialogContent
        title={`Elevate ${name}`}
        description="Until it ends, requests with this key get the higher of its own level and this one on the resource chosen. Nothing else changes: its scopes stay as they are, and it ends on its own."
      >
        <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
          <SelectField id="elevate-target" label="Resource" value={form.target} error={errors?.target} onChange={(event) => setForm({ ...form, target: event.target.value })}>
            <option value="graphql">GraphQL</option>
            <option value="endpoints">All endpoints</option>
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
          <div className="grid gap-4 sm:grid-cols-2">
            <SelectField
              id="elevate-level"
              label="Level"
              value={form.level}
              error={errors?.level}
              onChange={(event) => setForm({ ...form, level: event.target.value as RequiredLevel })}
            >
              {REQUIRED_LEVELS.map((level) => (
                <option key={level} value={level}>
                  {LEVEL_LABELS[level]}
                </option>
              ))}
            </SelectField>
            <SelectField
              id="elevate-duration"
              label="Duration"
              value={form.duration}
              error={errors?.duration}
              onChange={(event) => setForm({ ...form, duration: event.target.value as ElevationDuration })}
            >
              {ELEVATION_DURATIONS.map((duration) => (
                <option key={duration.id} value={duration.id}>
                  {duration.label}
                </option>
              ))}
            </SelectField>
          </div>
          {form.target === "graphql" && form.level === "read_write" ? (
            <p className="rounded-md bg-amber-50 p-3 text-sm text-amber-900">
              GraphQL Read / Write can create and delete endpoints and terminate GPU pods.
            </p>
          ) : null}
          <div className="flex flex-col gap-1">
            <label htmlFor="elevate-reason" className="text-sm font-medium text-zinc-800">
              Reason
            </label>
            <textarea
              id="elevate-reason"
              required
              rows={2}
              value={form.reason}
              onChange={(event) => setForm({ ...form, reason: event.target.value })}
              aria-invalid={errors?.reason ? true : undefined}
              aria-describedby={errors?.reason ? "elevate-reason-error" : "elevate-reason-hint"}
              className="rounded-md border border-zinc-300 bg-white px-3 py-2 text-sm shadow-xs focus:border-indigo-500 aria-invalid:border-red-500"
            />
            {errors?.reason ? (
              <p id="elevate-reason-error" role="alert" className="text-sm text-red-600">
                {errors.reason}
              </p>
            ) : (
              <p id="elevate-reason-hint" className="text-xs text-zinc-500">
                Up to 200 characters; it goes into the audit log.
              </p>
            )}
          </div>
          <Field
            id="elevate-password"
            label="Password"
            type="password"
            autoComplete="current-password"
            value={form.password}
            error={errors?.password}
            onChange={(event) => setForm({ ...form, password: event.target.value })}
          />
          <FormFooter error={shownInline ? undefined : action.error} onCancel={() => setOpen(false)} pending={action.pending} label="Elevate" pendingLabel="Elevating…" />
        </form>
      </DialogContent>
    </Dialog>
  );
}
