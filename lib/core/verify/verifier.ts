import { parsePresentedKey } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { effectiveEndpointLevel } from "@/lib/core/scopes/evaluate";
import { levelAllows, type AccessLevel, type RequiredLevel } from "@/lib/core/scopes/levels";

/** What a request needs: a level on GraphQL, or on one endpoint. */
export type Requirement =
  | { resource: "graphql"; access: RequiredLevel }
  | { resource: "endpoint"; endpointId: string; access: RequiredLevel };

/** A key as the verifier needs it, found by the SHA-256 of the presented key. */
export type StoredKey = {
  id: string;
  accountId: string;
  enabled: boolean;
  graphqlLevel: AccessLevel;
  endpointsAllLevel: AccessLevel;
  /** The key's override for the requested endpoint, if any. */
  endpointOverride: AccessLevel | null;
  /** Whether the requested endpoint exists in the key's own account. */
  endpointInAccount: boolean;
};

export interface KeyStore {
  /** One indexed lookup by hash; `endpointId` selects the override and the ownership check. */
  findKeyByHash(keyHash: string, endpointId: string | null): Promise<StoredKey | null> | StoredKey | null;
  /** Notes a successful use; the store batches these writes off the request path. */
  recordUse(keyId: string, at: number): void;
}

export type DenialCode = "UNAUTHENTICATED" | "KEY_DISABLED" | "INSUFFICIENT_SCOPE" | "NOT_FOUND";

export type Decision =
  | { ok: true; code: "VALID"; keyId: string; accountId: string }
  | { ok: false; code: DenialCode; keyId?: string };

const UNAUTHENTICATED: Decision = { ok: false, code: "UNAUTHENTICATED" };

/** The key in `Authorization: Bearer <key>` (scheme case-insensitive), or null. */
export function readBearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * The one decision for every API request: format and checksum (garbage never reaches the
 * database; oversized keys are refused before hashing) → SHA-256 → one lookup → enabled →
 * endpoint of the key's own account → level. Legacy keys take the same path.
 */
export async function decide(presented: string | null, requirement: Requirement, store: KeyStore, now: () => number = Date.now): Promise<Decision> {
  if (presented === null) return UNAUTHENTICATED;
  const parsed = parsePresentedKey(presented);
  if (!parsed.ok) return UNAUTHENTICATED;
  const endpointId = requirement.resource === "endpoint" ? requirement.endpointId : null;
  const key = await store.findKeyByHash(hashKey(parsed.key), endpointId);
  if (!key) return UNAUTHENTICATED;
  if (!key.enabled) return { ok: false, code: "KEY_DISABLED", keyId: key.id };
  let granted: AccessLevel;
  if (requirement.resource === "endpoint") {
    // Another account's endpoint, or none at all: the same answer, so ids cannot be probed.
    if (!key.endpointInAccount) return { ok: false, code: "NOT_FOUND", keyId: key.id };
    granted = effectiveEndpointLevel(key.endpointsAllLevel, key.endpointOverride);
  } else {
    granted = key.graphqlLevel;
  }
  if (!levelAllows(granted, requirement.access)) return { ok: false, code: "INSUFFICIENT_SCOPE", keyId: key.id };
  store.recordUse(key.id, now());
  return { ok: true, code: "VALID", keyId: key.id, accountId: key.accountId };
}
