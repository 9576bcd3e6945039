import "server-only";
import { endpointOverride, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { SUGGESTION_WINDOWS, suggestScopes, type ScopeSuggestion, type SuggestionWindow, type UsageEndpoint } from "@/lib/core/usage/suggest";
import { DAY_MS, dayOf, type UsageTally } from "@/lib/core/usage/tally";
import { getApiKey, type ApiKeyDto } from "@/lib/dal/api-keys";
import { listEndpoints } from "@/lib/dal/endpoints";
import { getUsageTallies } from "@/lib/dal/usage";

// SPEC §10 "Suggestions": the key's page shows one and `Apply suggestion` computes it again on the
// server; both go through here, so they read the same key fields, endpoints and window.

/** The window's id from a search param or form value; null for anything that is not one of the choices. */
export function parseSuggestionWindow(value: unknown): SuggestionWindow | null {
  return SUGGESTION_WINDOWS.find((window) => window.id === value)?.id ?? null;
}

export function suggestionWindowDays(window: SuggestionWindow): number {
  return SUGGESTION_WINDOWS.find((choice) => choice.id === window)!.days;
}

/** The suggestion for a key already loaded, from its tallies over the window (days by UTC day, today included, as getUsageTallies reads them). */
export function suggestionFor(
  key: ApiKeyDto,
  endpoints: readonly UsageEndpoint[],
  tallies: readonly UsageTally[],
  window: SuggestionWindow,
  now = Date.now(),
): ScopeSuggestion {
  const windowStart = dayOf(now) - (suggestionWindowDays(window) - 1) * DAY_MS;
  // The key's own scopes: the DTO never folds elevations into them.
  return suggestScopes({ enabled: key.enabled, scopes: key.scopes, endpoints, tallies, newerThanWindow: key.createdAt.getTime() > windowStart });
}

/** Loads the key, the account's endpoints and the window's usage, and suggests; null when the key is not the account's. */
export async function loadKeySuggestion(
  accountId: string,
  keyId: string,
  window: SuggestionWindow,
  now = Date.now(),
): Promise<{ key: ApiKeyDto; suggestion: ScopeSuggestion } | null> {
  const [key, endpoints, tallies] = await Promise.all([
    getApiKey(accountId, keyId, new Date(now)),
    listEndpoints(accountId),
    getUsageTallies(accountId, keyId, suggestionWindowDays(window), now),
  ]);
  if (!key) return null;
  return { key, suggestion: suggestionFor(key, endpoints.map(({ id, name }) => ({ id, name })), tallies, window, now) };
}

/** Whether two scopes grant the same, line by line (overrides compared as sets, whatever their order). */
export function sameScopes(a: KeyScopes, b: KeyScopes): boolean {
  if (a.graphql !== b.graphql || a.endpointsAll !== b.endpointsAll) return false;
  const ids = Object.keys(a.endpoints);
  return ids.length === Object.keys(b.endpoints).length && ids.every((id) => endpointOverride(b, id) === endpointOverride(a, id));
}
