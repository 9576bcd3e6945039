"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { accountAction, actionOk, memberActor } from "@/lib/action-result";
import { approveApprovalRequest, declineApprovalRequest } from "@/lib/dal/approvals";

// SPEC §11 `/settings/approvals`: owners and admins (`approvals.decide`). The DAL checks the
// decider's role again, and refuses anyone approving their own request.

const decideSchema = z.object({ requestId: z.string().min(1).max(100) });

function refresh(keyId: string) {
  revalidatePath("/settings/approvals");
  revalidatePath("/settings/api-keys");
  revalidatePath(`/settings/api-keys/${keyId}`);
}

/** `Approve`: the GraphQL Read / Write asked for takes effect now. */
export const approveRequestAction = accountAction("approvals.decide", decideSchema, async (account, input) => {
  const result = await approveApprovalRequest(account.id, input.requestId, memberActor(account));
  if (!result.ok) return result;
  refresh(result.value.keyId);
  return actionOk(undefined);
});

/** `Decline`: the key keeps what it has. */
export const declineRequestAction = accountAction("approvals.decide", decideSchema, async (account, input) => {
  const result = await declineApprovalRequest(account.id, input.requestId, memberActor(account));
  if (!result.ok) return result;
  refresh(result.value.keyId);
  return actionOk(undefined);
});
