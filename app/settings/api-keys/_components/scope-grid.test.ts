import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import { ACCESS_LEVELS, LEVEL_LABELS, REQUIRED_LEVELS, levelAllows, type AccessLevel } from "@/lib/core/scopes/levels";
import { decide, type KeyStore } from "@/lib/core/verify/verifier";
import { ScopeGrid } from "./scope-grid";

// The grid shows an endpoint's effective level, and the verifier decides with it: both go through
// effectiveEndpointLevel, and this proves they agree for every (All endpoints, override) pair.

const ENDPOINT = { id: "ep_alpha", name: "alpha" };
const RANDOM = "abcdefghijABCDEFGHIJ0123456789";
const KEY = `rpa_${RANDOM}${computeKeyChecksum(RANDOM)}`;

function render(scopes: KeyScopes): string {
  return renderToStaticMarkup(createElement(ScopeGrid, { endpoints: [ENDPOINT], value: scopes }));
}

/** What one row shows: the checked radio, whether it says it inherits, and whether its dot is grey. */
function rowState(markup: string, label: string): { level: string; inherits: boolean; grey: boolean } {
  const title = markup.indexOf(`title="${label}"`);
  const group = markup.indexOf(`role="radiogroup"`, title);
  const rowEnd = markup.indexOf(`role="radiogroup"`, group + 1);
  const row = markup.slice(group, rowEnd === -1 ? undefined : rowEnd);
  const checked = /role="radio" aria-checked="true"[^>]* value="([a-z_]+)"[^>]*><span[^>]*class="([^"]*)"/.exec(row);
  expect(title).toBeGreaterThanOrEqual(0);
  expect(checked).not.toBeNull();
  return {
    level: checked![1]!,
    inherits: markup.slice(title, group).includes("Inherits All endpoints"),
    grey: checked![2]!.includes("bg-zinc-400"),
  };
}

async function decideFor(all: AccessLevel, override: AccessLevel | undefined, access: (typeof REQUIRED_LEVELS)[number]) {
  const store: KeyStore = {
    findKeyByHash: () => ({
      id: "key_1",
      accountId: "acct_1",
      enabled: true,
      graphqlLevel: "none",
      endpointsAllLevel: all,
      endpointOverride: override ?? null,
      endpointName: ENDPOINT.name,
      expiresAt: null,
      presentedPrevious: false,
      previousValidUntil: null,
      graceEndsOnFirstUse: false,
      elevations: [],
      allowedAddresses: null,
      rateRule: null,
    }),
    recordDecision: () => {},
    endGraceOnFirstUse: () => {},
    rateLimit: () => {
      throw new Error("no rate limit here");
    },
  };
  return decide(KEY, { resource: "endpoint", endpointId: ENDPOINT.id, access }, store);
}

const pairs = ACCESS_LEVELS.flatMap((all) => [undefined, ...ACCESS_LEVELS].map((override) => [all, override] as const));

describe("scope grid and verifier: one effective level", () => {
  it("covers every (all, override) pair", () => {
    expect(pairs).toHaveLength(ACCESS_LEVELS.length * (ACCESS_LEVELS.length + 1));
  });

  it.each(pairs)("all %s, override %s", async (all, override) => {
    const scopes: KeyScopes = { graphql: "none", endpointsAll: all, endpoints: override === undefined ? {} : { [ENDPOINT.id]: override } };
    const shown = rowState(render(scopes), ENDPOINT.name);

    // SPEC §3: endpoints.<E> if set, else endpoints.all; the grid greys out what it inherits.
    expect(shown).toEqual({ level: override ?? all, inherits: override === undefined, grey: override === undefined });
    for (const access of REQUIRED_LEVELS) {
      const decision = await decideFor(all, override, access);
      expect(decision.ok ? "VALID" : decision.code).toBe(levelAllows(shown.level as AccessLevel, access) ? "VALID" : "INSUFFICIENT_SCOPE");
    }
  });
});

describe("scope grid labels come from the level table", () => {
  const markup = render({ graphql: "read", endpointsAll: "none", endpoints: {} });

  it("its column headings are the table's labels, in order", () => {
    const headings = [...markup.matchAll(/<div class="text-center">([^<]*)<\/div>/g)].map((match) => match[1]);
    expect(headings).toEqual(ACCESS_LEVELS.map((level) => LEVEL_LABELS[level]));
    expect(headings).toEqual(["None", "Read", "Read / Write"]);
  });

  it("each row's radios are named by the table's labels and carry its ids", () => {
    const graphqlRow = markup.slice(markup.indexOf('aria-label="GraphQL"'), markup.indexOf('aria-label="All endpoints"'));
    const radios = [...graphqlRow.matchAll(/role="radio"[^>]* value="([a-z_]+)" aria-label="([^"]+)"/g)].map((match) => [match[1], match[2]]);
    expect(radios).toEqual(ACCESS_LEVELS.map((level) => [level, LEVEL_LABELS[level]]));
    expect(rowState(markup, "GraphQL")).toMatchObject({ level: "read", grey: false });
  });
});
