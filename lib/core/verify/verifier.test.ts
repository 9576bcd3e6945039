import { describe, expect, it } from "vitest";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { compileAllowlist } from "@/lib/core/restrictions/addresses";
import { ShareLimiter } from "@/lib/core/restrictions/rate-limit";
import { decide, decideForKey, readBearerToken, type DecisionContext, type KeyStore, type Requirement, type StoredKey } from "./verifier";

const RANDOM = "abcdefghijABCDEFGHIJ0123456789";
const KEY = `rpa_${RANDOM}${computeKeyChecksum(RANDOM)}`;
const LEGACY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/** A key as the store answers it: allowed nothing, unless `key` says otherwise. */
function stored(key: Partial<StoredKey>): StoredKey {
  return {
    id: "key_1",
    accountId: "acct_1",
    enabled: true,
    graphqlLevel: "none",
    endpointsAllLevel: "none",
    endpointOverride: null,
    endpointName: "alpha",
    expiresAt: null,
    presentedPrevious: false,
    previousValidUntil: null,
    graceEndsOnFirstUse: false,
    elevations: [],
    allowedAddresses: null,
    rateRule: null,
    ...key,
  };
}

function storeWith(key: Partial<StoredKey> | null, hashes = [hashKey(KEY), hashKey(LEGACY)]) {
  const lookups: string[] = [];
  const uses: string[] = [];
  const counted: { keyId: string; at: number; resource: string; via: string; access: string; code: string }[] = [];
  const graceEnds: [string, number][] = [];
  const limiter = new ShareLimiter();
  const store: KeyStore = {
    findKeyByHash(hash) {
      lookups.push(hash);
      if (!key || !hashes.includes(hash)) return null;
      return stored(key);
    },
    recordDecision: (keyId, at, resource, via, access, code) => {
      counted.push({ keyId, at, resource, via, access, code });
      // The allowed ones are the key's uses (its last used date).
      if (code === "VALID") uses.push(keyId);
    },
    endGraceOnFirstUse: (keyId, at) => void graceEnds.push([keyId, at]),
    rateLimit: (keyId, rule, at, mode) =>
      mode === "take" ? limiter.take(keyId, rule, at) : mode === "peek" ? limiter.peek(keyId, rule, at) : limiter.inspect(keyId, rule, at),
  };
  return { store, lookups, uses, counted, graceEnds };
}

const endpoint = (access: "read" | "read_write"): Requirement => ({ resource: "endpoint", endpointId: "ep1", access });
const graphql = (access: "read" | "read_write"): Requirement => ({ resource: "graphql", access });

describe("readBearerToken", () => {
  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["BEARER   abc", "abc"],
    ["Bearer abc ", "abc"],
    [null, null],
    ["", null],
    ["Bearer", null],
    ["Bearer ", null],
    ["Basic abc", null],
    ["Token abc", null],
    ["Bearer a b", null],
    ["abc", null],
  ])("%j → %j", (header, expected) => {
    expect(readBearerToken(header)).toBe(expected);
  });
});

