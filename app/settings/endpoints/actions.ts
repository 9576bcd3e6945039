"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { actionOk, forSignedInAccount, invalidInput, type ActionResult } from "@/lib/action-result";
import { createEndpoint, deleteEndpoint, renameEndpoint } from "@/lib/dal/endpoints";
import type { AuditActor } from "@/lib/dal/audit-log";
import { nameSchema } from "@/lib/core/names";

const endpointId = z.string().min(1).max(100);
const createSchema = z.object({ name: nameSchema });
const renameSchema = z.object({ endpointId, name: nameSchema });
const deleteSchema = z.object({ endpointId });
// Every change made here is made by the signed-in dashboard user.
const DASHBOARD: AuditActor = { type: "dashboard" };

function revalidate() {
  revalidatePath("/settings/endpoints");
  // Endpoint rows appear in every key's scope editor.
  revalidatePath("/settings/api-keys");
}

export async function createEndpointAction(input: unknown): Promise<ActionResult<{ id: string }>> {
  return forSignedInAccount(async (account) => {
    const parsed = createSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const result = await createEndpoint(account.id, parsed.data.name, DASHBOARD);
    if (!result.ok) return result;
    revalidate();
    return actionOk({ id: result.value.id });
  });
}

export async function renameEndpointAction(input: unknown): Promise<ActionResult> {
  return forSignedInAccount(async (account) => {
    const parsed = renameSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const result = await renameEndpoint(account.id, parsed.data.endpointId, parsed.data.name, DASHBOARD);
    if (!result.ok) return result;
    revalidate();
    return actionOk(undefined);
  });
}

export async function deleteEndpointAction(input: unknown): Promise<ActionResult> {
  return forSignedInAccount(async (account) => {
    const parsed = deleteSchema.safeParse(input);
    if (!parsed.success) return invalidInput(parsed.error);
    const result = await deleteEndpoint(account.id, parsed.data.endpointId, DASHBOARD);
    if (!result.ok) return result;
    revalidate();
    return actionOk(undefined);
  });
}
