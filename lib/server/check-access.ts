import "server-only";
import type { RequiredLevel } from "@/lib/core/scopes/levels";
import { decideForKey, type DenialCode, type Requirement } from "@/lib/core/verify/verifier";
import { denialMessage } from "@/lib/http/api-error";
import { getDataPlane } from "./data-plane";

export type AccessCheck = { allowed: true } | { allowed: false; code: DenialCode; reason: string };

/**
 * Check access (SPEC §10): what the one decision function answers for this key, resource, access
 * and client address, now — read by id within the account, as the key's current secret, and
 * decided in dry-run mode: no last-used date, usage count or rate-limit count is touched. A key
 * with an allowlist checked without an address is refused, as the verify API refuses it.
 * Null when the key is not the account's.
 */
export async function checkKeyAccess(
  accountId: string,
  keyId: string,
  check: { resource: "graphql" | { endpointId: string }; access: RequiredLevel; ip: string | null },
): Promise<AccessCheck | null> {
  const plane = await getDataPlane();
  const endpointId = check.resource === "graphql" ? null : check.resource.endpointId;
  const key = await plane.keyStore.findKeyById(accountId, keyId, endpointId);
  if (!key) return null;
  const requirement: Requirement = endpointId === null ? { resource: "graphql", access: check.access } : { resource: "endpoint", endpointId, access: check.access };
  const decision = decideForKey(key, requirement, plane.keyStore, { clientAddress: check.ip, dryRun: true });
  if (decision.ok) return { allowed: true };
  if (decision.code === "IP_NOT_ALLOWED" && check.ip === null) {
    return { allowed: false, code: decision.code, reason: "This API key accepts requests only from its allowed IP addresses; enter an address to check it." };
  }
  return { allowed: false, code: decision.code, reason: denialMessage(decision) };
}