describe("decide", () => {
  const L: AccessLevel[] = ["none", "read", "read_write"];

  // Effective endpoint level = override if set, else all; every combination against both accesses.
  const endpointCases = L.flatMap((all) =>
    [null, ...L].flatMap((override) =>
      (["read", "read_write"] as const).map((access) => {
        const effective = override ?? all;
        const allowed = access === "read" ? effective !== "none" : effective === "read_write";
        return { all, override, access, allowed };
      }),
    ),
  );

  it.each(endpointCases)("endpoint all=$all override=$override needs $access → allowed $allowed", async ({ all, override, access, allowed }) => {
    const { store, uses } = storeWith({ endpointsAllLevel: all, endpointOverride: override });
    const decision = await decide(KEY, endpoint(access), store);
    expect(decision.ok).toBe(allowed);
    expect(decision.code).toBe(allowed ? "VALID" : "INSUFFICIENT_SCOPE");
    expect(uses).toEqual(allowed ? ["key_1"] : []);
  });

  it.each(L.flatMap((level) => (["read", "read_write"] as const).map((access) => ({ level, access }))))(
    "graphql $level needs $access",
    async ({ level, access }) => {
      const { store } = storeWith({ graphqlLevel: level, endpointsAllLevel: "read_write" });
      const decision = await decide(KEY, graphql(access), store);
      const allowed = access === "read" ? level !== "none" : level === "read_write";
      expect(decision.code).toBe(allowed ? "VALID" : "INSUFFICIENT_SCOPE");
    },
  );

  it("graphql ignores endpoint levels and endpoint requests ignore graphql", async () => {
    expect((await decide(KEY, graphql("read"), storeWith({ endpointsAllLevel: "read_write" }).store)).code).toBe("INSUFFICIENT_SCOPE");
    expect((await decide(KEY, endpoint("read"), storeWith({ graphqlLevel: "read_write" }).store)).code).toBe("INSUFFICIENT_SCOPE");
  });

  it("a valid decision names the key and account", async () => {
    const decision = await decide(KEY, endpoint("read"), storeWith({ endpointsAllLevel: "read" }).store);
    expect(decision).toEqual({ ok: true, code: "VALID", keyId: "key_1", accountId: "acct_1" });
  });

  it("legacy keys decide through the same path", async () => {
    const { store, lookups } = storeWith({ graphqlLevel: "read", endpointsAllLevel: "read" });
    expect((await decide(LEGACY, endpoint("read"), store)).code).toBe("VALID");
    expect((await decide(LEGACY, endpoint("read_write"), store)).code).toBe("INSUFFICIENT_SCOPE");
    expect(lookups).toEqual([hashKey(LEGACY), hashKey(LEGACY)]);
  });

  it("a disabled key is refused before scopes, whatever they are", async () => {
    const { store, uses } = storeWith({ enabled: false, endpointsAllLevel: "read_write", graphqlLevel: "read_write" });
    expect(await decide(KEY, endpoint("read"), store)).toMatchObject({ ok: false, code: "KEY_DISABLED" });
    expect(uses).toEqual([]);
  });

  it("an endpoint outside the key's account is not found, even with full scopes", async () => {
    const { store } = storeWith({ endpointName: null, endpointsAllLevel: "read_write" });
    expect((await decide(KEY, endpoint("read"), store)).code).toBe("NOT_FOUND");
  });

  it("an unknown (never issued or deleted) key is unauthenticated", async () => {
    const { store, lookups } = storeWith(null);
    expect((await decide(KEY, endpoint("read"), store)).code).toBe("UNAUTHENTICATED");
    expect(lookups).toHaveLength(1);
  });

  const wrongChecksum = KEY.slice(0, -1) + (KEY.endsWith("A") ? "B" : "A");
  it.each([
    ["no key", null],
    ["empty", ""],
    ["10 kB", "rpa_" + "a".repeat(10_000)],
    ["65 characters", "rpa_" + "a".repeat(61)],
    ["non-ASCII", `rpa_${RANDOM.slice(0, 29)}é${computeKeyChecksum(RANDOM)}`],
    ["NUL byte", KEY.slice(0, 10) + "\0" + KEY.slice(11)],
    ["SQL metacharacters", "rpa_' OR '1'='1' --abcdefghijklmnopqrs"],
    ["wrong checksum", wrongChecksum],
    ["lower-case legacy", LEGACY.toLowerCase()],
    ["legacy too short", LEGACY.slice(1)],
  ])("%s is refused without a database read", async (_label, presented) => {
    const { store, lookups } = storeWith({ endpointsAllLevel: "read_write" });
    const decision = await decide(presented, endpoint("read"), store);
    expect(decision).toEqual({ ok: false, code: "UNAUTHENTICATED" });
    expect(lookups).toEqual([]);
  });
});

