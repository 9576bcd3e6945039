"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk, memberActor } from "@/lib/action-result";
import { KEY_LIFETIME_IDS, lifetimeDaysFor } from "@/lib/core/teams/policies";
import { savePolicies } from "@/lib/dal/policies";

// SPEC §11 `/settings/policies`: owners only (`policies.manage`).

const policiesSchema = z.object({
  maxKeyLifetime: z.enum(KEY_LIFETIME_IDS, { error: "Choose a maximum key lifetime." }),
  graphqlWriteNeedsApproval: z.boolean({ error: "Choose whether GraphQL Read / Write needs approval." }),
});

/** `Save policies`: both as a whole, audited; they apply to the next key change, existing keys keep their expiry. */
export const savePoliciesAction = accountAction("policies.manage", policiesSchema, async (account, input) => {
  const result = await savePolicies(
    account.id,
    { maxKeyLifetimeDays: lifetimeDaysFor(input.maxKeyLifetime), graphqlWriteNeedsApproval: input.graphqlWriteNeedsApproval },
    memberActor(account),
  );
  if (!result.ok) return result;
  // The key dialogs offer what the new cap allows.
  revalidatePath("/settings", "layout");
  return actionOk(result.value);
});
