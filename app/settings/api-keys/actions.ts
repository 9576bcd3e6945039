"use server";

import { headers } from "next/headers";
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk, keyAction, memberActor, type ActionResult } from "@/lib/action-result";
import { createScopedApiKey, deleteApiKey, setApiKeyEnabled, updateApiKeyScopes } from "@/lib/dal/api-keys";
import { verifyAccountPassword } from "@/lib/dal/accounts";
import { elevateApiKey, endElevation, expirePreviousKey, rollApiKey, setApiKeyExpiration } from "@/lib/dal/key-lifecycle";
import { setApiKeyRestrictions } from "@/lib/dal/key-restrictions";
import { RATE_WINDOWS } from "@/lib/core/restrictions/rate-limit";
import { normalizeRestrictions, PER_MESSAGE, RATE_LIMIT_MESSAGE } from "@/lib/core/restrictions/restrictions";
import { dismissLeakBanner } from "@/lib/dal/leaks";
import {
  DEFAULT_EXPIRATION,
  ELEVATION_DURATION_IDS,
  EXPIRATION_IDS,
  GRACE_IDS,
  parseElevationTarget,
  resolveExpiration,
} from "@/lib/core/lifecycle/choices";
import { nameSchema, normalizeReason } from "@/lib/core/names";
import { REQUIRED_LEVELS } from "@/lib/core/scopes/levels";
import { getAuthLimiter, requestClientAddress } from "@/lib/rate-limit/process-limiter";
import { retryAfterText } from "@/lib/rate-limit/auth-limiter";

const PAGE = "/settings/api-keys";
const keyPage = (id: string) => `${PAGE}/${id}`;
// SPEC §11: creating a key needs `keys.create`; every change to one key goes through keyAction,
// which allows it only to whom canChangeKey does (a Member: the keys they created).
const keyId = z.string().min(1).max(100);
// The expiry as chosen in the form; `expiresAt` (ISO 8601 with offset) only for `custom`.
const expiration = {
  expiration: z.enum(EXPIRATION_IDS, { error: "Choose an expiration." }).default(DEFAULT_EXPIRATION),
  expiresAt: z.string().max(40).nullish(),
};
// Scopes are validated in depth by the DAL (levels, and endpoint ids against the account's own).
const createSchema = z.object({ name: nameSchema, scopes: z.unknown(), ...expiration });
const enabledSchema = z.object({ keyId, enabled: z.boolean() });
const scopesSchema = z.object({ keyId, scopes: z.unknown() });
const deleteSchema = z.object({ keyId });
const expirationSchema = z.object({ keyId, ...expiration });
const rollSchema = z.object({ keyId, grace: z.enum(GRACE_IDS, { error: "Choose how long the old key stays valid." }) });
const elevateSchema = z.object({
  keyId,
  target: z.string().max(200),
  level: z.enum(REQUIRED_LEVELS, { error: "Choose a level." }),
  duration: z.enum(ELEVATION_DURATION_IDS, { error: "Choose a duration." }),
  // The DAL applies the reason rule (lib/core/names.ts); the cap here only bounds the input.
  reason: z.string().max(2000),
  password: z.string().min(1, { error: "Enter your password." }).max(1024),
});
const endElevationSchema = z.object({ keyId, elevationId: z.string().min(1).max(100) });
// `Restrictions`: the lines are checked by normalizeRestrictions; the cap only bounds the input
// (100 ranges of at most 49 characters, with room for blank lines and spaces).
const restrictionsSchema = z.object({
  keyId,
  allowedIps: z.string({ error: "Enter one address or range per line." }).max(20_000, { error: "The list is too long: at most 100 addresses or ranges." }),
  rateLimit: z.number({ error: RATE_LIMIT_MESSAGE }).nullable(),
  per: z.enum(RATE_WINDOWS, { error: PER_MESSAGE }).nullable(),
});

function expiryFrom(input: { expiration: z.infer<typeof expirationSchema>["expiration"]; expiresAt?: string | null }, now: Date) {
  return resolveExpiration(input.expiration, input.expiresAt, now);
}

function refresh(id: string) {
  revalidatePath(PAGE);
  revalidatePath(keyPage(id));
}

/** Creates a scoped key and returns its plaintext: the only time it is ever sent. */
export const createApiKeyAction = accountAction("keys.create", createSchema, async (account, input) => {
  const now = new Date();
  const expiry = expiryFrom(input, now);
  if (!expiry.ok) return { ok: false, code: "BAD_REQUEST", message: expiry.message, fieldErrors: { expiresAt: expiry.message } };
  const created = await createScopedApiKey(account.id, { name: input.name, scopes: input.scopes, expiresAt: expiry.expiresAt }, memberActor(account), now);
  if (!created.ok) return created;
  revalidatePath(PAGE);
  // SPEC §11: GraphQL Read / Write waiting for approval is said once the key is shown.
  return actionOk({ plaintext: created.value.plaintext, name: created.value.key.name, ...(created.value.pendingApproval ? { pendingApproval: true as const } : {}) });
});

