import { describe, expect, it } from "vitest";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import { scopeLines, scopeSummary } from "./scope-lines";

const ENDPOINTS = [
  { id: "ep_b", name: "beta" },
  { id: "ep_a", name: "alpha" },
];

describe("scopeLines", () => {
  const cases: { name: string; scopes: KeyScopes; lines: string[] }[] = [
    { name: "no overrides", scopes: { graphql: "none", endpointsAll: "none", endpoints: {} }, lines: ["GraphQL: None", "All endpoints: None"] },
    {
      name: "overrides by name, sorted",
      scopes: { graphql: "read", endpointsAll: "none", endpoints: { ep_b: "read", ep_a: "read_write" } },
      lines: ["GraphQL: Read", "All endpoints: None", "alpha: Read / Write", "beta: Read"],
    },
    {
      name: "an override down to None",
      scopes: { graphql: "read_write", endpointsAll: "read_write", endpoints: { ep_a: "none" } },
      lines: ["GraphQL: Read / Write", "All endpoints: Read / Write", "alpha: None"],
    },
    {
      name: "a deleted endpoint's override by its id",
      scopes: { graphql: "none", endpointsAll: "read", endpoints: { ep_gone: "read" } },
      lines: ["GraphQL: None", "All endpoints: Read", "ep_gone: Read"],
    },
  ];
  for (const { name, scopes, lines } of cases) {
    it(name, () => {
      expect(scopeLines(scopes, ENDPOINTS)).toEqual(lines);
    });
  }

  it("joins them with middle dots for the list", () => {
    expect(scopeSummary({ graphql: "read", endpointsAll: "none", endpoints: { ep_a: "read_write" } }, ENDPOINTS)).toBe(
      "GraphQL: Read \u00b7 All endpoints: None \u00b7 alpha: Read / Write",
    );
  });
});
