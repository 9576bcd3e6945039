import { describe, expect, it } from "vitest";
import {
  createEmptyScopes,
  effectiveEndpointLevel,
  endpointOverride,
  normalizeScopes,
  resolveEndpointLevel,
  scopesForLegacyPermission,
  type KeyScopes,
} from "./evaluate";
import { ACCESS_LEVELS, type AccessLevel } from "./levels";

const KNOWN_IDS: ReadonlySet<string> = new Set(["ep_orders", "ep_users", "__proto__", "constructor"]);

/** Builds overrides with own data properties only, so "__proto__" is a real key. */
function overrides(entries: [string, AccessLevel][]): Record<string, AccessLevel> {
  return Object.fromEntries(entries) as Record<string, AccessLevel>;
}

describe("createEmptyScopes", () => {
  it("grants nothing", () => {
    expect(createEmptyScopes()).toEqual({ graphql: "none", endpointsAll: "none", endpoints: {} });
  });

  it("returns a fresh object each call", () => {
    const first = createEmptyScopes();
    first.graphql = "read_write";
    first.endpoints["ep_orders"] = "read";
    expect(createEmptyScopes()).toEqual({ graphql: "none", endpointsAll: "none", endpoints: {} });
  });

  it("resolves every endpoint, including prototype names, to none", () => {
    const scopes = createEmptyScopes();
    for (const id of ["ep_orders", "__proto__", "constructor", "toString", "hasOwnProperty"]) {
      expect(resolveEndpointLevel(scopes, id)).toBe("none");
    }
  });
});

describe("effectiveEndpointLevel: the one rule", () => {
  const pairs = ACCESS_LEVELS.flatMap((all) => [null, undefined, ...ACCESS_LEVELS].map((override) => [all, override] as const));

  it.each(pairs)("all %s, override %s → the override if set, else all", (all, override) => {
    expect(effectiveEndpointLevel(all, override)).toBe(override ?? all);
  });

  it.each<[unknown, unknown]>([
    ["read_write", "admin"],
    ["read_write", ""],
    ["admin", null],
    ["admin", undefined],
    ["toString", null],
    ["read", "__proto__"],
  ])("fails closed to none on invalid values (all %j, override %j)", (all, override) => {
    expect(effectiveEndpointLevel(all as AccessLevel, override as AccessLevel)).toBe("none");
  });
});

describe("endpointOverride", () => {
  it("is the key's own override, or undefined when the endpoint inherits", () => {
    const scopes: KeyScopes = { graphql: "none", endpointsAll: "read", endpoints: overrides([["ep_orders", "none"], ["__proto__", "read"]]) };
    expect(endpointOverride(scopes, "ep_orders")).toBe("none");
    expect(endpointOverride(scopes, "__proto__")).toBe("read");
    expect(endpointOverride(scopes, "ep_users")).toBeUndefined();
    expect(endpointOverride(scopes, "toString")).toBeUndefined();
    expect(endpointOverride(scopes, "constructor")).toBeUndefined();
  });
});