// SPEC §8: every time-bound rule is decided against the decision's own clock, to the millisecond.
describe("expiry, grace periods and elevations, at their exact boundaries", () => {
  const T = Date.UTC(2026, 11, 2, 12, 0, 0);
  const clock = (at: number) => () => at;

  it("a key is allowed one millisecond before its expiry and KEY_EXPIRED from it on", async () => {
    const { store, uses } = storeWith({ expiresAt: T, endpointsAllLevel: "read" });
    expect((await decide(KEY, endpoint("read"), store, { now: clock(T - 1) })).code).toBe("VALID");
    expect(await decide(KEY, endpoint("read"), store, { now: clock(T) })).toEqual({ ok: false, code: "KEY_EXPIRED", keyId: "key_1" });
    expect((await decide(KEY, graphql("read"), store, { now: clock(T + 1) })).code).toBe("KEY_EXPIRED");
    expect(uses).toEqual(["key_1"]);
  });

  it("expiry is checked after disabled and before the endpoint and the level (SPEC §4's order)", async () => {
    const disabled = storeWith({ expiresAt: T, enabled: false });
    expect((await decide(KEY, endpoint("read"), disabled.store, { now: clock(T) })).code).toBe("KEY_DISABLED");
    const elsewhere = storeWith({ expiresAt: T, endpointName: null });
    expect((await decide(KEY, endpoint("read"), elsewhere.store, { now: clock(T) })).code).toBe("KEY_EXPIRED");
    const noScope = storeWith({ expiresAt: T });
    expect((await decide(KEY, endpoint("read"), noScope.store, { now: clock(T) })).code).toBe("KEY_EXPIRED");
  });

  it("a legacy key expires the same way", async () => {
    const { store } = storeWith({ expiresAt: T, graphqlLevel: "read", endpointsAllLevel: "read" });
    expect((await decide(LEGACY, graphql("read"), store, { now: clock(T - 1) })).code).toBe("VALID");
    expect((await decide(LEGACY, graphql("read"), store, { now: clock(T) })).code).toBe("KEY_EXPIRED");
  });

  it("the previous secret verifies until one millisecond before its grace period ends, then is unknown", async () => {
    const { store, uses } = storeWith({ presentedPrevious: true, previousValidUntil: T, endpointsAllLevel: "read" });
    expect((await decide(KEY, endpoint("read"), store, { now: clock(T - 1) })).code).toBe("VALID");
    expect(await decide(KEY, endpoint("read"), store, { now: clock(T) })).toEqual({ ok: false, code: "UNAUTHENTICATED" });
    expect(uses).toEqual(["key_1"]);
  });

  it("a previous secret with no grace period left is unknown, even when the key is disabled or expired", async () => {
    const { store } = storeWith({ presentedPrevious: true, previousValidUntil: null, enabled: false, expiresAt: T - 5 });
    expect(await decide(KEY, endpoint("read"), store, { now: clock(T) })).toEqual({ ok: false, code: "UNAUTHENTICATED" });
  });

  it("during the grace period both secrets share the key's state: disabled and expired apply to the old one too", async () => {
    const { store } = storeWith({ presentedPrevious: true, previousValidUntil: T + 10_000, enabled: false });
    expect((await decide(KEY, endpoint("read"), store, { now: clock(T) })).code).toBe("KEY_DISABLED");
    const expired = storeWith({ presentedPrevious: true, previousValidUntil: T + 10_000, expiresAt: T });
    expect((await decide(KEY, endpoint("read"), expired.store, { now: clock(T) })).code).toBe("KEY_EXPIRED");
  });

  it("`Until the new key is first used`: the new secret's first allowed use ends the grace period, the old secret's does not", async () => {
    const current = storeWith({ previousValidUntil: T + 1000, graceEndsOnFirstUse: true, endpointsAllLevel: "read" });
    expect((await decide(KEY, endpoint("read_write"), current.store, { now: clock(T) })).code).toBe("INSUFFICIENT_SCOPE");
    expect(current.graceEnds).toEqual([]); // a refused request is not a use
    expect((await decide(KEY, endpoint("read"), current.store, { now: clock(T) })).code).toBe("VALID");
    expect(current.graceEnds).toEqual([["key_1", T]]);
    const old = storeWith({ presentedPrevious: true, previousValidUntil: T + 1000, graceEndsOnFirstUse: true, endpointsAllLevel: "read" });
    expect((await decide(KEY, endpoint("read"), old.store, { now: clock(T) })).code).toBe("VALID");
    expect(old.graceEnds).toEqual([]);
    const over = storeWith({ previousValidUntil: T, graceEndsOnFirstUse: true, endpointsAllLevel: "read" });
    await decide(KEY, endpoint("read"), over.store, { now: clock(T) });
    expect(over.graceEnds).toEqual([]);
  });

  it("an elevation raises the level until one millisecond before its end, and not from its end on", async () => {
    const { store } = storeWith({ graphqlLevel: "read", elevations: [{ target: "graphql", level: "read_write", endsAt: T }] });
    expect((await decide(KEY, graphql("read_write"), store, { now: clock(T - 1) })).code).toBe("VALID");
    expect(await decide(KEY, graphql("read_write"), store, { now: clock(T) })).toMatchObject({ code: "INSUFFICIENT_SCOPE", granted: "read" });
  });

  it("an elevation never lowers a level, and applies only to its own resource", async () => {
    const { store } = storeWith({
      graphqlLevel: "read_write",
      endpointsAllLevel: "none",
      elevations: [{ target: "graphql", level: "read", endsAt: T + 1000 }],
    });
    expect((await decide(KEY, graphql("read_write"), store, { now: clock(T) })).code).toBe("VALID");
    expect((await decide(KEY, endpoint("read"), store, { now: clock(T) })).code).toBe("INSUFFICIENT_SCOPE");
    const other = storeWith({ elevations: [{ target: "endpoint:ep2", level: "read_write", endsAt: T + 1000 }] });
    expect((await decide(KEY, endpoint("read"), other.store, { now: clock(T) })).code).toBe("INSUFFICIENT_SCOPE");
    expect((await decide(KEY, graphql("read"), other.store, { now: clock(T) })).code).toBe("INSUFFICIENT_SCOPE");
  });

  it("an elevation on All endpoints or on the endpoint raises it, above an override that narrows it", async () => {
    const all = storeWith({ endpointsAllLevel: "read", endpointOverride: "none", elevations: [{ target: "endpoints", level: "read_write", endsAt: T + 1 }] });
    expect((await decide(KEY, endpoint("read_write"), all.store, { now: clock(T) })).code).toBe("VALID");
    const one = storeWith({ endpointOverride: "read", elevations: [{ target: "endpoint:ep1", level: "read_write", endsAt: T + 1 }] });
    expect((await decide(KEY, endpoint("read_write"), one.store, { now: clock(T) })).code).toBe("VALID");
    expect((await decide(KEY, endpoint("read_write"), one.store, { now: clock(T + 1) })).code).toBe("INSUFFICIENT_SCOPE");
  });
});

