"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk, memberActor } from "@/lib/action-result";
import { addWebhook, deleteWebhook } from "@/lib/dal/webhooks";
import { readEnv } from "@/lib/env";

// The URL rule itself is the DAL's (lib/core/webhooks/target.ts); here only its shape and size.
const addSchema = z.object({ url: z.string().max(4_096, "URL must be at most 2,048 characters.") });
const deleteSchema = z.object({ webhookId: z.string().min(1).max(100) });
const PATH = "/settings/webhooks";

/** Adds a webhook; its signing secret is in the answer, once. */
export const addWebhookAction = accountAction("webhooks.manage", addSchema, async (account, input) => {
  const result = await addWebhook(account.id, input.url, memberActor(account), { allowPrivate: readEnv().WEBHOOK_ALLOW_PRIVATE });
  // The URL field shows the refusal.
  if (!result.ok) return { ...result, fieldErrors: { url: result.message } };
  revalidatePath(PATH);
  return actionOk({ url: result.value.webhook.url, secret: result.value.secret });
});

export const deleteWebhookAction = accountAction("webhooks.manage", deleteSchema, async (account, input) => {
  const result = await deleteWebhook(account.id, input.webhookId, memberActor(account));
  if (!result.ok) return result;
  revalidatePath(PATH);
  return actionOk(undefined);
});
