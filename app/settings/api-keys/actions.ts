"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk } from "@/lib/action-result";
import {
  createScopedApiKey,
  deleteApiKey,
  setApiKeyEnabled,
  updateApiKeyScopes,
} from "@/lib/dal/api-keys";
import type { AuditActor } from "@/lib/dal/audit-log";
import { nameSchema } from "@/lib/core/names";

const PAGE = "/settings/api-keys";
// Every change made here is made by the signed-in dashboard user.
const DASHBOARD: AuditActor = { type: "dashboard" };
const keyId = z.string().min(1).max(100);
// Scopes are validated in depth by the DAL (levels, and endpoint ids against the account's own).
const createSchema = z.object({ name: nameSchema, scopes: z.unknown() });
const enabledSchema = z.object({ keyId, enabled: z.boolean() });
const scopesSchema = z.object({ keyId, scopes: z.unknown() });
const deleteSchema = z.object({ keyId });

/** Creates a scoped key and returns its plaintext: the only time it is ever sent. */
export const createApiKeyAction = accountAction(createSchema, async (account, input) => {
  const created = await createScopedApiKey(account.id, input, DASHBOARD);
  if (!created.ok) return created;
  revalidatePath(PAGE);
  return actionOk({ plaintext: created.value.plaintext, name: created.value.key.name });
});

export const setApiKeyEnabledAction = accountAction(enabledSchema, async (account, input) => {
  const result = await setApiKeyEnabled(account.id, input.keyId, input.enabled, DASHBOARD);
  if (!result.ok) return result;
  revalidatePath(PAGE);
  return actionOk({ enabled: result.value.enabled });
});

export const updateApiKeyScopesAction = accountAction(scopesSchema, async (account, input) => {
  const result = await updateApiKeyScopes(account.id, input.keyId, input.scopes, DASHBOARD);
  if (!result.ok) return result;
  revalidatePath(PAGE);
  return actionOk(undefined);
});

export const deleteApiKeyAction = accountAction(deleteSchema, async (account, input) => {
  const result = await deleteApiKey(account.id, input.keyId, DASHBOARD);
  if (!result.ok) return result;
  revalidatePath(PAGE);
  return actionOk(undefined);
});