describe("resolveEndpointLevel", () => {
  it.each<[string, AccessLevel, [string, AccessLevel] | null, string, AccessLevel]>([
    ["no override → all", "read", null, "ep_orders", "read"],
    ["no override, all none", "none", null, "ep_orders", "none"],
    ["no override, all read_write", "read_write", null, "ep_orders", "read_write"],
    ["override up none → read", "none", ["ep_orders", "read"], "ep_orders", "read"],
    ["override up none → read_write", "none", ["ep_orders", "read_write"], "ep_orders", "read_write"],
    ["override up read → read_write", "read", ["ep_orders", "read_write"], "ep_orders", "read_write"],
    ["override down read_write → none", "read_write", ["ep_orders", "none"], "ep_orders", "none"],
    ["override down read_write → read", "read_write", ["ep_orders", "read"], "ep_orders", "read"],
    ["override down read → none", "read", ["ep_orders", "none"], "ep_orders", "none"],
    ["override equal to all", "read", ["ep_orders", "read"], "ep_orders", "read"],
    ["override applies only to its endpoint", "read", ["ep_orders", "none"], "ep_users", "read"],
    ["'__proto__' without override → all", "read", null, "__proto__", "read"],
    ["'constructor' without override → all", "read", null, "constructor", "read"],
    ["'toString' without override → all", "none", null, "toString", "none"],
    ["'hasOwnProperty' without override → all", "none", null, "hasOwnProperty", "none"],
    ["'__proto__' override down", "read_write", ["__proto__", "none"], "__proto__", "none"],
    ["'__proto__' override up", "none", ["__proto__", "read"], "__proto__", "read"],
    ["'constructor' override down", "read_write", ["constructor", "read"], "constructor", "read"],
    ["'constructor' override up", "none", ["constructor", "read_write"], "constructor", "read_write"],
  ])("%s", (_label, all, override, endpointId, expected) => {
    const scopes: KeyScopes = {
      graphql: "none",
      endpointsAll: all,
      endpoints: overrides(override ? [override] : []),
    };
    expect(resolveEndpointLevel(scopes, endpointId)).toBe(expected);
  });

  it("ignores values inherited through the prototype", () => {
    const inherited = Object.create({ ep_orders: "read_write" }) as Record<string, AccessLevel>;
    const scopes: KeyScopes = { graphql: "none", endpointsAll: "none", endpoints: inherited };
    expect(resolveEndpointLevel(scopes, "ep_orders")).toBe("none");
  });

  it("fails closed to none on an invalid stored level", () => {
    const badOverride = {
      graphql: "none",
      endpointsAll: "read_write",
      endpoints: { ep_orders: "admin" },
    } as unknown as KeyScopes;
    expect(resolveEndpointLevel(badOverride, "ep_orders")).toBe("none");
    const badAll = { graphql: "none", endpointsAll: "admin", endpoints: {} } as unknown as KeyScopes;
    expect(resolveEndpointLevel(badAll, "ep_orders")).toBe("none");
  });
});

describe("scopesForLegacyPermission", () => {
  it.each<["read" | "read_write", KeyScopes]>([
    ["read", { graphql: "read", endpointsAll: "read", endpoints: {} }],
    ["read_write", { graphql: "read_write", endpointsAll: "read_write", endpoints: {} }],
  ])("%s", (permission, expected) => {
    const scopes = scopesForLegacyPermission(permission);
    expect(scopes).toEqual(expected);
    expect(resolveEndpointLevel(scopes, "ep_orders")).toBe(permission);
    expect(resolveEndpointLevel(scopes, "__proto__")).toBe(permission);
  });

  it("returns a fresh object each call", () => {
    const first = scopesForLegacyPermission("read");
    first.endpoints["ep_orders"] = "none";
    expect(scopesForLegacyPermission("read").endpoints).toEqual({});
  });
});

describe("normalizeScopes: accepts", () => {
  it.each<[string, unknown, KeyScopes]>([
    [
      "empty overrides",
      { graphql: "read", endpointsAll: "none", endpoints: {} },
      { graphql: "read", endpointsAll: "none", endpoints: {} },
    ],
    [
      "overrides up and down",
      { graphql: "none", endpointsAll: "read", endpoints: { ep_orders: "read_write", ep_users: "none" } },
      { graphql: "none", endpointsAll: "read", endpoints: { ep_orders: "read_write", ep_users: "none" } },
    ],
    [
      "override equal to all is kept",
      { graphql: "read_write", endpointsAll: "read", endpoints: { ep_orders: "read" } },
      { graphql: "read_write", endpointsAll: "read", endpoints: { ep_orders: "read" } },
    ],
  ])("%s", (_label, input, expected) => {
    expect(normalizeScopes(input, KNOWN_IDS)).toEqual({ ok: true, scopes: expected });
  });

  it("accepts a null-prototype input object", () => {
    const input = Object.assign(Object.create(null) as object, {
      graphql: "read",
      endpointsAll: "read",
      endpoints: Object.assign(Object.create(null) as object, { ep_users: "none" }),
    });
    const result = normalizeScopes(input, KNOWN_IDS);
    expect(result).toEqual({
      ok: true,
      scopes: { graphql: "read", endpointsAll: "read", endpoints: { ep_users: "none" } },
    });
  });

  it("copies overrides instead of aliasing the input", () => {
    const input = { graphql: "none", endpointsAll: "none", endpoints: { ep_orders: "read" } };
    const result = normalizeScopes(input, KNOWN_IDS);
    input.endpoints.ep_orders = "read_write";
    expect(result.ok && result.scopes.endpoints).toEqual({ ep_orders: "read" });
  });

  it("stores a '__proto__' override as a key without touching the prototype", () => {
    const input: unknown = JSON.parse(
      '{"graphql":"none","endpointsAll":"read_write","endpoints":{"__proto__":"none","constructor":"read"}}',
    );
    const result = normalizeScopes(input, KNOWN_IDS);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { endpoints } = result.scopes;
    expect(Object.getPrototypeOf(endpoints)).toBe(Object.prototype);
    expect(Object.hasOwn(endpoints, "__proto__")).toBe(true);
    expect(Object.keys(endpoints).sort()).toEqual(["__proto__", "constructor"]);
    expect(resolveEndpointLevel(result.scopes, "__proto__")).toBe("none");
    expect(resolveEndpointLevel(result.scopes, "constructor")).toBe("read");
    expect(resolveEndpointLevel(result.scopes, "ep_orders")).toBe("read_write");
    // Survives a JSON round trip (as when stored in the database).
    const roundTripped = JSON.parse(JSON.stringify(result.scopes)) as KeyScopes;
    expect(resolveEndpointLevel(roundTripped, "__proto__")).toBe("none");
  });
});

