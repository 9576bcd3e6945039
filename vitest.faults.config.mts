import { defineConfig } from "vitest/config";
import base from "./vitest.config.mts";

// `npm run test:faults` (scripts/test-faults.mjs): the slow fault-injection suites — crashes,
// a full disk, a soak, and the locked-database test with its full 10 s lock — one file at a
// time, since they measure timings and resources of real processes.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ["faults/**/*.fault.ts", "lib/http/locked-database.test.ts"],
    environment: "node",
    pool: "forks",
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    env: {
      KEYSCOPE_FAULT_LOCK_HOLD_MS: "10000",
      DATABASE_BUSY_TIMEOUT_MS: "2000",
    },
  },
});
