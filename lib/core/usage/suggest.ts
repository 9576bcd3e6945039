// Least privilege from observed use (SPEC §10 "Suggestions"): the narrowest scopes that would have
// allowed every request the key made in a window. A suggestion only ever takes levels away: a
// level the key used only through a time-boxed elevation is not granted, and a refusal for
// missing scope is listed for a person to judge, never granted.
import { endpointOverride, resolveEndpointLevel, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { ACCESS_LEVELS, LEVEL_LABELS, isAccessLevel, isRequiredLevel, type AccessLevel, type RequiredLevel } from "@/lib/core/scopes/levels";
import { GRAPHQL_RESOURCE, passedScope, type UsageTally } from "@/lib/core/usage/tally";

/** The windows `Based on` offers, in days; 30 days is the default. */
export const SUGGESTION_WINDOWS = [
  { id: "7d", label: "7 days", days: 7 },
  { id: "30d", label: "30 days", days: 30 },
  { id: "90d", label: "90 days", days: 90 },
] as const;
export type SuggestionWindow = (typeof SUGGESTION_WINDOWS)[number]["id"];
export const SUGGESTION_WINDOW_IDS = SUGGESTION_WINDOWS.map((window) => window.id) as [SuggestionWindow, ...SuggestionWindow[]];
export const DEFAULT_SUGGESTION_WINDOW: SuggestionWindow = "30d";

/** An endpoint of the key's account as it is now (deleted ones are simply absent). */
export type UsageEndpoint = { id: string; name: string };

/**
 * What one scope line is set to. `inherited` is true for an endpoint without an override (it
 * follows `All endpoints`); `level` is then the level it gets from there. Always false for the
 * GraphQL and All endpoints lines.
 */
export type ScopeSetting = { level: AccessLevel; inherited: boolean };

/** One scope line the suggestion changes, for the before → after display. */
export type ScopeChange = {
  scope: "graphql" | "endpointsAll" | "endpoint";
  /** The endpoint's id on an `endpoint` line, else null. */
  endpointId: string | null;
  /** `GraphQL`, `All endpoints`, or the endpoint's name. */
  name: string;
  before: ScopeSetting;
  after: ScopeSetting;
};

/** Requests refused for missing scope, per resource and the level they needed. */
export type ScopeRefusal = {
  /** `graphql` or an endpoint id. */
  resource: string;
  /** The endpoint's name, or null for GraphQL. */
  endpointName: string | null;
  needs: RequiredLevel;
  count: number;
};

export type ScopeSuggestion =
  /** Enabled, existed for the whole window, and no request in it passed the scope check. */
  | { kind: "disable"; refusals: ScopeRefusal[] }
  /** Created within the window and not used yet: too new to judge (neither Disable nor None everywhere). */
  | { kind: "new"; refusals: ScopeRefusal[] }
  /** The current scopes are already the narrowest. */
  | { kind: "keep"; refusals: ScopeRefusal[] }
  /** Apply `after` (a whole KeyScopes, fit for the normal scope change); `changes` lists what differs. */
  | { kind: "narrow"; after: KeyScopes; changes: ScopeChange[]; refusals: ScopeRefusal[] };

export type SuggestInput = {
  enabled: boolean;
  /** The key's own scopes (never an elevation). */
  scopes: KeyScopes;
  endpoints: readonly UsageEndpoint[];
  /** The key's usage over the window, summed; rows may repeat a resource, access and code. */
  tallies: readonly UsageTally[];
  /** The key was created after the window's start: its silence so far says little. */
  newerThanWindow?: boolean;
};

const RANK: ReadonlyMap<string, number> = new Map(ACCESS_LEVELS.map((level, rank) => [level, rank]));

function lowerLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  return (RANK.get(a) ?? 0) <= (RANK.get(b) ?? 0) ? a : b;
}

function counts(tally: UsageTally): boolean {
  return Number.isFinite(tally.count) && tally.count > 0 && isRequiredLevel(tally.access);
}