describe("normalizeScopes: rejects", () => {
  const valid = { graphql: "read", endpointsAll: "read", endpoints: {} };

  it.each<[string, unknown]>([
    ["null", null],
    ["undefined", undefined],
    ["string", "read"],
    ["number", 1],
    ["boolean", true],
    ["array", [valid]],
    ["empty array", []],
    ["Map", new Map(Object.entries(valid))],
    ["Date", new Date()],
    ["class instance", new (class Scopes { graphql = "read"; endpointsAll = "read"; endpoints = {}; })()],
    ["empty object", {}],
    ["missing graphql", { endpointsAll: "read", endpoints: {} }],
    ["missing endpointsAll", { graphql: "read", endpoints: {} }],
    ["missing endpoints", { graphql: "read", endpointsAll: "read" }],
    ["graphql not a level", { ...valid, graphql: "admin" }],
    ["graphql wrong case", { ...valid, graphql: "READ" }],
    ["graphql null", { ...valid, graphql: null }],
    ["graphql number", { ...valid, graphql: 2 }],
    ["graphql array", { ...valid, graphql: ["read"] }],
    ["endpointsAll not a level", { ...valid, endpointsAll: "write" }],
    ["endpointsAll boolean", { ...valid, endpointsAll: true }],
    ["endpoints null", { ...valid, endpoints: null }],
    ["endpoints array", { ...valid, endpoints: [["ep_orders", "read"]] }],
    ["endpoints string", { ...valid, endpoints: "ep_orders" }],
    ["endpoints Map", { ...valid, endpoints: new Map([["ep_orders", "read"]]) }],
    ["unknown endpoint id", { ...valid, endpoints: { ep_unknown: "read" } }],
    ["known and unknown ids", { ...valid, endpoints: { ep_orders: "read", ep_nope: "none" } }],
    ["'toString' not a known id", { ...valid, endpoints: { toString: "read" } }],
    ["override not a level", { ...valid, endpoints: { ep_orders: "admin" } }],
    ["override null", { ...valid, endpoints: { ep_orders: null } }],
    ["override object", { ...valid, endpoints: { ep_orders: { level: "read" } } }],
    ["override array", { ...valid, endpoints: { ep_orders: ["read"] } }],
    ["extra top-level field", { ...valid, admin: true }],
    ["graphql inherited, not own", Object.assign(Object.create({ graphql: "read" }) as object, { endpointsAll: "read", endpoints: {} })],
  ])("%s", (_label, input) => {
    const result = normalizeScopes(input, KNOWN_IDS);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toEqual(expect.any(String));
  });

  it("counts unknown ids in the reason without echoing them", () => {
    const result = normalizeScopes(
      { ...valid, endpoints: { "<script>": "read", ep_orders: "read", other: "none" } },
      KNOWN_IDS,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toContain("2");
    expect(result.reason).not.toContain("<script>");
  });

  it("rejects every override when no endpoint ids are known", () => {
    expect(normalizeScopes({ ...valid, endpoints: { ep_orders: "read" } }, new Set()).ok).toBe(false);
    expect(normalizeScopes(valid, new Set()).ok).toBe(true);
  });
});
