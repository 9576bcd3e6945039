"use client";

import { Field } from "@/components/ui/field";
import { SelectField } from "@/components/ui/field";
import { defaultExpirationWithin, expirationChoicesWithin, MIN_CUSTOM_AHEAD_MS, type ExpirationChoice } from "@/lib/core/lifecycle/choices";
import { latestAllowedExpiry, lifetimeLabel } from "@/lib/core/teams/policies";

/** The form's state: a choice, and for `Custom` the date and time as the browser's input holds it (local, no zone). */
export type ExpirationDraft = { choice: ExpirationChoice; customAt: string; min: string };

/** The form's first state: 90 days, or under a team's `Maximum key lifetime` (SPEC §11) the longest it allows up to that. */
export const initialExpiration = (maxLifetimeDays: number | null = null): ExpirationDraft => ({ choice: defaultExpirationWithin(maxLifetimeDays), customAt: "", min: "" });

const pad = (n: number) => String(n).padStart(2, "0");

/** `YYYY-MM-DDTHH:mm` in the browser's time zone: what a datetime-local input shows and holds. */
function localDateTime(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * What the actions take: the choice, and for `Custom` an ISO instant with its offset, converted
 * here because only the browser knows which time zone the person meant. Unreadable or empty is
 * sent as nothing, and the server says what is missing.
 */
export function expirationInput(draft: ExpirationDraft): { expiration: ExpirationChoice; expiresAt: string | null } {
  if (draft.choice !== "custom" || !draft.customAt) return { expiration: draft.choice, expiresAt: null };
  const at = new Date(draft.customAt);
  return { expiration: draft.choice, expiresAt: Number.isNaN(at.getTime()) ? null : at.toISOString() };
}

/**
 * The native select `Expiration`, and `Expires at` when `Custom` is chosen; errors come from the
 * server. Under a team's `Maximum key lifetime` (SPEC §11) only the choices within it are offered
 * (no `No expiration`), and the picker stops at the cap; the server checks the same rule.
 */
export function ExpirationField({
  id,
  value,
  onChange,
  errors,
  maxLifetimeDays = null,
}: {
  id: string;
  value: ExpirationDraft;
  onChange: (next: ExpirationDraft) => void;
  errors?: Record<string, string>;
  maxLifetimeDays?: number | null;
}) {
  const latest = latestAllowedExpiry(maxLifetimeDays, new Date());
  return (
    <div className="flex flex-col gap-3">
      <SelectField
        id={`${id}-expiration`}
        label="Expiration"
        value={value.choice}
        error={errors?.expiration}
        onChange={(event) => {
          const choice = event.target.value as ExpirationChoice;
          // The earliest time the picker offers (a minute ahead, rounded up to a whole minute), fixed
          // when Custom is chosen; the server checks again when the form is sent.
          const earliest = new Date(Date.now() + MIN_CUSTOM_AHEAD_MS + 60_000);
          onChange({ ...value, choice, min: choice === "custom" ? localDateTime(earliest) : value.min });
        }}
      >
        {expirationChoicesWithin(maxLifetimeDays).map((choice) => (
          <option key={choice.id} value={choice.id}>
            {choice.label}
          </option>
        ))}
      </SelectField>
      {value.choice === "custom" ? (
        <div className="flex flex-col gap-1">
          <Field
            id={`${id}-expires-at`}
            label="Expires at"
            type="datetime-local"
            value={value.customAt}
            min={value.min || undefined}
            max={latest ? localDateTime(latest) : undefined}
            onChange={(event) => onChange({ ...value, customAt: event.target.value })}
            error={errors?.expiresAt}
          />
          <p className="text-xs text-zinc-500">
            In your time zone, at least one minute from now{maxLifetimeDays === null ? "" : ` and within ${lifetimeLabel(maxLifetimeDays)}`}.
          </p>
        </div>
      ) : maxLifetimeDays !== null ? (
        <p className="text-xs text-zinc-500">This team&apos;s policy: keys expire within {lifetimeLabel(maxLifetimeDays)}.</p>
      ) : value.choice === "never" ? (
        <p className="text-xs text-amber-800">
          A key that never expires keeps working until you delete it or switch it off. Prefer an expiry where you can.
        </p>
      ) : null}
    </div>
  );
}
