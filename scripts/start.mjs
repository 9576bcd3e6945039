#!/usr/bin/env node
// `npm start`: build when the build is missing or older than the sources, then serve.
// The database is created and migrated, and AUTH_SECRET generated into the data directory when
// unset, by the server process itself on start (instrumentation.ts, lib/env.ts).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const nextBin = path.join(root, "node_modules", ".bin", "next");
const tsxBin = path.join(root, "node_modules", ".bin", "tsx");
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const SOURCES = ["app", "components", "lib", "db", "public", "instrumentation.ts", "proxy.ts", "next.config.ts", "package-lock.json", "postcss.config.mjs"];

function newestMtime(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, child)));
  return newest;
}

const buildId = path.join(root, ".next", "BUILD_ID");
const built = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
const sourcesChanged = SOURCES.some((entry) => newestMtime(path.join(root, entry)) > built);
if (!built || sourcesChanged) {
  console.log(built ? "Sources changed since the last build: building…" : "No build yet: building…");
  const result = spawnSync(nextBin, ["build"], { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const port = process.env.PORT ?? "3000";
const host = process.env.HOST ?? "127.0.0.1";
// `next start` behind the front door (scripts/next-server.ts): client addresses, malformed paths.
const server = spawn(tsxBin, ["scripts/next-server.ts", "--port", port, "--hostname", host], { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
