import { parsePresentedKey } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { effectiveEndpointLevel } from "@/lib/core/scopes/evaluate";
import { higherLevel, levelAllows, type AccessLevel, type RequiredLevel } from "@/lib/core/scopes/levels";
import type { AddressMatcher } from "@/lib/core/restrictions/addresses";
import type { RateRule, RateState } from "@/lib/core/restrictions/rate-limit";
import { GRAPHQL_RESOURCE, UNKNOWN_RESOURCE, type UsageCode, type UsageVia } from "@/lib/core/usage/tally";

/** What a request needs: a level on GraphQL, or on one endpoint. */
export type Requirement =
  | { resource: "graphql"; access: RequiredLevel }
  | { resource: "endpoint"; endpointId: string; access: RequiredLevel };

/**
 * An elevation in force when the key was read (SPEC §8): `target` is `graphql`, `endpoints` (all
 * of them) or `endpoint:<id>` of the requested endpoint. Whether it is still in force is decided
 * against the decision's own clock, so a cached copy needs nothing to run when it ends.
 */
export type StoredElevation = { target: string; level: AccessLevel; endsAt: number };

/** A key as the verifier needs it, found by the SHA-256 of the presented key (its current secret, or its previous one after a roll). */
export type StoredKey = {
  id: string;
  accountId: string;
  enabled: boolean;
  graphqlLevel: AccessLevel;
  endpointsAllLevel: AccessLevel;
  /** The key's override for the requested endpoint, if any. */
  endpointOverride: AccessLevel | null;
  /** The requested endpoint's name if it is in the key's own account, else null (not found). */
  endpointName: string | null;
  /** Epoch ms from which the key is refused as expired; null: never. */
  expiresAt: number | null;
  /** Whether the presented secret is the key's previous one, in or past its grace period. */
  presentedPrevious: boolean;
  /** Epoch ms until which the previous secret verifies; null when there is none. */
  previousValidUntil: number | null;
  /** The grace period ends at the current secret's first successful use. */
  graceEndsOnFirstUse: boolean;
  elevations: readonly StoredElevation[];
  /** SPEC §9: the key's allowlist, compiled; null: any address. */
  allowedAddresses: AddressMatcher | null;
  /** SPEC §9: the key's rate limit; null: none. */
  rateRule: RateRule | null;
};

export interface KeyStore {
  /** One indexed lookup by hash; `endpointId` selects the override, the ownership check and the endpoint's elevation. */
  findKeyByHash(keyHash: string, endpointId: string | null): Promise<StoredKey | null> | StoredKey | null;
  /**
   * Counts one decision about the key into its usage (SPEC §10); an allowed one is also its last
   * use. The store batches these writes off the request path.
   */
  recordDecision(keyId: string, at: number, resource: string, via: UsageVia, access: RequiredLevel, code: UsageCode): void;
  /** The current secret of a key rolled `Until the new key is first used` was used at `at`: end the old one's grace, off the request path. */
  endGraceOnFirstUse(keyId: string, at: number): void;
  /**
   * Counts one request of the key against its limit (`take`), or only says where it stands:
   * `peek` for a request refused before the limit, `inspect` for a check that must change nothing
   * at all (not even start counting the key's window in this process).
   */
  rateLimit(keyId: string, rule: RateRule, at: number, mode: RateLimitMode): RateState;
}

export type RateLimitMode = "take" | "peek" | "inspect";

export type DenialCode = "UNAUTHENTICATED" | "KEY_DISABLED" | "KEY_EXPIRED" | "IP_NOT_ALLOWED" | "INSUFFICIENT_SCOPE" | "NOT_FOUND" | "RATE_LIMITED";

/** A `403 INSUFFICIENT_SCOPE` explains itself (SPEC §4): what was needed, what the key has there, and the endpoint's name. */
export type ScopeShortfall = { required: Requirement; granted: AccessLevel; endpointName: string | null };

/** Where the key stands against its rate limit, on every decision about a key that has one (the `RateLimit-*` headers). */
type Limited = { rateLimit?: RateState };

export type Decision =
  | ({ ok: true; code: "VALID"; keyId: string; accountId: string } & Limited)
  | ({ ok: false; code: "INSUFFICIENT_SCOPE"; keyId: string } & ScopeShortfall & Limited)
  | ({ ok: false; code: Exclude<DenialCode, "INSUFFICIENT_SCOPE">; keyId?: string } & Limited);

/** What the request brings besides its key: where it comes from, and the clock (tests inject one). */
export type DecisionContext = {
  /** The client address the front door decided on (TCP peer, or X-Forwarded-For behind TRUST_PROXY); null when unknown. */
  clientAddress?: string | null;
  now?: () => number;
  /** Which API asks: the verify API's decisions count under `verify` (SPEC §10). Default `api`. */
  via?: UsageVia;
  /**
   * Check access (SPEC §10): the same decision, with no side effect — no last-used date, usage
   * count, rate-limit count or grace-period end.
   */
  dryRun?: boolean;
};

const UNAUTHENTICATED: Decision = { ok: false, code: "UNAUTHENTICATED" };

/** The key in `Authorization: Bearer <key>` (scheme case-insensitive), or null. */
export function readBearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match?.[1] ?? null;
}

