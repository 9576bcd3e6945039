import { removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount, verifyAccountCredentials } from "./accounts";

afterAll(removeTestDatabase);

// A property, not a speed target: a sign-in for an email without an account must cost about
// what a wrong password for a real account costs (both run one argon2 verification), so that
// response times do not reveal which emails have accounts. The bound is loose on purpose.
describe("verifyAccountCredentials timing", () => {
  const known = uniqueEmail("timing");
  const ROUNDS = 10;

  beforeAll(async () => {
    const created = await createAccount(known, "correct horse battery staple");
    if (!created.ok) throw new Error("setup failed");
  });

  function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }

  async function timed(email: string): Promise<number> {
    const started = performance.now();
    const account = await verifyAccountCredentials(email, "wrong password");
    const elapsed = performance.now() - started;
    expect(account).toBeNull();
    return elapsed;
  }

  it("takes about as long for an unknown email as for a wrong password", { timeout: 60_000 }, async () => {
    // Warm-up: the first unknown email also computes the dummy hash once per process.
    await timed(uniqueEmail("warmup"));
    await timed(known);

    const unknownTimes: number[] = [];
    const knownTimes: number[] = [];
    // Interleaved, so that drift in machine load affects both sides alike.
    for (let round = 0; round < ROUNDS; round += 1) {
      unknownTimes.push(await timed(uniqueEmail("nobody")));
      knownTimes.push(await timed(known));
    }
    const ratio = median(unknownTimes) / median(knownTimes);
    expect(ratio, `median unknown ${median(unknownTimes).toFixed(1)} ms / known ${median(knownTimes).toFixed(1)} ms`).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