describe("explained denials (SPEC §4)", () => {
  it("INSUFFICIENT_SCOPE carries what was required, what the key has there, and the endpoint's name", async () => {
    const { store } = storeWith({ endpointsAllLevel: "read", endpointName: "alpha" });
    expect(await decide(KEY, endpoint("read_write"), store)).toEqual({
      ok: false,
      code: "INSUFFICIENT_SCOPE",
      keyId: "key_1",
      required: { resource: "endpoint", endpointId: "ep1", access: "read_write" },
      granted: "read",
      endpointName: "alpha",
    });
    expect(await decide(KEY, graphql("read"), store)).toMatchObject({ code: "INSUFFICIENT_SCOPE", required: { resource: "graphql", access: "read" }, granted: "none" });
  });
});

// SPEC §10: every decision about a known key is counted once, with what was asked and what it got.
describe("counting", () => {
  const T = Date.UTC(2026, 11, 2, 12, 30, 0);
  const at = { now: () => T };
  const LIMITED = { rateRule: { limit: 1, per: "hour" as const } };

  it.each<[string, Partial<StoredKey>, Requirement, DecisionContext, { resource: string; via: string; access: string; code: string }]>([
    ["allowed on an endpoint", { endpointsAllLevel: "read" }, endpoint("read"), {}, { resource: "ep1", via: "api", access: "read", code: "VALID" }],
    ["allowed on GraphQL", { graphqlLevel: "read_write" }, graphql("read_write"), {}, { resource: "graphql", via: "api", access: "read_write", code: "VALID" }],
    ["through the verify API", { graphqlLevel: "read" }, graphql("read"), { via: "verify" }, { resource: "graphql", via: "verify", access: "read", code: "VALID" }],
    ["disabled", { enabled: false, endpointsAllLevel: "read" }, endpoint("read"), {}, { resource: "ep1", via: "api", access: "read", code: "KEY_DISABLED" }],
    ["expired", { expiresAt: T, endpointsAllLevel: "read" }, endpoint("read_write"), { via: "verify" }, { resource: "ep1", via: "verify", access: "read_write", code: "KEY_EXPIRED" }],
    [
      "outside the allowlist",
      { allowedAddresses: compileAllowlist(["10.0.0.0/8"]), endpointsAllLevel: "read" },
      endpoint("read"),
      { clientAddress: "192.168.0.1" },
      { resource: "ep1", via: "api", access: "read", code: "IP_NOT_ALLOWED" },
    ],
    // The requested id is never what is stored: another account's endpoint, or none at all.
    ["another account's endpoint", { endpointName: null, endpointsAllLevel: "read_write" }, endpoint("read"), {}, { resource: "unknown", via: "api", access: "read", code: "NOT_FOUND" }],
    ["missing scope", { endpointsAllLevel: "read" }, endpoint("read_write"), {}, { resource: "ep1", via: "api", access: "read_write", code: "INSUFFICIENT_SCOPE" }],
    ["over the rate limit", { ...LIMITED, rateRule: { limit: 0, per: "hour" }, graphqlLevel: "read" }, graphql("read"), {}, { resource: "graphql", via: "api", access: "read", code: "RATE_LIMITED" }],
  ])("%s: counted once", async (_label, key, requirement, context, expected) => {
    const { store, counted } = storeWith(key);
    const decision = await decide(KEY, requirement, store, { ...at, ...context });
    expect(decision.code).toBe(expected.code);
    expect(counted).toEqual([{ keyId: "key_1", at: T, ...expected }]);
  });

  it("a rate-limited key: the allowed request and the refused one are both counted, under their own codes", async () => {
    const { store, counted } = storeWith({ ...LIMITED, endpointsAllLevel: "read" });
    expect((await decide(KEY, endpoint("read"), store, at)).code).toBe("VALID");
    expect((await decide(KEY, endpoint("read"), store, at)).code).toBe("RATE_LIMITED");
    expect(counted.map((entry) => entry.code)).toEqual(["VALID", "RATE_LIMITED"]);
  });

  it.each<[string, string | null, Partial<StoredKey> | null]>([
    ["no key", null, { endpointsAllLevel: "read" }],
    ["a malformed key", "rpa_nope", { endpointsAllLevel: "read" }],
    ["an unknown key", KEY, null],
    ["a previous secret past its grace period", KEY, { presentedPrevious: true, previousValidUntil: T, endpointsAllLevel: "read" }],
  ])("%s is attributed to nobody", async (_label, presented, key) => {
    const { store, counted, uses } = storeWith(key);
    expect((await decide(presented, endpoint("read"), store, at)).code).toBe("UNAUTHENTICATED");
    expect(counted).toEqual([]);
    expect(uses).toEqual([]);
  });
});

