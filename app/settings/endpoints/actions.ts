"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk, memberActor } from "@/lib/action-result";
import { createEndpoint, deleteEndpoint, renameEndpoint } from "@/lib/dal/endpoints";
import { nameSchema } from "@/lib/core/names";

const endpointId = z.string().min(1).max(100);
const createSchema = z.object({ name: nameSchema });
const renameSchema = z.object({ endpointId, name: nameSchema });
const deleteSchema = z.object({ endpointId });

function revalidate() {
  revalidatePath("/settings/endpoints");
  // Endpoint rows appear in every key's scope editor.
  revalidatePath("/settings/api-keys");
}

export const createEndpointAction = accountAction("endpoints.manage", createSchema, async (account, input) => {
  const result = await createEndpoint(account.id, input.name, memberActor(account));
  if (!result.ok) return result;
  revalidate();
  return actionOk({ id: result.value.id });
});

export const renameEndpointAction = accountAction("endpoints.manage", renameSchema, async (account, input) => {
  const result = await renameEndpoint(account.id, input.endpointId, input.name, memberActor(account));
  if (!result.ok) return result;
  revalidate();
  return actionOk(undefined);
});

export const deleteEndpointAction = accountAction("endpoints.manage", deleteSchema, async (account, input) => {
  const result = await deleteEndpoint(account.id, input.endpointId, memberActor(account));
  if (!result.ok) return result;
  revalidate();
  return actionOk(undefined);
});
