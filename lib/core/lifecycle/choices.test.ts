import { describe, expect, it } from "vitest";
import { normalizeReason, REASON_MESSAGES } from "@/lib/core/names";
import {
  DEFAULT_EXPIRATION,
  ELEVATION_DURATIONS,
  elevationEnd,
  elevationTargetKey,
  EXPIRATION_CHOICES,
  GRACE_CHOICES,
  parseElevationTarget,
  resolveExpiration,
  resolveGrace,
} from "./choices";

const NOW = new Date("2026-12-02T10:00:00.000Z");
const DAY = 86_400_000;

describe("the choices SPEC §8 names", () => {
  it("offers exactly its labels, in its order, with 90 days the default", () => {
    expect(EXPIRATION_CHOICES.map((choice) => choice.label)).toEqual(["7 days", "30 days", "90 days", "1 year", "Custom", "No expiration"]);
    expect(DEFAULT_EXPIRATION).toBe("90d");
    expect(GRACE_CHOICES.map((choice) => choice.label)).toEqual(["Expire now", "1 hour", "24 hours", "7 days", "Until the new key is first used"]);
    expect(ELEVATION_DURATIONS.map((choice) => choice.label)).toEqual(["15 minutes", "1 hour", "4 hours", "24 hours"]);
  });
});

describe("resolveExpiration", () => {
  it.each([
    ["7d", 7 * DAY],
    ["30d", 30 * DAY],
    ["90d", 90 * DAY],
    ["1y", 365 * DAY],
  ] as const)("%s is counted from now", (choice, ms) => {
    expect(resolveExpiration(choice, null, NOW)).toEqual({ ok: true, expiresAt: new Date(NOW.getTime() + ms) });
  });

  it("`No expiration` is null, and ignores a stray custom value", () => {
    expect(resolveExpiration("never", "2030-01-01T00:00:00Z", NOW)).toEqual({ ok: true, expiresAt: null });
  });

  it("`Custom` takes an instant with its offset, at least one minute ahead", () => {
    expect(resolveExpiration("custom", "2026-12-02T10:01:00.000Z", NOW)).toEqual({ ok: true, expiresAt: new Date("2026-12-02T10:01:00.000Z") });
    expect(resolveExpiration("custom", "2026-12-02T12:30+02:00", NOW)).toEqual({ ok: true, expiresAt: new Date("2026-12-02T10:30:00.000Z") });
    expect(resolveExpiration("custom", "2026-12-02T10:00:59.999Z", NOW)).toEqual({ ok: false, message: "Expires at must be at least one minute from now." });
  });

  it.each([
    ["missing", null, "Enter the date and time the key expires."],
    ["empty", "", "Enter the date and time the key expires."],
    ["in the past", "2020-01-01T00:00:00Z", "Expires at must be at least one minute from now."],
    ["no offset (would be read in the server's zone)", "2027-01-01T00:00", "Expires at is not a valid date and time."],
    ["a date only", "2027-01-01", "Expires at is not a valid date and time."],
    ["not a date", "next tuesday", "Expires at is not a valid date and time."],
    ["an impossible date", "2027-02-31T00:00:00Z", "Expires at is not a valid date and time."],
    ["an impossible time", "2027-01-01T24:30:00Z", "Expires at is not a valid date and time."],
    ["month 13", "2027-13-01T00:00:00Z", "Expires at is not a valid date and time."],
    ["past ten years", "2040-01-01T00:00:00Z", "Expires at must be within ten years."],
  ])("`Custom` %s is refused", (_label, value, message) => {
    expect(resolveExpiration("custom", value, NOW)).toEqual({ ok: false, message });
  });
});

describe("resolveGrace", () => {
  it.each([
    ["now", null, false],
    ["1h", 3_600_000, false],
    ["24h", DAY, false],
    ["7d", 7 * DAY, false],
    ["first_use", 7 * DAY, true],
  ] as const)("%s", (choice, ms, untilFirstUse) => {
    expect(resolveGrace(choice, NOW)).toEqual({ validUntil: ms === null ? null : new Date(NOW.getTime() + ms), untilFirstUse });
  });
});

describe("elevations", () => {
  it.each([
    ["15m", 15 * 60_000],
    ["1h", 3_600_000],
    ["4h", 4 * 3_600_000],
    ["24h", DAY],
  ] as const)("%s ends that long from now", (duration, ms) => {
    expect(elevationEnd(duration, NOW)).toEqual(new Date(NOW.getTime() + ms));
  });

  it("targets round-trip, and anything else is refused", () => {
    for (const target of [{ resource: "graphql" }, { resource: "endpoints" }, { resource: "endpoint", endpointId: "ep_1" }] as const) {
      expect(parseElevationTarget(elevationTargetKey(target))).toEqual(target);
    }
    for (const junk of ["", "pods", "endpoint:", "GraphQL", "endpoints:", `endpoint:${"x".repeat(200)}`]) expect(parseElevationTarget(junk)).toBeNull();
  });

  it("a reason follows the name rule, 1–200 characters", () => {
    expect(normalizeReason("  deploy v2  ")).toEqual({ ok: true, name: "deploy v2" });
    expect(normalizeReason("r".repeat(200))).toEqual({ ok: true, name: "r".repeat(200) });
    expect(normalizeReason("r".repeat(201))).toEqual({ ok: false, message: REASON_MESSAGES.tooLong });
    expect(normalizeReason("   ")).toEqual({ ok: false, message: REASON_MESSAGES.required });
    expect(normalizeReason("a\u202Eb")).toEqual({ ok: false, message: REASON_MESSAGES.bidi });
    expect(normalizeReason("a\nb")).toEqual({ ok: false, message: REASON_MESSAGES.control });
    expect(REASON_MESSAGES.required).toBe("Reason is required.");
  });
});
