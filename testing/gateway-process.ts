// Test-only helper: `npm run start:gateway` as its own process on a test database.
import { spawn, type ChildProcess } from "node:child_process";

export type GatewayProcess = { child: ChildProcess; url: string; exited: Promise<number | null>; output(): string; kill(): void };

/** Starts scripts/gateway.ts on a free port of 127.0.0.1 and resolves once it listens. */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ["node_modules/tsx/dist/cli.mjs", "--conditions=react-server", "scripts/gateway.ts"], {
    env: { ...process.env, GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: "0", NODE_OPTIONS: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: tsx runs the gateway in a child process, which a SIGKILL of tsx
    // alone would leave running after a failed test.
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
