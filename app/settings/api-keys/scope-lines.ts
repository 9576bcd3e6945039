import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import { LEVEL_LABELS } from "@/lib/core/scopes/levels";

// A key's scopes in words, for the list (one line under the key's name) and the key's page (a list).

type Endpoint = { id: string; name: string };

/** "GraphQL: Read", "All endpoints: None", then each override by endpoint name (its id once the endpoint is gone). */
export function scopeLines(scopes: KeyScopes, endpoints: readonly Endpoint[]): string[] {
  const names = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint.name]));
  const overrides = Object.entries(scopes.endpoints)
    .map(([id, level]) => ({ name: names.get(id) ?? id, level }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return [
    `GraphQL: ${LEVEL_LABELS[scopes.graphql]}`,
    `All endpoints: ${LEVEL_LABELS[scopes.endpointsAll]}`,
    ...overrides.map((override) => `${override.name}: ${LEVEL_LABELS[override.level]}`),
  ];
}

/** The same on one line: "GraphQL: Read · All endpoints: None · alpha: Read / Write". */
export function scopeSummary(scopes: KeyScopes, endpoints: readonly Endpoint[]): string {
  return scopeLines(scopes, endpoints).join(" \u00b7 ");
}
