#!/usr/bin/env node
// Serves the production build for Playwright on 127.0.0.1, on a database created fresh per run.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const port = process.argv[2] ?? "3100";
const dataDir = path.join(root, ".e2e");
rmSync(dataDir, { recursive: true, force: true });

const server = spawn(path.join(root, "node_modules/.bin/tsx"), ["scripts/next-server.ts", "--port", port, "--hostname", "127.0.0.1"], {
  cwd: root,
  stdio: "inherit",
  env: {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: `file:${path.join(dataDir, "keyscope.db")}`,
    KEYSCOPE_DATA_DIR: dataDir,
    // Slow enough that a test can cancel a job before the echo worker finishes it.
    ECHO_WORKER_DELAY_MS: process.env.ECHO_WORKER_DELAY_MS ?? "500",
    // Every spec signs up and signs in from 127.0.0.1: per-address limits would trip over the
    // suite itself. The per-email limit keeps its default (e2e/security-headers.spec.ts).
    SIGNIN_MAX_FAILURES_PER_ADDRESS: process.env.SIGNIN_MAX_FAILURES_PER_ADDRESS ?? "100000",
    SIGNUP_MAX_PER_ADDRESS: process.env.SIGNUP_MAX_PER_ADDRESS ?? "100000",
    // Webhook receivers in e2e/webhooks.spec.ts listen on 127.0.0.1, and a failed delivery is
    // retried in moments rather than seconds.
    WEBHOOK_ALLOW_PRIVATE: process.env.WEBHOOK_ALLOW_PRIVATE ?? "1",
    WEBHOOK_POLL_MS: process.env.WEBHOOK_POLL_MS ?? "100",
    WEBHOOK_RETRY_BASE_MS: process.env.WEBHOOK_RETRY_BASE_MS ?? "200",
    // Leak reports (SPEC §9) exist only with a secret; e2e/leaks.spec.ts signs with the same one.
    LEAK_REPORT_SECRET: process.env.LEAK_REPORT_SECRET ?? "e2e-leak-report-secret-0123456789abcdef",
  },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code) => process.exit(code ?? 0));
