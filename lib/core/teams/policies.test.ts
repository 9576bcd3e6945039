import { describe, expect, it } from "vitest";
import { defaultExpirationWithin, EXPIRATION_CHOICES, expirationChoicesWithin, resolveExpiration } from "@/lib/core/lifecycle/choices";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import {
  checkKeyLifetime,
  DEFAULT_POLICIES,
  KEY_LIFETIME_CHOICES,
  latestAllowedExpiry,
  lifetimeChoiceFor,
  lifetimeDaysFor,
  lifetimeLabel,
  needsGraphqlApproval,
  readLifetimeDays,
} from "./policies";
import { TEAM_ROLES, type TeamRole } from "./roles";

const NOW = new Date("2026-12-02T10:00:00.000Z");
const DAY = 86_400_000;
const at = (ms: number) => new Date(NOW.getTime() + ms);

describe("the policies SPEC §11 names", () => {
  it("offers `Maximum key lifetime` as No limit, 30 days, 90 days, 1 year; defaults to no limit and no approval", () => {
    expect(KEY_LIFETIME_CHOICES.map((choice) => [choice.label, choice.days])).toEqual([
      ["No limit", null],
      ["30 days", 30],
      ["90 days", 90],
      ["1 year", 365],
    ]);
    expect(DEFAULT_POLICIES).toEqual({ maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false });
    for (const choice of KEY_LIFETIME_CHOICES) {
      expect(lifetimeDaysFor(choice.id)).toBe(choice.days);
      expect(lifetimeChoiceFor(choice.days)).toBe(choice.id);
      expect(lifetimeLabel(choice.days)).toBe(choice.label);
    }
  });

  it.each([
    [null, null],
    [30, 30],
    [90, 90],
    [365, 365],
    // Values this version does not offer (a row written by hand): the longest known cap within them, else 30 days.
    [100, 90],
    [1, 30],
  ] as const)("reads a stored %s as %s", (stored, read) => {
    expect(readLifetimeDays(stored)).toBe(read);
  });
});

describe("checkKeyLifetime", () => {
  it.each<[string, Date | null, number | null, boolean]>([
    ["no cap, no expiry", null, null, true],
    ["no cap, ten years", at(3650 * DAY), null, true],
    ["30 days cap, no expiry", null, 30, false],
    ["30 days cap, exactly 30 days", at(30 * DAY), 30, true],
    ["30 days cap, a millisecond more", at(30 * DAY + 1), 30, false],
    ["90 days cap, 7 days", at(7 * DAY), 90, true],
    ["90 days cap, 1 year", at(365 * DAY), 90, false],
    ["1 year cap, exactly 365 days", at(365 * DAY), 365, true],
    ["1 year cap, 366 days", at(366 * DAY), 365, false],
  ])("%s → allowed: %s", (_label, expiresAt, cap, allowed) => {
    const checked = checkKeyLifetime(expiresAt, cap, NOW);
    expect(checked.ok).toBe(allowed);
    if (!checked.ok) expect(checked.message).toContain(lifetimeLabel(cap));
  });

  it("counts from the time of the change, and says when the cap ends", () => {
    expect(latestAllowedExpiry(90, NOW)).toEqual(at(90 * DAY));
    expect(latestAllowedExpiry(null, NOW)).toBeNull();
  });
});

describe("the `Expiration` choices under a cap", () => {
  const labels = (cap: number | null) => expirationChoicesWithin(cap).map((choice) => choice.label);

  it.each<[number | null, string[], string]>([
    [null, ["7 days", "30 days", "90 days", "1 year", "Custom", "No expiration"], "90d"],
    [365, ["7 days", "30 days", "90 days", "1 year", "Custom"], "90d"],
    [90, ["7 days", "30 days", "90 days", "Custom"], "90d"],
    [30, ["7 days", "30 days", "Custom"], "30d"],
  ])("cap %s offers %j, default %s", (cap, offered, byDefault) => {
    expect(labels(cap)).toEqual(offered);
    expect(defaultExpirationWithin(cap)).toBe(byDefault);
  });

  it("every fixed choice a cap offers passes that cap's check, and every one it drops fails it", () => {
    for (const { days } of KEY_LIFETIME_CHOICES) {
      const offered = new Set(expirationChoicesWithin(days).map((choice) => choice.id));
      for (const choice of EXPIRATION_CHOICES.filter((entry) => entry.id !== "custom")) {
        const resolved = resolveExpiration(choice.id, null, NOW);
        if (!resolved.ok) throw new Error("fixed choices resolve");
        expect(checkKeyLifetime(resolved.expiresAt, days, NOW).ok).toBe(offered.has(choice.id));
      }
    }
  });
});

describe("needsGraphqlApproval", () => {
  const on = { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: true };
  const off = { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false };
  const levels: AccessLevel[] = ["none", "read", "read_write"];
  const asksForWriteItLacks = (asked: AccessLevel, has: AccessLevel) => asked === "read_write" && has !== "read_write";

  // Every role × asked × had, with the policy on and off: only a role without `approvals.decide`
  // asking for Read / Write it does not have waits.
  const cases = TEAM_ROLES.flatMap((role) => levels.flatMap((asked) => levels.map((has) => [role, asked, has] as [TeamRole, AccessLevel, AccessLevel])));
  it.each(cases)("%s asking %s (has %s)", (role, asked, has) => {
    expect(needsGraphqlApproval(off, role, asked, has)).toBe(false);
    const waits = (role === "member" || role === "viewer") && asksForWriteItLacks(asked, has);
    expect(needsGraphqlApproval(on, role, asked, has)).toBe(waits);
  });
});
