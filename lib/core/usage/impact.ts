// The impact preview (SPEC §10): before a scope change is saved, how many of the key's recent
// requests the new scopes would have refused, by resource. Runs in the browser on every radio
// change, so it is one pass over tallies that are already summed.
import { resolveEndpointLevel, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { isAccessLevel, isRequiredLevel, levelAllows, type AccessLevel } from "@/lib/core/scopes/levels";
import { compareByName, type UsageEndpoint } from "@/lib/core/usage/suggest";
import { GRAPHQL_RESOURCE, type UsageTally } from "@/lib/core/usage/tally";

/** The preview looks back this many days. */
export const IMPACT_WINDOW_DAYS = 7;

export type ImpactInput = {
  /** The proposed scopes. */
  scopes: KeyScopes;
  endpoints: readonly UsageEndpoint[];
  /** The key's usage over the last IMPACT_WINDOW_DAYS days, summed. */
  tallies: readonly UsageTally[];
  /**
   * The key's scopes now, when given: only requests these allow are counted, so the preview shows
   * what the edit itself would break (not requests that passed only through an elevation).
   */
  current?: KeyScopes;
};

export type ResourceImpact = {
  /** `graphql` or an endpoint id. */
  resource: string;
  /** `GraphQL` or the endpoint's name. */
  name: string;
  refused: number;
};

export type ScopeImpact = { total: number; byResource: ResourceImpact[] };

function levelFor(scopes: KeyScopes, resource: string): AccessLevel {
  if (resource !== GRAPHQL_RESOURCE) return resolveEndpointLevel(scopes, resource);
  return isAccessLevel(scopes.graphql) ? scopes.graphql : "none";
}

/** Requests that were allowed (VALID) and that `scopes` would have refused, by resource, most first. */
export function impactOfScopes(input: ImpactInput): ScopeImpact {
  const names = new Map(input.endpoints.map((endpoint) => [endpoint.id, endpoint.name]));
  const refused = new Map<string, number>();
  let total = 0;
  for (const tally of input.tallies) {
    // Only allowed requests: the rest were refused anyway, whatever the scopes.
    if (tally.code !== "VALID" || !(tally.count > 0) || !Number.isFinite(tally.count) || !isRequiredLevel(tally.access)) continue;
    // `unknown` and deleted endpoints: nothing a scope change can affect.
    if (tally.resource !== GRAPHQL_RESOURCE && !names.has(tally.resource)) continue;
    if (levelAllows(levelFor(input.scopes, tally.resource), tally.access)) continue;
    if (input.current && !levelAllows(levelFor(input.current, tally.resource), tally.access)) continue;
    refused.set(tally.resource, (refused.get(tally.resource) ?? 0) + tally.count);
    total += tally.count;
  }
  const byResource = [...refused].map(([resource, count]) => ({
    resource,
    name: resource === GRAPHQL_RESOURCE ? "GraphQL" : names.get(resource)!,
    refused: count,
  }));
  byResource.sort((a, b) => b.refused - a.refused || compareByName({ name: a.name, id: a.resource }, { name: b.name, id: b.resource }));
  return { total, byResource };
}