export const setApiKeyEnabledAction = keyAction(enabledSchema, async (account, input) => {
  const result = await setApiKeyEnabled(account.id, input.keyId, input.enabled, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk({ enabled: result.value.enabled });
});

export const updateApiKeyScopesAction = keyAction(scopesSchema, async (account, input) => {
  const result = await updateApiKeyScopes(account.id, input.keyId, input.scopes, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});

export const deleteApiKeyAction = keyAction(deleteSchema, async (account, input) => {
  const result = await deleteApiKey(account.id, input.keyId, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});

/** `Change expiration`: the same choices as on create, counted from now. */
export const setApiKeyExpirationAction = keyAction(expirationSchema, async (account, input) => {
  const now = new Date();
  const expiry = expiryFrom(input, now);
  if (!expiry.ok) return { ok: false, code: "BAD_REQUEST", message: expiry.message, fieldErrors: { expiresAt: expiry.message } };
  const result = await setApiKeyExpiration(account.id, input.keyId, expiry.expiresAt, memberActor(account), now);
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk({ expiresAt: result.value.expiresAt?.toISOString() ?? null });
});

/** `Roll key`: a new secret, shown once; the old one stays valid for the grace period chosen. */
export const rollApiKeyAction = keyAction(rollSchema, async (account, input) => {
  const result = await rollApiKey(account.id, input.keyId, input.grace, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk({ plaintext: result.value.plaintext, name: result.value.key.name });
});

export const expirePreviousKeyAction = keyAction(deleteSchema, async (account, input) => {
  const result = await expirePreviousKey(account.id, input.keyId, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});

/**
 * `Elevate access`: the user's password is checked again, and wrong ones count against the same
 * per-email and per-address limits as sign-in, so a stolen session cannot guess it.
 */
export const elevateApiKeyAction = keyAction(elevateSchema, async (account, input): Promise<ActionResult<undefined>> => {
  const target = parseElevationTarget(input.target);
  if (!target) return { ok: false, code: "BAD_REQUEST", message: "Choose a resource.", fieldErrors: { target: "Choose a resource." } };
  // Before the password: a form that cannot succeed should not use up a password attempt. The
  // DAL applies the same rule again.
  const reason = normalizeReason(input.reason);
  if (!reason.ok) return { ok: false, code: "BAD_REQUEST", message: reason.message, fieldErrors: { reason: reason.message } };
  const now = Date.now();
  const attempt = getAuthLimiter().beginSignIn(account.email, requestClientAddress(await headers()), now);
  if (!attempt.ok) {
    const message = `Too many wrong passwords. ${retryAfterText(attempt.retryAfterMs)}`;
    return { ok: false, code: "BAD_REQUEST", message, fieldErrors: { password: message } };
  }
  let matches: boolean;
  try {
    matches = await verifyAccountPassword(account.userId, input.password);
  } catch (error) {
    attempt.abandoned();
    throw error;
  }
  if (!matches) return { ok: false, code: "BAD_REQUEST", message: "Wrong password.", fieldErrors: { password: "Wrong password." } };
  attempt.succeeded();
  const result = await elevateApiKey(account.id, input.keyId, { target, level: input.level, duration: input.duration, reason: input.reason }, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});

export const endElevationAction = keyAction(endElevationSchema, async (account, input) => {
  const result = await endElevation(account.id, input.keyId, input.elevationId, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});

/** `Dismiss` on the banner about a leaked key (SPEC §9): the key stays disabled and marked leaked. */
export const dismissLeakBannerAction = keyAction(deleteSchema, async (account, input) => {
  const result = await dismissLeakBanner(account.id, input.keyId);
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});

/** `Save restrictions` (SPEC §9): the allowlist and rate limit as a whole; a bad line or limit saves nothing. */
export const setApiKeyRestrictionsAction = keyAction(restrictionsSchema, async (account, input): Promise<ActionResult<undefined>> => {
  // Here first, to put the message on its field; the DAL applies the same rule again.
  const checked = normalizeRestrictions(input);
  if (!checked.ok) return { ok: false, code: "BAD_REQUEST", message: checked.message, fieldErrors: { [checked.field]: checked.message } };
  const result = await setApiKeyRestrictions(account.id, input.keyId, input, memberActor(account));
  if (!result.ok) return result;
  refresh(input.keyId);
  return actionOk(undefined);
});
