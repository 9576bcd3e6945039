"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actionOk, forSignedInAccount, invalidInput, type ActionResult } from "@/lib/action-result";
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
export async function createApiKeyAction(input: unknown): Promise<ActionResult<{ plaintext: string; name: string }>> {
  return forSignedInAccount(async (account) => {
    const parsed = createSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const created = await createScopedApiKey(account.id, parsed.data, DASHBOARD);
    if (!created.ok) return created;
    revalidatePath(PAGE);
    return actionOk({ plaintext: created.value.plaintext, name: created.value.key.name });
  });
}

export async function setApiKeyEnabledAction(input: unknown): Promise<ActionResult<{ enabled: boolean }>> {
  return forSignedInAccount(async (account) => {
    const parsed = enabledSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const result = await setApiKeyEnabled(account.id, parsed.data.keyId, parsed.data.enabled, DASHBOARD);
    if (!result.ok) return result;
    revalidatePath(PAGE);
    return actionOk({ enabled: result.value.enabled });
  });
}

export async function updateApiKeyScopesAction(input: unknown): Promise<ActionResult> {
  return forSignedInAccount(async (account) => {
    const parsed = scopesSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const result = await updateApiKeyScopes(account.id, parsed.data.keyId, parsed.data.scopes, DASHBOARD);
    if (!result.ok) return result;
    revalidatePath(PAGE);
    return actionOk(undefined);
  });
}

export async function deleteApiKeyAction(input: unknown): Promise<ActionResult> {
  return forSignedInAccount(async (account) => {
    const parsed = deleteSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const result = await deleteApiKey(account.id, parsed.data.keyId, DASHBOARD);
    if (!result.ok) return result;
    revalidatePath(PAGE);
    return actionOk(undefined);
  });
}
