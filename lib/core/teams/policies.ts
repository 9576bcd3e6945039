// SPEC §11 policies: `Maximum key lifetime` and `GraphQL Read / Write needs approval`, and the two
// rules they make. Pure: the DAL reads the team's row and `now`, the dialogs filter their choices,
// and both ask these functions, so the dashboard never offers what the server would refuse.

import { levelAllows, type AccessLevel } from "@/lib/core/scopes/levels";
import { can, type TeamRole } from "./roles";

const DAY = 86_400_000;

/** `Maximum key lifetime`'s choices, in the order the select shows them; `days: null` is `No limit`. */
export const KEY_LIFETIME_CHOICES = [
  { id: "none", label: "No limit", days: null },
  { id: "30d", label: "30 days", days: 30 },
  { id: "90d", label: "90 days", days: 90 },
  { id: "1y", label: "1 year", days: 365 },
] as const;
export type KeyLifetimeChoice = (typeof KEY_LIFETIME_CHOICES)[number]["id"];
export const KEY_LIFETIME_IDS = KEY_LIFETIME_CHOICES.map((choice) => choice.id) as [KeyLifetimeChoice, ...KeyLifetimeChoice[]];
export type MaxKeyLifetimeDays = (typeof KEY_LIFETIME_CHOICES)[number]["days"];

export type TeamPolicies = { maxKeyLifetimeDays: MaxKeyLifetimeDays; graphqlWriteNeedsApproval: boolean };

/** A team that never saved its policies: no limit, no approval (what every team had before §11). */
export const DEFAULT_POLICIES: TeamPolicies = Object.freeze({ maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false });

export function lifetimeChoiceFor(days: number | null): KeyLifetimeChoice | null {
  return KEY_LIFETIME_CHOICES.find((choice) => choice.days === days)?.id ?? null;
}

export function lifetimeDaysFor(id: KeyLifetimeChoice): MaxKeyLifetimeDays {
  return KEY_LIFETIME_CHOICES.find((choice) => choice.id === id)?.days ?? null;
}

/** A stored value read back as a policy; anything this version does not offer counts as the strictest cap it knows that still allows it. */
export function readLifetimeDays(stored: number | null): MaxKeyLifetimeDays {
  if (stored === null) return null;
  const known = KEY_LIFETIME_CHOICES.filter((choice) => choice.days !== null && choice.days <= stored);
  // Below every choice: the shortest one still caps keys more than none would.
  return known.at(-1)?.days ?? 30;
}

/** "30 days", "1 year", "No limit": how messages and the audit log name a cap. */
export function lifetimeLabel(days: number | null): string {
  return KEY_LIFETIME_CHOICES.find((choice) => choice.days === days)?.label ?? `${days} days`;
}

/** The latest expiry the cap allows for a key given one at `now` (null: no cap). */
export function latestAllowedExpiry(maxDays: number | null, now: Date): Date | null {
  return maxDays === null ? null : new Date(now.getTime() + maxDays * DAY);
}

export type LifetimeCheck = { ok: true } | { ok: false; message: string };

/**
 * Whether an expiry (null: never) set at `now` is within the team's `Maximum key lifetime`. Every
 * new expiry and every expiry change goes through this, whoever sets it.
 */
export function checkKeyLifetime(expiresAt: Date | null, maxDays: number | null, now: Date): LifetimeCheck {
  const latest = latestAllowedExpiry(maxDays, now);
  if (latest === null) return { ok: true };
  const cap = lifetimeLabel(maxDays);
  if (expiresAt === null) return { ok: false, message: `This team's policy requires every key to expire within ${cap}. Choose an expiration.` };
  if (expiresAt.getTime() > latest.getTime()) return { ok: false, message: `This team's policy allows keys to live at most ${cap}. Choose an earlier expiration.` };
  return { ok: true };
}

/**
 * Whether a change asking a key's GraphQL scope for `asked` (it has `has`, by its own scopes or an
 * elevation target) must wait for an owner or admin: the policy is on, it asks for `Read / Write`
 * the key does not already have, and the member cannot decide approvals themselves (SPEC §11: a
 * `Member`; owners and admins act directly).
 */
export function needsGraphqlApproval(policies: TeamPolicies, role: TeamRole, asked: AccessLevel, has: AccessLevel): boolean {
  if (!policies.graphqlWriteNeedsApproval) return false;
  if (can(role, "approvals.decide")) return false;
  return asked === "read_write" && !levelAllows(has, "read_write");
}
