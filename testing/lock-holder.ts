// Test-only helper: another process that takes the database's write lock (`BEGIN IMMEDIATE`),
// optionally writes inside it, and holds it until told to let go or until `holdMs` has passed.
// A child process, not a second connection in the test's own process: the lock then behaves as
// it does between two servers, and the holder's waits never run on the test's event loop.

import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";

const root = path.resolve(__dirname, "..");

const HOLDER = `
const Database = require("libsql");
const [file, holdMs, end, statements] = process.argv.slice(1);
const db = new Database(file, { timeout: 5000 });
db.exec("BEGIN IMMEDIATE");
for (const sql of JSON.parse(statements)) db.exec(sql);
process.stdout.write("locked " + Date.now() + "\\n");
let done = false;
const finish = (how) => {
  if (done) return;
  done = true;
  db.exec(how === "commit" ? "COMMIT" : "ROLLBACK");
  db.close();
  process.stdout.write("released " + Date.now() + "\\n", () => process.exit(0));
};
setTimeout(() => finish(end), Number(holdMs));
require("node:readline").createInterface({ input: process.stdin }).on("line", (line) => finish(line.trim() || end));
`;

export type LockHolder = {
  pid: number;
  /** Wall-clock time (Date.now) at which the holder had the lock. */
  lockedAt: number;
  /** Resolves with the wall-clock time at which the holder let go of the lock. */
  released: Promise<number>;
  /** Lets go now, committing or rolling back what it wrote; resolves once it has. */
  release(how?: "commit" | "rollback"): Promise<number>;
};

/**
 * Starts a process holding the write lock of `file` and resolves once it has it. It lets go
 * after `holdMs` (committing when `end` is "commit", else rolling back) or on `release()`.
 */
export async function holdWriteLock(file: string, options: { holdMs: number; end?: "commit" | "rollback"; statements?: string[] }): Promise<LockHolder> {
  const end = options.end ?? "rollback";
  const child = spawn(process.execPath, ["-e", HOLDER, file, String(options.holdMs), end, JSON.stringify(options.statements ?? [])], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  let lockedAt: (at: number) => void = () => {};
  let releasedAt: (at: number) => void = () => {};
  let failed: (error: Error) => void = () => {};
  const locked = new Promise<number>((resolve, reject) => {
    lockedAt = resolve;
    failed = reject;
  });
  const released = new Promise<number>((resolve) => (releasedAt = resolve));
  lines.on("line", (line) => {
    const [event, at] = line.split(" ");
    if (event === "locked") lockedAt(Number(at));
    if (event === "released") releasedAt(Number(at));
  });
  child.once("exit", (code) => {
    failed(new Error(`lock holder exited with ${code} before taking the lock`));
    releasedAt(Date.now());
  });
  const at = await locked;
  return {
    pid: child.pid!,
    lockedAt: at,
    released,
    release(how = end) {
      if (child.exitCode === null && child.stdin?.writable) child.stdin.write(`${how}\n`);
      return released;
    },
  };
}

/** Runs `work` while a 10 ms timer ticks: its result, how long it took, the ticks, the longest gap. */
export async function watchEventLoop<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; elapsed: number; ticks: number; maxGap: number }> {
  let ticks = 0;
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks += 1;
  }, 10);
  const started = performance.now();
  const [result] = await Promise.allSettled([work()]);
  const elapsed = performance.now() - started;
  clearInterval(timer);
  maxGap = Math.max(maxGap, performance.now() - last);
  return { result: result!, elapsed, ticks, maxGap };
}
