#!/usr/bin/env node
// `npm run test:faults`: the slow fault-injection suites (vitest.faults.config.mts) — the database
// locked by another process for 10 s, kill -9 and SIGTERM during writes, a full disk, a 10,000-
// action soak — then the figures they measured, how long each took, and one line
// `N passed, N failed`. A suite that cannot run here (no file system can be mounted for the
// full-disk test) is counted as skipped, never as passed. Exits non-zero on any failure.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const reports = path.join(root, "test-results");
mkdirSync(reports, { recursive: true });
const reportFile = path.join(reports, "faults.json");
const figuresFile = path.join(reports, "faults-figures.jsonl");
rmSync(reportFile, { force: true });
rmSync(figuresFile, { force: true });

const started = Date.now();
const result = spawnSync(
  path.join(root, "node_modules", ".bin", "vitest"),
  ["run", "--config", "vitest.faults.config.mts", "--reporter=default", "--reporter=json", `--outputFile.json=${reportFile}`, ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit", env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? "0", KEYSCOPE_FAULT_FIGURES: figuresFile } },
);
const seconds = ((Date.now() - started) / 1000).toFixed(1);

let report = null;
try {
  report = JSON.parse(readFileSync(reportFile, "utf8"));
} catch {
  // no report: counted as a failure below
}

console.log("\n=== figures");
if (existsSync(figuresFile)) {
  for (const line of readFileSync(figuresFile, "utf8").split("\n").filter(Boolean)) {
    const { suite, ...figures } = JSON.parse(line);
    console.log(`${suite}:`);
    for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(28)} ${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
} else {
  console.log("(none recorded)");
}

console.log("\n=== timings");
for (const file of report?.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    const duration = typeof test.duration === "number" ? `${(test.duration / 1000).toFixed(1)}s` : "-";
    console.log(`${test.status.padEnd(8)} ${duration.padStart(7)}  ${path.relative(root, file.name)} › ${test.title}`);
  }
}
console.log(`total ${seconds}s`);

const passed = report?.numPassedTests ?? 0;
const skipped = (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0);
// A crash before any report, or a failing run with no failed test in it, counts as one failure.
const failed = report ? report.numFailedTests + (result.status === 0 || report.numFailedTests > 0 ? 0 : 1) : 1;
if (skipped > 0) console.log(`${skipped} skipped (could not run here; see above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
