import { describe, expect, it } from "vitest";
import { AuthLimiter, DEFAULT_AUTH_LIMITS, retryAfterText, signInRefusedMessage, signUpRefusedMessage, type AuthLimits } from "./auth-limiter";

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const limits: AuthLimits = { signInFailuresPerEmail: 3, signInFailuresPerAddress: 5, signInWindowMs: 15 * MINUTE, signUpsPerAddress: 2, signUpWindowMs: 60 * MINUTE };

// An attempt: who, from where, when (minutes after T0), and how it ends if admitted.
type Attempt = [email: string, address: string, atMinutes: number, outcome: "fail" | "ok" | "error"];

function run(attempts: Attempt[], limiter = new AuthLimiter(limits)): string[] {
  return attempts.map(([email, address, at, outcome]) => {
    const attempt = limiter.beginSignIn(email, address, T0 + at * MINUTE);
    if (!attempt.ok) return `refused ${Math.ceil(attempt.retryAfterMs / MINUTE)}m`;
    if (outcome === "ok") attempt.succeeded();
    if (outcome === "error") attempt.abandoned();
    return "admitted";
  });
}

const fails = (email: string, address: string, count: number, at = 0): Attempt[] => Array.from({ length: count }, () => [email, address, at, "fail"]);

describe("AuthLimiter sign-in (3 failures per email, 5 per address, per 15 minutes)", () => {
  it.each<[string, Attempt[], string[]]>([
    ["3 failures are answered, the 4th is refused", fails("a@x", "1.1.1.1", 4), ["admitted", "admitted", "admitted", "refused 15m"]],
    ["the right password is refused too once the email is blocked", [...fails("a@x", "1.1.1.1", 3), ["a@x", "1.1.1.1", 1, "ok"]], ["admitted", "admitted", "admitted", "refused 14m"]],
    ["another address does not help the blocked email", [...fails("a@x", "1.1.1.1", 3), ["a@x", "2.2.2.2", 0, "fail"]], ["admitted", "admitted", "admitted", "refused 15m"]],
    ["the window slides: 15 minutes after the first failure there is room again", [["a@x", "1.1.1.1", 0, "fail"], ["a@x", "1.1.1.1", 5, "fail"], ["a@x", "1.1.1.1", 10, "fail"], ["a@x", "1.1.1.1", 14, "fail"], ["a@x", "1.1.1.1", 15, "fail"], ["a@x", "1.1.1.1", 15, "fail"]], ["admitted", "admitted", "admitted", "refused 1m", "admitted", "refused 5m"]],
    ["a success clears the email's failures", [...fails("a@x", "1.1.1.1", 2), ["a@x", "1.1.1.1", 0, "ok"], ...fails("a@x", "1.1.1.1", 4)], ["admitted", "admitted", "admitted", "admitted", "admitted", "admitted", "refused 15m"]],
    ["a database error counts for nothing", [["a@x", "1.1.1.1", 0, "error"], ["a@x", "1.1.1.1", 0, "error"], ["a@x", "1.1.1.1", 0, "error"], ...fails("a@x", "1.1.1.1", 3)], ["admitted", "admitted", "admitted", "admitted", "admitted", "admitted"]],
    ["one address spraying many emails is stopped at 5", [...["a", "b", "c", "d", "e", "f"].map((e): Attempt => [`${e}@x`, "1.1.1.1", 0, "fail"])], ["admitted", "admitted", "admitted", "admitted", "admitted", "refused 15m"]],
    ["successes do not use up the address's allowance", [...["a", "b", "c", "d", "e", "f", "g"].map((e): Attempt => [`${e}@x`, "1.1.1.1", 0, "ok"])], Array(7).fill("admitted")],
    ["other emails from a blocked address are refused", [...["a", "b", "c", "d", "e"].map((e): Attempt => [`${e}@x`, "1.1.1.1", 0, "fail"]), ["z@x", "1.1.1.1", 0, "ok"], ["z@x", "2.2.2.2", 0, "ok"]], ["admitted", "admitted", "admitted", "admitted", "admitted", "refused 15m", "admitted"]],
  ])("%s", (_label, attempts, expected) => {
    expect(run(attempts)).toEqual(expected);
  });

  it("treats an email with an account and one without identically (the limiter never knows which)", () => {
    // Same sequence, different emails: the limiter sees only keys, so the answers match.
    const sequence = (email: string): Attempt[] => [...fails(email, "9.9.9.9", 4), [email, "9.9.9.9", 16, "fail"]];
    expect(run(sequence("has-account@x"))).toEqual(run(sequence("no-account@x")));
  });

  it("admits concurrent attempts only up to the limit (slots are taken before the password is checked)", () => {
    const limiter = new AuthLimiter(limits);
    const inFlight = Array.from({ length: 10 }, () => limiter.beginSignIn("a@x", "1.1.1.1", T0));
    expect(inFlight.filter((attempt) => attempt.ok)).toHaveLength(3);
  });

  it("settles an attempt once", () => {
    const limiter = new AuthLimiter(limits);
    const first = limiter.beginSignIn("a@x", "1.1.1.1", T0);
    if (!first.ok) throw new Error("expected admission");
    first.abandoned();
    first.abandoned();
    first.succeeded();
    expect(run(fails("a@x", "1.1.1.1", 4), limiter)).toEqual(["admitted", "admitted", "admitted", "refused 15m"]);
  });
});

