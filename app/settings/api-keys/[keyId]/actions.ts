"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk, keyAction, memberActor, type ActionResult } from "@/lib/action-result";
import { updateApiKeyScopes } from "@/lib/dal/api-keys";
import { isClientAddress } from "@/lib/core/restrictions/addresses";
import { ACCESS_LEVELS, REQUIRED_LEVELS } from "@/lib/core/scopes/levels";
import { SUGGESTION_WINDOW_IDS } from "@/lib/core/usage/suggest";
import { checkKeyAccess, type AccessCheck } from "@/lib/server/check-access";
import { loadKeySuggestion, sameScopes } from "@/lib/server/scope-suggestion";

// The key page's SPEC §10 actions: `Apply suggestion` and `Check access`. The key's other
// actions are in ../actions.ts.

const PAGE = "/settings/api-keys";
const NOT_FOUND = "API key not found.";
const STALE = "The suggestion has changed; review it again.";
const IP_MESSAGE = "Enter an IP address, such as 203.0.113.7 or 2001:db8::1, or leave it empty.";

const keyId = z.string().min(1).max(100);
const level = z.enum(ACCESS_LEVELS);
const applySchema = z.object({
  keyId,
  basedOn: z.enum(SUGGESTION_WINDOW_IDS, { error: "Choose 7 days, 30 days or 90 days." }),
  // The scopes the page showed as "after": applied only if the server suggests exactly these now.
  after: z.object({ graphql: level, endpointsAll: level, endpoints: z.record(z.string().max(200), level) }, { error: STALE }),
});
const checkSchema = z.object({
  keyId,
  // `graphql` or `endpoint:<id>`, the values of the `Resource` select.
  resource: z.string({ error: "Choose a resource." }).max(200, { error: "Choose a resource." }),
  access: z.enum(REQUIRED_LEVELS, { error: "Choose Read or Read / Write." }),
  ip: z
    .string({ error: IP_MESSAGE })
    .max(100, { error: IP_MESSAGE })
    .transform((text) => text.trim())
    .refine((text) => text === "" || isClientAddress(text), { error: IP_MESSAGE })
    .nullish(),
});

function parseResource(value: string): "graphql" | { endpointId: string } | null {
  if (value === "graphql") return "graphql";
  if (value.startsWith("endpoint:") && value.length > "endpoint:".length) return { endpointId: value.slice("endpoint:".length) };
  return null;
}

/**
 * `Apply suggestion`: the suggestion is computed again here from the key's scopes and usage now;
 * it is applied (as a normal, audited scope change that records its source) only when it is still
 * the one the page showed. A suggestion only takes levels away, but the user agreed to one list of
 * changes, not to whatever the usage says a moment later.
 */
export const applyScopeSuggestionAction = keyAction(applySchema, async (account, input): Promise<ActionResult<undefined>> => {
  const loaded = await loadKeySuggestion(account.id, input.keyId, input.basedOn);
  if (!loaded) return { ok: false, code: "NOT_FOUND", message: NOT_FOUND };
  // As `Edit scopes`: a legacy key keeps the permission it was imported with (roll it first).
  if (loaded.key.kind !== "scoped") return { ok: false, code: "BAD_REQUEST", message: "A legacy key's scopes cannot be edited." };
  const { suggestion } = loaded;
  if (suggestion.kind !== "narrow" || !sameScopes(suggestion.after, input.after)) return { ok: false, code: "CONFLICT", message: STALE };
  const result = await updateApiKeyScopes(account.id, input.keyId, suggestion.after, memberActor(account), new Date(), { source: "suggestion", basedOn: input.basedOn });
  if (!result.ok) return result;
  revalidatePath(PAGE);
  revalidatePath(`${PAGE}/${input.keyId}`);
  return actionOk(undefined);
});

/**
 * `Check access`: what a request would get now, from the one decision function in dry-run mode
 * (touches nothing, so every role may ask).
 */
export const checkAccessAction = accountAction("view", checkSchema, async (account, input): Promise<ActionResult<AccessCheck>> => {
  const resource = parseResource(input.resource);
  if (!resource) return { ok: false, code: "BAD_REQUEST", message: "Choose a resource.", fieldErrors: { resource: "Choose a resource." } };
  const check = await checkKeyAccess(account.id, input.keyId, { resource, access: input.access, ip: input.ip || null });
  if (!check) return { ok: false, code: "NOT_FOUND", message: NOT_FOUND };
  return actionOk(check);
});
