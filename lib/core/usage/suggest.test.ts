import { describe, expect, it } from "vitest";
import { resolveEndpointLevel, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { ACCESS_LEVELS, REQUIRED_LEVELS, levelAllows, type AccessLevel } from "@/lib/core/scopes/levels";
import { impactOfScopes } from "./impact";
import { describeRefusal, describeScopeSetting, suggestScopes, type ScopeChange, type ScopeSuggestion, type SuggestInput } from "./suggest";
import { USAGE_CODES, type UsageCode, type UsageTally, type UsageVia } from "./tally";

// Ids sort opposite to names, so a test catches ordering by the wrong one.
const ENDPOINTS = [
  { id: "ep_3", name: "alpha" },
  { id: "ep_2", name: "beta" },
  { id: "ep_1", name: "gamma" },
];
const ALPHA = "ep_3";
const BETA = "ep_2";
const GAMMA = "ep_1";

function scopes(graphql: AccessLevel, endpointsAll: AccessLevel, endpoints: Record<string, AccessLevel> = {}): KeyScopes {
  return { graphql, endpointsAll, endpoints };
}

function tally(resource: string, access: "read" | "read_write", code: UsageCode = "VALID", count = 1, via: UsageVia = "api"): UsageTally {
  return { resource, access, code, count, via };
}

function suggest(input: Partial<SuggestInput> & Pick<SuggestInput, "scopes" | "tallies">): ScopeSuggestion {
  return suggestScopes({ enabled: true, endpoints: ENDPOINTS, ...input });
}

const rw = "read_write" as const;

describe("suggestScopes: the narrowest scopes that allowed what was used", () => {
  it.each<{ rule: string; current: KeyScopes; tallies: UsageTally[]; after: KeyScopes }>([
    {
      rule: "GraphQL Read / Write never used, Read used → Read",
      current: scopes(rw, "none"),
      tallies: [tally("graphql", "read", "VALID", 40)],
      after: scopes("read", "none"),
    },
    {
      rule: "GraphQL Read / Write used → kept (never below what was used)",
      current: scopes(rw, "read", { [ALPHA]: "read" }),
      tallies: [tally("graphql", "read", "VALID", 40), tally("graphql", rw), tally(ALPHA, "read")],
      after: scopes(rw, "none", { [ALPHA]: "read" }),
    },
    {
      rule: "GraphQL unused → None",
      current: scopes(rw, "none", { [ALPHA]: "read" }),
      tallies: [tally(ALPHA, "read")],
      after: scopes("none", "none", { [ALPHA]: "read" }),
    },
    {
      rule: "an endpoint reached through All endpoints → pinned at the used level, All endpoints → None",
      current: scopes("none", rw),
      tallies: [tally(ALPHA, "read", "VALID", 7)],
      after: scopes("none", "none", { [ALPHA]: "read" }),
    },
    {
      rule: "an endpoint written through All endpoints → pinned Read / Write",
      current: scopes("none", rw),
      tallies: [tally(ALPHA, "read"), tally(ALPHA, rw)],
      after: scopes("none", "none", { [ALPHA]: rw }),
    },
    {
      rule: "never below what was used: an override used at Read / Write stays Read / Write",
      current: scopes("none", "read", { [BETA]: rw }),
      tallies: [tally(BETA, rw, "VALID", 2), tally(BETA, "read", "VALID", 50)],
      after: scopes("none", "none", { [BETA]: rw }),
    },
    {
      rule: "never above the grant: GraphQL Read / Write allowed only by an elevation stays Read",
      current: scopes("read", "read"),
      tallies: [tally("graphql", rw, "VALID", 3), tally(ALPHA, "read")],
      after: scopes("read", "none", { [ALPHA]: "read" }),
    },
    {
      rule: "never above the grant: GraphQL used only by an elevation on a None key → None",
      current: scopes("none", "read"),
      tallies: [tally("graphql", rw, "VALID", 3), tally(ALPHA, "read")],
      after: scopes("none", "none", { [ALPHA]: "read" }),
    },
    {
      rule: "never above the grant: an endpoint written through an elevation is pinned at its own Read",
      current: scopes("none", "read"),
      tallies: [tally(ALPHA, rw, "VALID", 3)],
      after: scopes("none", "none", { [ALPHA]: "read" }),
    },
    {
      rule: "an endpoint used only through an elevation (own level None) gets no override",
      current: scopes("read", "none", { [GAMMA]: "read" }),
      tallies: [tally("graphql", "read"), tally(BETA, rw)],
      after: scopes("read", "none"),
    },
    {
      rule: "an unused override is dropped (inherits None)",
      current: scopes("read", "none", { [ALPHA]: "read", [BETA]: rw }),
      tallies: [tally("graphql", "read"), tally(ALPHA, "read")],
      after: scopes("read", "none", { [ALPHA]: "read" }),
    },
    {
      rule: "a use through the verify API counts as a use of the resource",
      current: scopes("none", rw),
      tallies: [tally(GAMMA, rw, "VALID", 1, "verify")],
      after: scopes("none", "none", { [GAMMA]: rw }),
    },
    {
      rule: "RATE_LIMITED passed the scope check: counts as a use",
      current: scopes(rw, rw),
      tallies: [tally("graphql", rw, "RATE_LIMITED"), tally(BETA, "read", "RATE_LIMITED", 1, "verify")],
      after: scopes(rw, "none", { [BETA]: "read" }),
    },
    {
      rule: "denials other than RATE_LIMITED are not uses",
      current: scopes(rw, rw),
      tallies: [
        tally("graphql", "read"),
        ...(["KEY_DISABLED", "KEY_EXPIRED", "IP_NOT_ALLOWED", "NOT_FOUND", "INSUFFICIENT_SCOPE"] as const).flatMap((code) => [tally("graphql", rw, code, 9), tally(ALPHA, rw, code, 9)]),
      ],
      after: scopes("read", "none"),
    },
    {
      rule: "deleted and unknown endpoints are ignored",
      current: scopes("read", rw),
      tallies: [tally("graphql", "read"), tally("ep_deleted", rw, "VALID", 500), tally("unknown", "read", "VALID", 9)],
      after: scopes("read", "none"),
    },
    {
      rule: "rows for the same resource are combined: the highest level used wins, whichever API",
      current: scopes("none", rw),
      tallies: [tally(ALPHA, "read", "VALID", 10), tally(ALPHA, rw, "VALID", 1, "verify"), tally(ALPHA, "read", "VALID", 5, "verify")],
      after: scopes("none", "none", { [ALPHA]: rw }),
    },
    {
      rule: "rows with a zero count are not uses",
      current: scopes(rw, rw),
      tallies: [tally("graphql", "read"), tally("graphql", rw, "VALID", 0), tally(ALPHA, "read", "VALID", 0)],
      after: scopes("read", "none"),
    },
    {
      rule: "an existing None pin on an unused endpoint is kept (as narrow, and no change for nothing)",
      current: scopes("read", rw, { [GAMMA]: "none" }),
      tallies: [tally("graphql", "read")],
      after: scopes("read", "none", { [GAMMA]: "none" }),
    },
  ])("$rule", ({ current, tallies, after }) => {
    const suggestion = suggest({ scopes: current, tallies });
    expect(suggestion.kind).toBe("narrow");
    expect(suggestion.kind === "narrow" && suggestion.after).toEqual(after);
  });

  it.each<{ rule: string; enabled: boolean; current: KeyScopes; tallies: UsageTally[]; newerThanWindow?: boolean; kind: ScopeSuggestion["kind"] }>([
    { rule: "an enabled key with no usage at all → disable", enabled: true, current: scopes(rw, rw), tallies: [], kind: "disable" },
    { rule: "an enabled key with no scopes and no usage → disable", enabled: true, current: scopes("none", "none"), tallies: [], kind: "disable" },
    {
      rule: "an enabled key whose every request was refused → disable",
      enabled: true,
      current: scopes("read", "none"),
      tallies: USAGE_CODES.filter((code) => code !== "VALID" && code !== "RATE_LIMITED").map((code) => tally("graphql", rw, code, 3)),
      kind: "disable",
    },
    { rule: "a disabled unused key never gets disable: narrowed instead", enabled: false, current: scopes(rw, rw), tallies: [], kind: "narrow" },
    { rule: "a key younger than the window and unused → new, not disable", enabled: true, current: scopes(rw, rw), tallies: [], newerThanWindow: true, kind: "new" },
    {
      rule: "a key younger than the window, refused only → new, not disable",
      enabled: true,
      current: scopes("read", "none"),
      tallies: [tally("graphql", rw, "INSUFFICIENT_SCOPE", 3)],
      newerThanWindow: true,
      kind: "new",
    },
    { rule: "a key younger than the window that was used is judged on its use", enabled: true, current: scopes(rw, "none"), tallies: [tally("graphql", "read")], newerThanWindow: true, kind: "narrow" },
    { rule: "a disabled unused key with no scopes → keep", enabled: false, current: scopes("none", "none"), tallies: [], kind: "keep" },
    { rule: "a key used only on a deleted endpoint is used: not disable", enabled: true, current: scopes("none", rw), tallies: [tally("ep_deleted", "read")], kind: "narrow" },
    { rule: "one rate-limited request is a use: not disable", enabled: true, current: scopes("read", "none"), tallies: [tally("graphql", "read", "RATE_LIMITED")], kind: "keep" },
    {
      rule: "already the narrowest → keep",
      enabled: true,
      current: scopes("read", "none", { [ALPHA]: "read", [BETA]: rw }),
      tallies: [tally("graphql", "read"), tally(ALPHA, "read"), tally(BETA, rw, "VALID", 1, "verify")],
      kind: "keep",
    },
    {
      rule: "an override left behind by a deleted endpoint is no reason to narrow",
      enabled: true,
      current: scopes("read", "none", { ep_deleted: rw }),
      tallies: [tally("graphql", "read")],
      kind: "keep",
    },
  ])("$rule", ({ enabled, current, tallies, newerThanWindow, kind }) => {
    expect(suggest({ enabled, scopes: current, tallies, newerThanWindow }).kind).toBe(kind);
  });

  it("lists refusals for missing scope, summed per resource and level, most first, and never grants them", () => {
    const suggestion = suggest({
      scopes: scopes("read", "none", { [BETA]: "read" }),
      tallies: [
        tally("graphql", "read"),
        tally(BETA, "read"),
        tally(BETA, rw, "INSUFFICIENT_SCOPE", 100),
        tally(BETA, rw, "INSUFFICIENT_SCOPE", 20, "verify"),
        tally("graphql", rw, "INSUFFICIENT_SCOPE", 7),
        tally(ALPHA, "read", "INSUFFICIENT_SCOPE", 7),
        tally(ALPHA, rw, "INSUFFICIENT_SCOPE", 7),
        tally(GAMMA, "read", "IP_NOT_ALLOWED", 1000),
        tally("ep_deleted", rw, "INSUFFICIENT_SCOPE", 999),
        tally("unknown", rw, "INSUFFICIENT_SCOPE", 999),
      ],
    });
    expect(suggestion).toEqual({ kind: "keep", refusals: [
      { resource: BETA, endpointName: "beta", needs: rw, count: 120 },
      { resource: "graphql", endpointName: null, needs: rw, count: 7 },
      { resource: ALPHA, endpointName: "alpha", needs: "read", count: 7 },
      { resource: ALPHA, endpointName: "alpha", needs: rw, count: 7 },
    ] });
  });

  it("a key refused every time for missing scope → disable, with the refusals listed", () => {
    expect(suggest({ scopes: scopes("read", "none"), tallies: [tally("graphql", rw, "INSUFFICIENT_SCOPE", 4), tally(ALPHA, "read", "INSUFFICIENT_SCOPE", 2, "verify")] })).toEqual({
      kind: "disable",
      refusals: [
        { resource: "graphql", endpointName: null, needs: rw, count: 4 },
        { resource: ALPHA, endpointName: "alpha", needs: "read", count: 2 },
      ],
    });
  });

  it("lists the changed lines before → after: GraphQL, All endpoints, then endpoints by name", () => {
    const suggestion = suggest({
      scopes: scopes(rw, rw, { [GAMMA]: rw, [BETA]: "read", [ALPHA]: "none" }),
      tallies: [tally("graphql", "read"), tally(GAMMA, "read"), tally(BETA, "read"), tally(ALPHA, rw)],
    });
    const changes: ScopeChange[] = [
      { scope: "graphql", endpointId: null, name: "GraphQL", before: { level: rw, inherited: false }, after: { level: "read", inherited: false } },
      { scope: "endpointsAll", endpointId: null, name: "All endpoints", before: { level: rw, inherited: false }, after: { level: "none", inherited: false } },
      // beta is unchanged (pinned Read before and after), alpha keeps its None pin (used only by an elevation).
      { scope: "endpoint", endpointId: GAMMA, name: "gamma", before: { level: rw, inherited: false }, after: { level: "read", inherited: false } },
    ];
    expect(suggestion).toEqual({ kind: "narrow", after: scopes("read", "none", { [ALPHA]: "none", [BETA]: "read", [GAMMA]: "read" }), changes, refusals: [] });
  });

  it("shows an endpoint that goes from inheriting to pinned, and from pinned to inheriting", () => {
    const suggestion = suggest({ scopes: scopes("none", rw, { [BETA]: "read" }), tallies: [tally(GAMMA, "read")] });
    expect(suggestion.kind === "narrow" && suggestion.changes).toEqual([
      { scope: "endpointsAll", endpointId: null, name: "All endpoints", before: { level: rw, inherited: false }, after: { level: "none", inherited: false } },
      { scope: "endpoint", endpointId: BETA, name: "beta", before: { level: "read", inherited: false }, after: { level: "none", inherited: true } },
      { scope: "endpoint", endpointId: GAMMA, name: "gamma", before: { level: rw, inherited: true }, after: { level: "read", inherited: false } },
    ]);
  });

  it("is deterministic: the order of tallies and endpoints does not matter, overrides are sorted", () => {
    const tallies = [tally(GAMMA, "read"), tally(ALPHA, rw), tally("graphql", "read"), tally(BETA, rw, "INSUFFICIENT_SCOPE", 2), tally(ALPHA, "read", "INSUFFICIENT_SCOPE", 2)];
    const current = scopes(rw, rw, { [BETA]: "read" });
    const first = suggest({ scopes: current, tallies });
    const second = suggest({ scopes: current, tallies: [...tallies].reverse(), endpoints: [...ENDPOINTS].reverse() });
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(first.kind === "narrow" && Object.keys(first.after.endpoints)).toEqual([GAMMA, ALPHA].sort());
  });

  it("does not change its input and gives a plain, serialisable object", () => {
    const current = scopes(rw, rw, { [BETA]: "read" });
    const tallies = [tally(ALPHA, "read"), tally(BETA, rw, "INSUFFICIENT_SCOPE")];
    const copy = structuredClone({ current, tallies });
    const suggestion = suggest({ scopes: current, tallies });
    expect({ current, tallies }).toEqual(copy);
    expect(JSON.parse(JSON.stringify(suggestion))).toEqual(suggestion);
  });

  it("keeps an endpoint id like __proto__ as an own override", () => {
    const suggestion = suggestScopes({ enabled: true, scopes: scopes("none", rw), endpoints: [{ id: "__proto__", name: "proto" }], tallies: [tally("__proto__", "read")] });
    expect(suggestion.kind === "narrow" && Object.hasOwn(suggestion.after.endpoints, "__proto__")).toBe(true);
    expect(suggestion.kind === "narrow" && resolveEndpointLevel(suggestion.after, "__proto__")).toBe("read");
  });

  // Every combination of grants and uses on GraphQL and one endpoint (own level and override).
  const overrideChoices = [undefined, ...ACCESS_LEVELS];
  const usedChoices = [null, ...REQUIRED_LEVELS];
  const combos = ACCESS_LEVELS.flatMap((graphql) =>
    ACCESS_LEVELS.flatMap((all) =>
      overrideChoices.flatMap((override) => usedChoices.flatMap((usedGraphql) => usedChoices.map((usedAlpha) => ({ graphql, all, override, usedGraphql, usedAlpha })))),
    ),
  );

  it.each(combos)("within the grant, never below use: %j", ({ graphql, all, override, usedGraphql, usedAlpha }) => {
    const current = scopes(graphql, all, override === undefined ? {} : { [ALPHA]: override });
    const tallies = [...(usedGraphql ? [tally("graphql", usedGraphql)] : []), ...(usedAlpha ? [tally(ALPHA, usedAlpha)] : [])];
    const suggestion = suggest({ scopes: current, tallies });
    if (tallies.length === 0) {
      expect(suggestion.kind).toBe("disable");
      return;
    }
    const after = suggestion.kind === "narrow" ? suggestion.after : current;
    const rank = (level: AccessLevel) => ACCESS_LEVELS.indexOf(level);
    for (const [resource, used, before, now] of [
      ["graphql", usedGraphql, current.graphql, after.graphql],
      [ALPHA, usedAlpha, resolveEndpointLevel(current, ALPHA), resolveEndpointLevel(after, ALPHA)],
    ] as const) {
      expect(rank(now), `${resource} above the grant`).toBeLessThanOrEqual(rank(before));
      if (used && levelAllows(before, used)) expect(levelAllows(now, used), `${resource} below what was used`).toBe(true);
      if (!used) expect(now, `${resource} unused`).toBe("none");
    }
    for (const other of [BETA, GAMMA]) expect(resolveEndpointLevel(after, other)).toBe("none");
    expect(after.endpointsAll).toBe("none");
    // Nothing the key's own scopes allowed would be refused after the change…
    expect(impactOfScopes({ scopes: after, current, endpoints: ENDPOINTS, tallies }).total).toBe(0);
    // …and applying the suggestion leaves nothing more to suggest.
    expect(suggest({ scopes: after, tallies }).kind).toBe("keep");
  });
});

describe("describeRefusal: SPEC §10's wording", () => {
  it.each([
    [{ resource: "ep_2", endpointName: "beta", needs: rw, count: 120 }, 'Refused 120 times: needs Read / Write on "beta"'],
    [{ resource: "graphql", endpointName: null, needs: "read", count: 1 }, "Refused 1 time: needs Read on GraphQL"],
    [{ resource: "ep_3", endpointName: "alpha", needs: "read", count: 1234567 }, 'Refused 1,234,567 times: needs Read on "alpha"'],
  ] as const)("%j → %s", (refusal, text) => {
    expect(describeRefusal(refusal)).toBe(text);
  });
});

describe("describeScopeSetting", () => {
  it.each([
    [{ level: rw, inherited: false }, "Read / Write"],
    [{ level: "read", inherited: false }, "Read"],
    [{ level: "none", inherited: true }, "None (inherits All endpoints)"],
  ] as const)("%j → %s", (setting, text) => {
    expect(describeScopeSetting(setting)).toBe(text);
  });
});
