// Child processes for the fault suites: real servers and writers, each in its own process group
// (so a signal reaches the whole group and nothing is left behind), stopped by PID only.

import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

export const root = path.resolve(__dirname, "../..");

// Every child still running, so that a failing test leaves none behind (afterAll → stopAll).
const running = new Set<Child>();
process.once("exit", () => {
  for (const child of running) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Ports for servers started by the fault suites (127.0.0.1 only). */
export const PORTS = { crash: 3411, sigterm: 3412, sigkill: 3413, soak: 3414 } as const;

export type Child = {
  child: ChildProcess;
  pid: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Every stderr line so far. */
  stderr: string[];
  /** Calls `listener` with each stdout line from now on. */
  onLine(listener: (line: string) => void): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Runs a TypeScript entry point with node + tsx, as `npm run start:gateway` does. */
export function spawnScript(script: string, env: Record<string, string>, options: { nodeArgs?: string[]; ipc?: boolean } = {}): Child {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--conditions=react-server", "--import", "tsx", script], {
    cwd: root,
    env: { ...process.env, NODE_ENV: "production", ...env },
    detached: true,
    stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const stdout = createInterface({ input: child.stdout! });
  stdout.on("line", (line) => lines.push(line));
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    stderr.push(line);
    if (process.env.KEYSCOPE_FAULT_VERBOSE) console.error(`[${path.basename(script)} ${child.pid}] ${line}`);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(started);
      resolve({ code, signal });
    }),
  );
  const started: Child = { child, pid: child.pid!, lines, stderr, onLine: (listener) => void stdout.on("line", listener), exited };
  running.add(started);
  return started;
}

/** For afterAll: kills whatever a test left running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stop(child, "SIGKILL")));
}

/** Sends `signal` to the child's process group and waits for the child to exit. */
export async function stop(target: Child, signal: NodeJS.Signals = "SIGTERM") {
  if (target.child.exitCode === null && target.child.signalCode === null) {
    try {
      process.kill(-target.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
  return target.exited;
}

export type Gateway = Child & { origin: string };

/** `scripts/gateway.ts` on 127.0.0.1:`port`, once /healthz answers. */
export async function startGateway(port: number, env: Record<string, string>, options: { nodeArgs?: string[]; ipc?: boolean; script?: string } = {}): Promise<Gateway> {
  const origin = `http://127.0.0.1:${port}`;
  // Something else answering there would pass for the new server.
  if (await fetch(`${origin}/healthz`).then(() => true, () => false)) throw new Error(`port ${port} is already in use`);
  const started = spawnScript(options.script ?? "scripts/gateway.ts", { GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: String(port), ...env }, options);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`gateway exited with ${started.child.exitCode}`);
    if (await fetch(`${origin}/healthz`).then((r) => r.ok, () => false)) return { ...started, origin };
    await sleep(50);
  }
  await stop(started, "SIGKILL");
  throw new Error("gateway did not start");
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Open file descriptors and resident memory of a process, from /proc. */
export function processFigures(pid: number): { fds: number; rssMb: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return { fds, rssMb: Math.round((Number(rss) / 1024) * 10) / 10 };
}

/** Prints a suite's figures and keeps them for the summary of `npm run test:faults`. */
export function recordFigures(suite: string, figures: Record<string, unknown>): void {
  console.log(`${suite}: ${JSON.stringify(figures)}`);
  if (process.env.KEYSCOPE_FAULT_FIGURES) appendFileSync(process.env.KEYSCOPE_FAULT_FIGURES, JSON.stringify({ suite, ...figures }) + "\n");
}
