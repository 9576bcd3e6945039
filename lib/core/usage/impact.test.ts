import { describe, expect, it } from "vitest";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { impactOfScopes, type ImpactInput, type ScopeImpact } from "./impact";
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
const rw = "read_write" as const;

function scopes(graphql: AccessLevel, endpointsAll: AccessLevel, endpoints: Record<string, AccessLevel> = {}): KeyScopes {
  return { graphql, endpointsAll, endpoints };
}

function tally(resource: string, access: "read" | "read_write", code: UsageCode = "VALID", count = 1, via: UsageVia = "api"): UsageTally {
  return { resource, access, code, count, via };
}

function impact(input: Partial<ImpactInput> & Pick<ImpactInput, "scopes" | "tallies">): ScopeImpact {
  return impactOfScopes({ endpoints: ENDPOINTS, ...input });
}

// A week of a key that reads GraphQL, reads alpha (some through the verify API), writes beta and
// was refused or rate-limited now and then.
const WEEK = [
  tally("graphql", "read", "VALID", 30),
  tally(ALPHA, "read", "VALID", 12),
  tally(ALPHA, "read", "VALID", 8, "verify"),
  tally(BETA, rw, "VALID", 5),
  tally(BETA, "read", "VALID", 5),
  tally(GAMMA, rw, "RATE_LIMITED", 40),
  tally(GAMMA, rw, "INSUFFICIENT_SCOPE", 40),
  tally("graphql", rw, "IP_NOT_ALLOWED", 40),
  tally("ep_deleted", "read", "VALID", 99),
  tally("unknown", "read", "VALID", 99),
];

describe("impactOfScopes: allowed requests the proposed scopes would have refused", () => {
  it.each<{ change: string; proposed: KeyScopes; expected: ScopeImpact }>([
    {
      change: "the scopes that allowed everything refuse nothing",
      proposed: scopes("read", "none", { [ALPHA]: "read", [BETA]: rw }),
      expected: { total: 0, byResource: [] },
    },
    {
      change: "nothing at all: every allowed request, by resource, most first",
      proposed: scopes("none", "none"),
      expected: {
        total: 60,
        byResource: [
          { resource: "graphql", name: "GraphQL", refused: 30 },
          { resource: ALPHA, name: "alpha", refused: 20 },
          { resource: BETA, name: "beta", refused: 10 },
        ],
      },
    },
    {
      change: "beta lowered to Read: only its writes",
      proposed: scopes("read", "none", { [ALPHA]: "read", [BETA]: "read" }),
      expected: { total: 5, byResource: [{ resource: BETA, name: "beta", refused: 5 }] },
    },
    {
      change: "alpha's override dropped, inheriting All endpoints None: its reads through both APIs",
      proposed: scopes("read", "none", { [BETA]: rw }),
      expected: { total: 20, byResource: [{ resource: ALPHA, name: "alpha", refused: 20 }] },
    },
    {
      change: "overrides dropped, All endpoints Read: beta's writes only",
      proposed: scopes("read", "read"),
      expected: { total: 5, byResource: [{ resource: BETA, name: "beta", refused: 5 }] },
    },
    {
      change: "an override None under All endpoints Read / Write",
      proposed: scopes("read", rw, { [ALPHA]: "none" }),
      expected: { total: 20, byResource: [{ resource: ALPHA, name: "alpha", refused: 20 }] },
    },
  ])("$change", ({ proposed, expected }) => {
    expect(impact({ scopes: proposed, tallies: WEEK })).toEqual(expected);
  });

  it("updates as the proposed scopes change, over the same tallies", () => {
    const totals = [scopes(rw, rw), scopes("read", rw), scopes("read", "read"), scopes("none", "read"), scopes("none", "none")].map(
      (proposed) => impact({ scopes: proposed, tallies: WEEK }).total,
    );
    expect(totals).toEqual([0, 0, 5, 35, 60]);
  });

  it.each(USAGE_CODES.filter((code) => code !== "VALID"))("ignores %s: those requests were not allowed", (code) => {
    expect(impact({ scopes: scopes("none", "none"), tallies: [tally("graphql", rw, code, 10), tally(ALPHA, "read", code, 10, "verify")] })).toEqual({ total: 0, byResource: [] });
  });

  it("ignores unknown and deleted endpoints, and rows with no count", () => {
    expect(
      impact({ scopes: scopes("none", "none"), tallies: [tally("unknown", rw, "VALID", 5), tally("ep_deleted", rw, "VALID", 5), tally(ALPHA, rw, "VALID", 0)] }),
    ).toEqual({ total: 0, byResource: [] });
  });

  it("sorts by refused, most first, then by name", () => {
    const result = impact({
      scopes: scopes("none", "none"),
      tallies: [tally(GAMMA, "read", "VALID", 3), tally(BETA, "read", "VALID", 3), tally("graphql", "read", "VALID", 1), tally(ALPHA, "read", "VALID", 9)],
    });
    expect(result.byResource.map((entry) => entry.name)).toEqual(["alpha", "beta", "gamma", "GraphQL"]);
    expect(result.total).toBe(16);
  });

  it("with the current scopes, counts only what the edit itself would break (not requests an elevation allowed)", () => {
    // GraphQL writes were allowed by an elevation; the key's own GraphQL level is Read.
    const tallies = [tally("graphql", rw, "VALID", 4), tally("graphql", "read", "VALID", 6), tally(ALPHA, "read", "VALID", 2)];
    const current = scopes("read", "read");
    expect(impact({ scopes: current, current, tallies })).toEqual({ total: 0, byResource: [] });
    expect(impact({ scopes: current, tallies })).toEqual({ total: 4, byResource: [{ resource: "graphql", name: "GraphQL", refused: 4 }] });
    expect(impact({ scopes: scopes("none", "read"), current, tallies })).toEqual({ total: 6, byResource: [{ resource: "graphql", name: "GraphQL", refused: 6 }] });
  });
});
