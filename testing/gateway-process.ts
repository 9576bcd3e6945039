// Test-only helper: `npm run start:gateway` as its own process on a test database.
import { spawn, type ChildProcess } from "node:child_process";

export type GatewayProcess = { child: ChildProcess; url: string; exited: Promise<number | null>; output(): string; kill(): void };

/** Starts scripts/gateway.ts on a free port of 127.0.0.1 and resolves once it listens. */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  // node itself with tsx as a loader, not the tsx CLI: the CLI runs the gateway in a child and
  // relays signals to it, and under load that relay could end the gateway by SIGTERM before its
  // own handler flushed (exit 143, once). This way a signal reaches the gateway itself.
  const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", "scripts/gateway.ts"], {
    env: { ...process.env, GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: "0", NODE_OPTIONS: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that a failed test's SIGKILL takes everything it started.
    detached: true,
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", () => reject(new Error(`gateway exited: ${output}`)));
  });
  const kill = () => {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, "SIGKILL");
  };
  return { child, url, exited, output: () => output, kill };
}
