import { describe, expect, it } from "vitest";
import {
  ACCESS_LEVELS,
  isAccessLevel,
  isLegacyPermission,
  isRequiredLevel,
  LEGACY_PERMISSIONS,
  LEVEL_LABELS,
  LEVELS,
  levelAllows,
  REQUIRED_LEVELS,
  type AccessLevel,
} from "./levels";

describe("LEVELS: the one table", () => {
  it("names the levels as SPEC §1, §3 and §5 do, from least to most access", () => {
    expect(LEVELS.map(({ id, label }) => [id, label])).toEqual([
      ["none", "None"],
      ["read", "Read"],
      ["read_write", "Read / Write"],
    ]);
  });

  it("ranks strictly increase down the table, and ids and labels are unique", () => {
    const ranks = LEVELS.map((level) => level.rank);
    expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    expect(new Set(ranks).size).toBe(LEVELS.length);
    expect(new Set(LEVELS.map((level) => level.id)).size).toBe(LEVELS.length);
    expect(new Set(LEVELS.map((level) => level.label)).size).toBe(LEVELS.length);
  });

  it.each(LEVELS.map((level) => [level.id, level] as const))("%s has a non-empty label", (_id, level) => {
    expect(level.label.trim()).not.toBe("");
  });
});

describe("lists derived from the table", () => {
  it("ACCESS_LEVELS is the table's ids, in order, and cannot be changed at run time", () => {
    expect(ACCESS_LEVELS).toEqual(LEVELS.map((level) => level.id));
    expect(ACCESS_LEVELS).toEqual(["none", "read", "read_write"]);
    expect(Object.isFrozen(ACCESS_LEVELS)).toBe(true);
  });

  it("LEVEL_LABELS has exactly the table's labels, one per level", () => {
    expect(Object.keys(LEVEL_LABELS).sort()).toEqual([...ACCESS_LEVELS].sort());
    for (const level of LEVELS) expect(LEVEL_LABELS[level.id]).toBe(level.label);
    expect(Object.isFrozen(LEVEL_LABELS)).toBe(true);
  });

  it("REQUIRED_LEVELS (and legacy permissions) are every level above the lowest", () => {
    const lowest = Math.min(...LEVELS.map((level) => level.rank));
    expect(REQUIRED_LEVELS).toEqual(LEVELS.filter((level) => level.rank > lowest).map((level) => level.id));
    expect(REQUIRED_LEVELS).toEqual(["read", "read_write"]);
    expect(LEGACY_PERMISSIONS).toEqual(REQUIRED_LEVELS);
  });

  it("levelAllows follows the table's ranks for every pair", () => {
    for (const granted of LEVELS) {
      for (const required of LEVELS.filter((level) => isRequiredLevel(level.id))) {
        expect(levelAllows(granted.id, required.id as "read" | "read_write")).toBe(granted.rank >= required.rank);
      }
    }
  });
});

describe("levelAllows", () => {
  it.each<[AccessLevel, "read" | "read_write", boolean]>([
    ["none", "read", false],
    ["none", "read_write", false],
    ["read", "read", true],
    ["read", "read_write", false],
    ["read_write", "read", true],
    ["read_write", "read_write", true],
  ])("granted %s, required %s → %s", (granted, required, expected) => {
    expect(levelAllows(granted, required)).toBe(expected);
  });

  it.each<[unknown, unknown]>([
    ["admin", "read"],
    [undefined, "read"],
    ["READ_WRITE", "read"],
    ["read_write", "none"],
    ["read_write", "admin"],
    ["toString", "read"],
    ["__proto__", "read"],
  ])("fails closed for out-of-type values (%j, %j)", (granted, required) => {
    expect(levelAllows(granted as AccessLevel, required as "read")).toBe(false);
  });
});

describe("isAccessLevel", () => {
  it.each<[unknown, boolean]>([
    ["none", true],
    ["read", true],
    ["read_write", true],
    ["write", false],
    ["READ", false],
    [" read", false],
    ["", false],
    [null, false],
    [undefined, false],
    [1, false],
    [["read"], false],
    [{ level: "read" }, false],
    ["toString", false],
    ["__proto__", false],
    ["hasOwnProperty", false],
  ])("%j → %s", (value, expected) => {
    expect(isAccessLevel(value)).toBe(expected);
  });
});

describe("isRequiredLevel", () => {
  it.each<[unknown, boolean]>([
    ["read", true],
    ["read_write", true],
    ["none", false],
    ["toString", false],
    ["__proto__", false],
    [undefined, false],
  ])("%j → %s", (value, expected) => {
    expect(isRequiredLevel(value)).toBe(expected);
  });
});

describe("isLegacyPermission", () => {
  it.each<[unknown, boolean]>([
    ["read", true],
    ["read_write", true],
    ["none", false],
    ["write", false],
    ["Read", false],
    [null, false],
    [0, false],
  ])("%j → %s", (value, expected) => {
    expect(isLegacyPermission(value)).toBe(expected);
  });
});