// SPEC §10 Check access: the same decision, touching nothing.
describe("dry run", () => {
  const T = Date.UTC(2026, 11, 2, 12, 30, 0);
  const clock = { now: () => T };

  /** The store, with every rate-limit call's mode noted. */
  function watched(key: Partial<StoredKey>) {
    const base = storeWith(key);
    const modes: string[] = [];
    const rateLimit = base.store.rateLimit;
    base.store.rateLimit = (keyId, rule, when, mode) => {
      modes.push(mode);
      return rateLimit(keyId, rule, when, mode);
    };
    return { ...base, modes };
  }


  const LIMIT = { rateRule: { limit: 2, per: "hour" as const } };
  it.each<[string, Partial<StoredKey>, Requirement, string | null]>([
    ["allowed", { ...LIMIT, endpointsAllLevel: "read" }, endpoint("read"), null],
    ["disabled", { ...LIMIT, enabled: false }, endpoint("read"), null],
    ["expired", { ...LIMIT, expiresAt: T }, endpoint("read"), null],
    ["outside the allowlist", { ...LIMIT, allowedAddresses: compileAllowlist(["10.0.0.0/8"]), endpointsAllLevel: "read" }, endpoint("read"), "192.168.0.1"],
    ["no address for an allowlist", { ...LIMIT, allowedAddresses: compileAllowlist(["10.0.0.0/8"]), endpointsAllLevel: "read" }, endpoint("read"), null],
    ["another account's endpoint", { ...LIMIT, endpointName: null, endpointsAllLevel: "read" }, endpoint("read"), null],
    ["missing scope", { ...LIMIT, endpointsAllLevel: "read" }, endpoint("read_write"), null],
    ["allowed, grace ending on first use", { ...LIMIT, graphqlLevel: "read", previousValidUntil: T + 1_000, graceEndsOnFirstUse: true }, graphql("read"), null],
  ])("%s: the same answer as a real decision, nothing counted, no limit used, no grace ended", async (_label, key, requirement, clientAddress) => {
    const dry = watched(key);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(decideForKey(stored(key), requirement, dry.store, { ...clock, clientAddress, dryRun: true }));
    expect(dry.counted).toEqual([]);
    expect(dry.uses).toEqual([]);
    expect(dry.graceEnds).toEqual([]);
    expect(dry.modes.every((mode) => mode === "inspect")).toBe(true);
    // The real decision, on a store that saw only the dry runs: the same answer, and its limit untouched.
    const real = decideForKey(stored(key), requirement, dry.store, { ...clock, clientAddress });
    for (const answer of answers) expect(answer).toEqual(real.code === "VALID" ? { ...real, rateLimit: { ...real.rateLimit!, remaining: 2 } } : real);
    if (real.code === "VALID") expect(real.rateLimit?.remaining).toBe(1);
    expect(dry.counted).toHaveLength(1);
  });

  it("answers RATE_LIMITED once the limit is used up, without refusing the next window's requests", async () => {
    const key = { rateRule: { limit: 1, per: "hour" as const }, graphqlLevel: "read" as const };
    const { store, counted } = watched(key);
    expect(decideForKey(stored(key), graphql("read"), store, clock).code).toBe("VALID");
    for (let i = 0; i < 3; i++) expect(decideForKey(stored(key), graphql("read"), store, { ...clock, dryRun: true }).code).toBe("RATE_LIMITED");
    expect(counted).toHaveLength(1);
    // A window this process has not counted yet is answered as a fresh one, and stays uncounted.
    const later = { now: () => T + 3_600_000 };
    expect(decideForKey(stored(key), graphql("read"), store, { ...later, dryRun: true }).code).toBe("VALID");
    expect(decideForKey(stored(key), graphql("read"), store, later)).toMatchObject({ code: "VALID", rateLimit: { remaining: 0 } });
  });
});