/** A refusal of a known key, with where it stands against its rate limit when it has one. */
function refuse(key: StoredKey, code: Exclude<DenialCode, "INSUFFICIENT_SCOPE">, store: KeyStore, at: number, dryRun: boolean): Decision {
  return key.rateRule ? { ok: false, code, keyId: key.id, rateLimit: store.rateLimit(key.id, key.rateRule, at, dryRun ? "inspect" : "peek") } : { ok: false, code, keyId: key.id };
}

/** The key's level for what the request needs: its own, raised by any elevation in force at `at`. */
export function grantedLevel(key: StoredKey, requirement: Requirement, at: number): AccessLevel {
  let granted: AccessLevel;
  if (requirement.resource === "endpoint") granted = effectiveEndpointLevel(key.endpointsAllLevel, key.endpointOverride);
  else granted = key.graphqlLevel;
  for (const elevation of key.elevations) {
    if (at >= elevation.endsAt) continue;
    const applies =
      requirement.resource === "graphql"
        ? elevation.target === "graphql"
        : elevation.target === "endpoints" || elevation.target === `endpoint:${requirement.endpointId}`;
    if (applies) granted = higherLevel(granted, elevation.level);
  }
  return granted;
}

/**
 * The one decision for every API request, in SPEC §4's order: format and checksum (garbage never
 * reaches the database; oversized keys are refused before hashing) → SHA-256 → one lookup (a
 * previous secret past its grace period is as unknown) → the rest in decideForKey. Legacy keys
 * take the same path.
 */
export async function decide(presented: string | null, requirement: Requirement, store: KeyStore, context: DecisionContext = {}): Promise<Decision> {
  if (presented === null) return UNAUTHENTICATED;
  const parsed = parsePresentedKey(presented);
  if (!parsed.ok) return UNAUTHENTICATED;
  const endpointId = requirement.resource === "endpoint" ? requirement.endpointId : null;
  const key = await store.findKeyByHash(hashKey(parsed.key), endpointId);
  if (!key) return UNAUTHENTICATED;
  return decideForKey(key, requirement, store, context);
}

/**
 * The decision once the key is found: disabled → expired → client address → endpoint of the
 * key's own account → level (with elevations) → rate limit. Every time-bound rule is decided
 * against one reading of `now`, to the millisecond, so nothing has to run when an expiry, a grace
 * period or an elevation ends. Every decision about a known key is counted into its usage (SPEC
 * §10) — unless `dryRun` (Check access, which reads the key by id and enters here).
 */
export function decideForKey(key: StoredKey, requirement: Requirement, store: KeyStore, context: DecisionContext = {}): Decision {
  const at = (context.now ?? Date.now)();
  const graceOpen = key.previousValidUntil !== null && at < key.previousValidUntil;
  if (key.presentedPrevious && !graceOpen) return UNAUTHENTICATED;
  const dryRun = context.dryRun === true;
  const decision = judge(key, requirement, store, at, context.clientAddress ?? null, dryRun);
  if (dryRun) return decision;
  // An endpoint that is not the account's is counted as `unknown`, whatever id was asked for.
  const resource = requirement.resource === "graphql" ? GRAPHQL_RESOURCE : key.endpointName === null ? UNKNOWN_RESOURCE : requirement.endpointId;
  // judge() never answers UNAUTHENTICATED: every code it gives is a usage code.
  store.recordDecision(key.id, at, resource, context.via ?? "api", requirement.access, decision.code as UsageCode);
  if (decision.ok && graceOpen && key.graceEndsOnFirstUse && !key.presentedPrevious) store.endGraceOnFirstUse(key.id, at);
  return decision;
}

function judge(key: StoredKey, requirement: Requirement, store: KeyStore, at: number, clientAddress: string | null, dryRun: boolean): Decision {
  // From here on the key is known: every answer says where it stands against its limit.
  if (!key.enabled) return refuse(key, "KEY_DISABLED", store, at, dryRun);
  if (key.expiresAt !== null && at >= key.expiresAt) return refuse(key, "KEY_EXPIRED", store, at, dryRun);
  // A key with an allowlist and no known client address (the verify API without "ip") is refused.
  if (key.allowedAddresses !== null && !key.allowedAddresses(clientAddress)) return refuse(key, "IP_NOT_ALLOWED", store, at, dryRun);
  // Another account's endpoint, or none at all: the same answer, so ids cannot be probed.
  if (requirement.resource === "endpoint" && key.endpointName === null) return refuse(key, "NOT_FOUND", store, at, dryRun);
  const granted = grantedLevel(key, requirement, at);
  if (!levelAllows(granted, requirement.access)) {
    const denial: Decision = { ok: false, code: "INSUFFICIENT_SCOPE", keyId: key.id, required: requirement, granted, endpointName: key.endpointName };
    if (key.rateRule) denial.rateLimit = store.rateLimit(key.id, key.rateRule, at, dryRun ? "inspect" : "peek");
    return denial;
  }
  // Last, so that only requests that would otherwise be allowed use up the limit (SPEC §4).
  let rateLimit: RateState | undefined;
  if (key.rateRule) {
    rateLimit = store.rateLimit(key.id, key.rateRule, at, dryRun ? "inspect" : "take");
    if (!rateLimit.allowed) return { ok: false, code: "RATE_LIMITED", keyId: key.id, rateLimit };
  }
  return rateLimit ? { ok: true, code: "VALID", keyId: key.id, accountId: key.accountId, rateLimit } : { ok: true, code: "VALID", keyId: key.id, accountId: key.accountId };
}