describe("AuthLimiter sign-up (2 per address per hour)", () => {
  it.each<[string, [address: string, atMinutes: number][], string[]]>([
    ["the third from one address is refused", [["1.1.1.1", 0], ["1.1.1.1", 1], ["1.1.1.1", 2]], ["ok", "ok", "refused 58m"]],
    ["addresses are counted apart", [["1.1.1.1", 0], ["1.1.1.1", 0], ["2.2.2.2", 0]], ["ok", "ok", "ok"]],
    ["an hour later there is room again", [["1.1.1.1", 0], ["1.1.1.1", 0], ["1.1.1.1", 60]], ["ok", "ok", "ok"]],
  ])("%s", (_label, attempts, expected) => {
    const limiter = new AuthLimiter(limits);
    const answers = attempts.map(([address, at]) => {
      const verdict = limiter.beginSignUp(address, T0 + at * MINUTE);
      return verdict.ok ? "ok" : `refused ${Math.ceil(verdict.retryAfterMs / MINUTE)}m`;
    });
    expect(answers).toEqual(expected);
  });

  it("is separate from sign-in failures", () => {
    const limiter = new AuthLimiter(limits);
    run(fails("a@x", "1.1.1.1", 5), limiter);
    expect(limiter.beginSignUp("1.1.1.1", T0).ok).toBe(true);
  });
});

describe("messages", () => {
  it.each([
    [1, "Try again in 1 minute."],
    [60_000, "Try again in 1 minute."],
    [60_001, "Try again in 2 minutes."],
    [15 * MINUTE, "Try again in 15 minutes."],
    [0, "Try again in 1 minute."],
  ])("%d ms → %j", (ms, text) => {
    expect(retryAfterText(ms)).toBe(text);
  });

  it("names what was refused", () => {
    expect(signInRefusedMessage(15 * MINUTE)).toBe("Too many sign-in attempts. Try again in 15 minutes.");
    expect(signUpRefusedMessage(2 * MINUTE)).toBe("Too many sign-up attempts. Try again in 2 minutes.");
  });

  it("defaults to 5 failures per email and 20 per address per 15 minutes, 10 sign-ups per address per hour", () => {
    expect(DEFAULT_AUTH_LIMITS).toEqual({ signInFailuresPerEmail: 5, signInFailuresPerAddress: 20, signInWindowMs: 15 * MINUTE, signUpsPerAddress: 10, signUpWindowMs: 60 * MINUTE });
  });
});
