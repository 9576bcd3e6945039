"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk } from "@/lib/action-result";
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

export const createEndpointAction = accountAction(createSchema, async (account, input) => {
  const result = await createEndpoint(account.id, input.name, DASHBOARD);
  if (!result.ok) return result;
  revalidate();
  return actionOk({ id: result.value.id });
});

export const renameEndpointAction = accountAction(renameSchema, async (account, input) => {
  const result = await renameEndpoint(account.id, input.endpointId, input.name, DASHBOARD);
  if (!result.ok) return result;
  revalidate();
  return actionOk(undefined);
});

export const deleteEndpointAction = accountAction(deleteSchema, async (account, input) => {
  const result = await deleteEndpoint(account.id, input.endpointId, DASHBOARD);
  if (!result.ok) return result;
  revalidate();
  return actionOk(undefined);
});
