// A key's scopes and the effective level they grant per endpoint.

import { ACCESS_LEVELS, isAccessLevel, type AccessLevel, type LegacyPermission } from "./levels";

export type KeyScopes = {
  graphql: AccessLevel;
  endpointsAll: AccessLevel;
  /** Per-endpoint overrides keyed by endpoint id; "none" is a valid override (overrides down). */
  endpoints: Record<string, AccessLevel>;
};

export type NormalizedScopes = { ok: true; scopes: KeyScopes } | { ok: false; reason: string };

const TOP_LEVEL_FIELDS: ReadonlySet<string> = new Set(["graphql", "endpointsAll", "endpoints"]);
const LEVEL_LIST = ACCESS_LEVELS.join(", ");

/** Scopes of a new key: no access anywhere. Fresh object each call so callers can't share mutations. */
export function createEmptyScopes(): KeyScopes {
  return { graphql: "none", endpointsAll: "none", endpoints: {} };
}

/**
 * The one rule for an endpoint's effective level (SPEC §3): its override if it has one, else
 * `endpoints.all`. The verifier (from the stored key's two columns) and the scope grid (the grey
 * "Inherits All endpoints" row) both go through here. Invalid stored values fail closed to "none".
 */
export function effectiveEndpointLevel(endpointsAll: AccessLevel, override: AccessLevel | null | undefined): AccessLevel {
  if (override !== null && override !== undefined) return isAccessLevel(override) ? override : "none";
  return isAccessLevel(endpointsAll) ? endpointsAll : "none";
}

/**
 * The key's own override for one endpoint, or undefined when the endpoint inherits `endpointsAll`.
 * Object.hasOwn keeps ids like "__proto__" or "toString" from reading prototype members.
 */
export function endpointOverride(scopes: KeyScopes, endpointId: string): AccessLevel | undefined {
  return Object.hasOwn(scopes.endpoints, endpointId) ? scopes.endpoints[endpointId] : undefined;
}

/** Effective level for one endpoint of a key's scopes. */
export function resolveEndpointLevel(scopes: KeyScopes, endpointId: string): AccessLevel {
  return effectiveEndpointLevel(scopes.endpointsAll, endpointOverride(scopes, endpointId));
}

/** Legacy keys carried one permission that applied to GraphQL and every endpoint alike. */
export function scopesForLegacyPermission(permission: LegacyPermission): KeyScopes {
  return { graphql: permission, endpointsAll: permission, endpoints: {} };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Validates untrusted scopes (e.g. a request body) into a fresh KeyScopes.
 * Strict: unknown top-level fields, non-level values and endpoint ids outside
 * `knownEndpointIds` are rejected. Reasons never echo input. Overrides equal to
 * `endpointsAll` are kept: they pin the endpoint if `all` changes later.
 */
export function normalizeScopes(
  input: unknown,
  knownEndpointIds: ReadonlySet<string>,
): NormalizedScopes {
  if (!isPlainObject(input)) return { ok: false, reason: "scopes must be an object" };

  const extraFields = Object.keys(input).filter((field) => !TOP_LEVEL_FIELDS.has(field));
  if (extraFields.length > 0) {
    return { ok: false, reason: `scopes has ${extraFields.length} unexpected field(s)` };
  }

  const graphql = Object.hasOwn(input, "graphql") ? input.graphql : undefined;
  if (!isAccessLevel(graphql)) {
    return { ok: false, reason: `graphql must be one of: ${LEVEL_LIST}` };
  }
  const endpointsAll = Object.hasOwn(input, "endpointsAll") ? input.endpointsAll : undefined;
  if (!isAccessLevel(endpointsAll)) {
    return { ok: false, reason: `endpointsAll must be one of: ${LEVEL_LIST}` };
  }
  const rawEndpoints = Object.hasOwn(input, "endpoints") ? input.endpoints : undefined;
  if (!isPlainObject(rawEndpoints)) {
    return { ok: false, reason: "endpoints must be an object of endpoint id to level" };
  }

  const entries = Object.entries(rawEndpoints);
  const unknownIds = entries.filter(([id]) => !knownEndpointIds.has(id)).length;
  if (unknownIds > 0) {
    return { ok: false, reason: `${unknownIds} unknown endpoint id(s)` };
  }
  const badLevels = entries.filter(([, level]) => !isAccessLevel(level)).length;
  if (badLevels > 0) {
    return { ok: false, reason: `${badLevels} endpoint override(s) not one of: ${LEVEL_LIST}` };
  }

  // fromEntries defines own data properties, so an id of "__proto__" is
  // stored as a key instead of replacing the prototype (as `obj[id] = …` would).
  const endpoints = Object.fromEntries(entries) as Record<string, AccessLevel>;
  return { ok: true, scopes: { graphql, endpointsAll, endpoints } };
}
