import { describe, expect, it } from "vitest";
import {
  ACCESS_LEVELS,
  isAccessLevel,
  isLegacyPermission,
  levelAllows,
  type AccessLevel,
} from "./levels";

describe("ACCESS_LEVELS", () => {
  it("is ordered from least to most access", () => {
    expect(ACCESS_LEVELS).toEqual(["none", "read", "read_write"]);
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
  ])("%j → %s", (value, expected) => {
    expect(isAccessLevel(value)).toBe(expected);
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