/** Names sorted the same way on the server and in the browser (a fixed locale), ties by id. */
export function compareByName(a: { name: string; id: string }, b: { name: string; id: string }): number {
  return a.name.localeCompare(b.name, "en") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The highest level used per resource: what passed the scope check, through either API. */
function usedLevels(tallies: readonly UsageTally[]): Map<string, AccessLevel> {
  const used = new Map<string, AccessLevel>();
  for (const tally of tallies) {
    if (!counts(tally) || !passedScope(tally.code)) continue;
    const before = used.get(tally.resource) ?? "none";
    used.set(tally.resource, (RANK.get(tally.access) ?? 0) > (RANK.get(before) ?? 0) ? tally.access : before);
  }
  return used;
}

function refusalsOf(tallies: readonly UsageTally[], names: ReadonlyMap<string, string>): ScopeRefusal[] {
  const byLine = new Map<string, ScopeRefusal>();
  for (const tally of tallies) {
    if (!counts(tally) || tally.code !== "INSUFFICIENT_SCOPE") continue;
    const isGraphql = tally.resource === GRAPHQL_RESOURCE;
    const endpointName = names.get(tally.resource);
    // A deleted (or unknown) endpoint cannot be granted anything: nothing to act on.
    if (!isGraphql && endpointName === undefined) continue;
    const line = `${tally.access}\u0000${tally.resource}`;
    const refusal = byLine.get(line);
    if (refusal) refusal.count += tally.count;
    else byLine.set(line, { resource: tally.resource, endpointName: isGraphql ? null : endpointName!, needs: tally.access, count: tally.count });
  }
  return [...byLine.values()].sort(
    (a, b) =>
      b.count - a.count ||
      (a.endpointName === null ? -1 : 0) - (b.endpointName === null ? -1 : 0) ||
      compareByName({ name: a.endpointName ?? "", id: a.resource }, { name: b.endpointName ?? "", id: b.resource }) ||
      (RANK.get(a.needs) ?? 0) - (RANK.get(b.needs) ?? 0),
  );
}

function sameSetting(a: ScopeSetting, b: ScopeSetting): boolean {
  return a.level === b.level && a.inherited === b.inherited;
}

/** The narrowest scopes that would have allowed every request that passed the scope check in the window. */
export function suggestScopes(input: SuggestInput): ScopeSuggestion {
  const { scopes } = input;
  const endpoints = [...input.endpoints].sort(compareByName);
  const names = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint.name]));
  const refusals = refusalsOf(input.tallies, names);
  const used = usedLevels(input.tallies);

  // Any use at all keeps the key alive, even of an endpoint deleted since. A key younger than the
  // window and not used yet is not judged: it may be waiting for its first deployment.
  if (used.size === 0 && input.newerThanWindow) return { kind: "new", refusals };
  if (input.enabled && used.size === 0) return { kind: "disable", refusals };

  const currentGraphql = isAccessLevel(scopes.graphql) ? scopes.graphql : "none";
  const currentAll = isAccessLevel(scopes.endpointsAll) ? scopes.endpointsAll : "none";

  // Capped at the key's own level: a request allowed only through an elevation grants nothing.
  const graphql = lowerLevel(used.get(GRAPHQL_RESOURCE) ?? "none", currentGraphql);
  const overrides: [string, AccessLevel][] = [];
  for (const endpoint of endpoints) {
    const current = resolveEndpointLevel(scopes, endpoint.id);
    const pinned = lowerLevel(used.get(endpoint.id) ?? "none", current);
    // Used: pinned at what was used (within the grant). An existing `None` pin is kept: it is as
    // narrow as inheriting `None`, and dropping it would suggest a change that changes nothing.
    if (pinned !== "none" || endpointOverride(scopes, endpoint.id) === "none") overrides.push([endpoint.id, pinned]);
  }
  overrides.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // fromEntries: an id like "__proto__" becomes an own key, not the prototype.
  const after: KeyScopes = { graphql, endpointsAll: "none", endpoints: Object.fromEntries(overrides) as Record<string, AccessLevel> };

  const changes: ScopeChange[] = [];
  const line = (scope: ScopeChange["scope"], endpointId: string | null, name: string, before: ScopeSetting, next: ScopeSetting) => {
    if (!sameSetting(before, next)) changes.push({ scope, endpointId, name, before, after: next });
  };
  line("graphql", null, "GraphQL", { level: currentGraphql, inherited: false }, { level: graphql, inherited: false });
  line("endpointsAll", null, "All endpoints", { level: currentAll, inherited: false }, { level: "none", inherited: false });
  for (const endpoint of endpoints) {
    const beforeInherited = endpointOverride(scopes, endpoint.id) === undefined;
    const afterInherited = endpointOverride(after, endpoint.id) === undefined;
    // An endpoint that inherits before and after changes only with the All endpoints line.
    if (beforeInherited && afterInherited) continue;
    line(
      "endpoint",
      endpoint.id,
      endpoint.name,
      { level: resolveEndpointLevel(scopes, endpoint.id), inherited: beforeInherited },
      { level: resolveEndpointLevel(after, endpoint.id), inherited: afterInherited },
    );
  }

  // Overrides of endpoints no longer listed are left out of `after` but are no reason to suggest a change.
  return changes.length === 0 ? { kind: "keep", refusals } : { kind: "narrow", after, changes, refusals };
}

function times(count: number): string {
  return count === 1 ? "1 time" : `${count.toLocaleString("en-US")} times`;
}

/** SPEC §10's wording: `Refused 120 times: needs Read / Write on "beta"`, or `… on GraphQL`. */
export function describeRefusal(refusal: ScopeRefusal): string {
  const place = refusal.endpointName === null ? "GraphQL" : `"${refusal.endpointName}"`;
  return `Refused ${times(refusal.count)}: needs ${LEVEL_LABELS[refusal.needs]} on ${place}`;
}

/** `Read / Write`, or `None (inherits All endpoints)` for an endpoint without an override. */
export function describeScopeSetting(setting: ScopeSetting): string {
  const label = LEVEL_LABELS[setting.level] ?? LEVEL_LABELS.none;
  return setting.inherited ? `${label} (inherits All endpoints)` : label;
}
