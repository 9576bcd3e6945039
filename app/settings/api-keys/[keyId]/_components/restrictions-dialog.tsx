"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogTrigger } from "@/components/ui/dialog";
import { Field } from "@/components/ui/field";
import { FormFooter } from "@/components/ui/form-footer";
import { SelectField } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { RATE_WINDOWS, type RateWindow } from "@/lib/core/restrictions/rate-limit";
import { displayRange, RATE_LIMIT_MESSAGE, type Restrictions } from "@/lib/core/restrictions/restrictions";
import { setApiKeyRestrictionsAction } from "../../actions";

type Draft = { allowedIps: string; rateLimit: string; per: RateWindow };

function draftOf(restrictions: Restrictions): Draft {
  return {
    allowedIps: (restrictions.allowedIps ?? []).map(displayRange).join("\n"),
    rateLimit: restrictions.rateLimit ? String(restrictions.rateLimit.limit) : "",
    per: restrictions.rateLimit?.per ?? "minute",
  };
}

const textareaClass =
  "rounded-md border border-zinc-300 bg-white px-3 py-2 font-mono text-sm shadow-xs focus:border-indigo-500 aria-invalid:border-red-500";

/** `Restrictions` (SPEC §9): the addresses a key may be used from, and how often. */
export function RestrictionsDialog({ keyId, name, restrictions }: { keyId: string; name: string; restrictions: Restrictions }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState<Draft>(() => draftOf(restrictions));
  // A number input reports text it cannot read as empty: caught here, or it would save "no limit".
  const [unreadable, setUnreadable] = useState(false);
  const action = useActionCall();
  const errors = unreadable ? { rateLimit: RATE_LIMIT_MESSAGE } : action.fieldErrors;

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const field = event.currentTarget.elements.namedItem("rateLimit");
    const badInput = field instanceof HTMLInputElement && field.validity.badInput;
    setUnreadable(badInput);
    if (badInput) return;
    const text = draft.rateLimit.trim();
    const input = { keyId, allowedIps: draft.allowedIps, rateLimit: text === "" ? null : Number(text), per: draft.per };
    if (await action.call(() => setApiKeyRestrictionsAction(input))) {
      setOpen(false);
      router.refresh();
    }
  }
  const shownInline = Boolean(errors?.allowedIps || errors?.rateLimit || errors?.per);

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) setDraft(draftOf(restrictions));
        setUnreadable(false);
        action.reset();
      }}
    >
      <DialogTrigger asChild>
        <Button variant="secondary">Restrictions</Button>
      </DialogTrigger>
      <DialogContent
        title={`Restrictions for ${name}`}
        description="Requests with this key from any other address are refused (IP_NOT_ALLOWED), and so are requests over the rate limit (RATE_LIMITED), on every route and the verify API."
      >
        <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
          <div className="flex flex-col gap-1">
            <label htmlFor="restrictions-ips" className="text-sm font-medium text-zinc-800">
              Allowed IP addresses
            </label>
            <textarea
              id="restrictions-ips"
              name="allowedIps"
              rows={6}
              spellCheck={false}
              autoCapitalize="off"
              autoComplete="off"
              placeholder={"203.0.113.7\n10.0.0.0/8\n2001:db8::/32"}
              value={draft.allowedIps}
              onChange={(event) => setDraft({ ...draft, allowedIps: event.target.value })}
              aria-invalid={errors?.allowedIps ? true : undefined}
              aria-describedby={errors?.allowedIps ? "restrictions-ips-error restrictions-ips-hint" : "restrictions-ips-hint"}
              className={textareaClass}
            />
            {errors?.allowedIps ? (
              <p id="restrictions-ips-error" role="alert" className="text-sm text-red-600">
                {errors.allowedIps}
              </p>
            ) : null}
            <p id="restrictions-ips-hint" className="text-xs text-zinc-500">
              One IPv4 or IPv6 address or CIDR range per line, at most 100; empty means any address.
            </p>
          </div>
          <div className="grid gap-4 sm:grid-cols-2">
            <div className="flex flex-col gap-1">
              <Field
                id="restrictions-rate-limit"
                name="rateLimit"
                label="Rate limit"
                type="number"
                inputMode="numeric"
                min={1}
                max={1_000_000}
                step={1}
                value={draft.rateLimit}
                error={errors?.rateLimit}
                // Only without an error: Field points at the error itself, and a prop would override it.
                {...(errors?.rateLimit ? {} : { "aria-describedby": "restrictions-rate-limit-hint" })}
                onChange={(event) => {
                  setUnreadable(false);
                  setDraft({ ...draft, rateLimit: event.target.value });
                }}
              />
              {errors?.rateLimit ? null : (
                <p id="restrictions-rate-limit-hint" className="text-xs text-zinc-500">
                  1 to 1,000,000; empty means none.
                </p>
              )}
            </div>
            <SelectField
              id="restrictions-per"
              name="per"
              label="Per"
              value={draft.per}
              error={errors?.per}
              onChange={(event) => setDraft({ ...draft, per: event.target.value as RateWindow })}
            >
              {RATE_WINDOWS.map((per) => (
                <option key={per} value={per}>
                  {per}
                </option>
              ))}
            </SelectField>
          </div>
          <FormFooter error={shownInline ? undefined : action.error} onCancel={() => setOpen(false)} pending={action.pending} label="Save restrictions" pendingLabel="Saving…" />
        </form>
      </DialogContent>
    </Dialog>
  );
}
