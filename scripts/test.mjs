#!/usr/bin/env node
// `npm test`: every suite, in order — lint, typecheck, unit + integration (vitest), production
// build, end-to-end (Playwright in Debian's chromium) — then one line summing them all:
// `N passed, N failed`. Lint, typecheck and build count as one check each. A suite that fails
// does not stop the others, so one run shows everything that is wrong.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const reports = path.join(root, "test-results");
mkdirSync(reports, { recursive: true });
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", FORCE_COLOR: process.env.FORCE_COLOR ?? "0" };

const totals = [];

function run(title, command, args, extraEnv = {}) {
  console.log(`\n=== ${title}: ${path.basename(command)} ${args.join(" ")}`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env: { ...env, ...extraEnv } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  return { ok: result.status === 0, seconds };
}

function check(title, command, args) {
  const { ok, seconds } = run(title, command, args);
  totals.push({ title, passed: ok ? 1 : 0, failed: ok ? 0 : 1, seconds });
  return ok;
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

check("lint", bin("eslint"), ["."]);
check("typecheck", bin("tsc"), ["--noEmit"]);

{
  const file = path.join(reports, "vitest.json");
  rmSync(file, { force: true });
  const { ok, seconds } = run("unit + integration", bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${file}`]);
  const report = readJson(file);
  const passed = report?.numPassedTests ?? 0;
  // A crash before any report counts as one failure, so it can never read as success.
  const failed = report ? report.numFailedTests + (ok ? 0 : report.numFailedTests === 0 ? 1 : 0) : 1;
  totals.push({ title: "unit + integration", passed, failed, seconds });
}

const built = check("build", bin("next"), ["build"]);

if (built) {
  const file = path.join(reports, "playwright.json");
  rmSync(file, { force: true });
  const { ok, seconds } = run("end-to-end", bin("playwright"), ["test"], { PLAYWRIGHT_JSON_OUTPUT_NAME: file });
  const stats = readJson(file)?.stats;
  const passed = stats ? stats.expected + stats.flaky : 0;
  const failed = stats ? stats.unexpected + (ok ? 0 : stats.unexpected === 0 ? 1 : 0) : 1;
  totals.push({ title: "end-to-end", passed, failed, seconds });
} else {
  totals.push({ title: "end-to-end (not run: build failed)", passed: 0, failed: 1, seconds: "0.0" });
}

console.log("\n=== summary");
for (const t of totals) console.log(`${t.title.padEnd(36)} ${String(t.passed).padStart(4)} passed ${String(t.failed).padStart(3)} failed  ${t.seconds}s`);
const passed = totals.reduce((sum, t) => sum + t.passed, 0);
const failed = totals.reduce((sum, t) => sum + t.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
