import { describe, expect, it } from "vitest";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { hashKey } from "@/lib/core/keys/hash";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { decide, readBearerToken, type KeyStore, type Requirement, type StoredKey } from "./verifier";

const RANDOM = "abcdefghijABCDEFGHIJ0123456789";
const KEY = `rpa_${RANDOM}${computeKeyChecksum(RANDOM)}`;
const LEGACY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

function storeWith(key: Partial<StoredKey> | null, hashes = [hashKey(KEY), hashKey(LEGACY)]) {
  const lookups: string[] = [];
  const uses: string[] = [];
  const store: KeyStore = {
    findKeyByHash(hash) {
      lookups.push(hash);
      if (!key || !hashes.includes(hash)) return null;
      return {
        id: "key_1",
        accountId: "acct_1",
        enabled: true,
        graphqlLevel: "none",
        endpointsAllLevel: "none",
        endpointOverride: null,
        endpointInAccount: true,
        ...key,
      };
    },
    recordUse: (keyId) => void uses.push(keyId),
  };
  return { store, lookups, uses };
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
    const { store } = storeWith({ endpointInAccount: false, endpointsAllLevel: "read_write" });
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
