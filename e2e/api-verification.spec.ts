import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import runpodSdk from "runpod-sdk";
import { createEndpoint, createKey, E2E_DATABASE_URL, E2E_PORT, expect, keyRow, scopeRow, signUp, test } from "./fixtures";

// The Next app (Playwright's webServer) and a standalone gateway, side by side on one database.
const GATEWAY_PORT = E2E_PORT + 1;
const GATEWAY = `http://127.0.0.1:${GATEWAY_PORT}`;
const root = path.resolve(__dirname, "..");
let gateway: ChildProcess | undefined;

async function startGateway(): Promise<ChildProcess> {
  const child = spawn(path.join(root, "node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/gateway.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: E2E_DATABASE_URL,
      KEYSCOPE_DATA_DIR: path.join(root, ".e2e"),
      GATEWAY_PORT: String(GATEWAY_PORT),
      ECHO_WORKER_DELAY_MS: "500",
    },
    stdio: "ignore",
    detached: true,
  });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${GATEWAY}/healthz`).then((r) => r.ok, () => false)) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("gateway did not start");
}

async function stopGateway(child: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid, signal);
  await exited;
}

test.describe.configure({ mode: "serial" });
test.beforeAll(async () => {
  gateway = await startGateway();
});
test.afterAll(async () => {
  await stopGateway(gateway);
});

test("runpod-sdk works unchanged against the Next app and the gateway", async ({ page, baseURL }) => {
  await signUp(page);
  const endpointId = await createEndpoint(page, "sdk-target");
  const key = await createKey(page, "sdk", async () => {
    await scopeRow(page, "sdk-target").getByRole("radio", { name: "Read / Write" }).click();
  });
  for (const base of [`${baseURL}/v2`, `${GATEWAY}/v2`]) {
    const endpoint = runpodSdk(key, { baseUrl: base }).endpoint(endpointId)!;
    const queued = await endpoint.run({ input: { prompt: "hello", n: 1 } });
    expect(queued.status).toMatch(/IN_QUEUE|IN_PROGRESS/);
    const done = await endpoint.runSync({ input: { echo: [1, 2, 3] } }, 10_000);
    expect(done).toMatchObject({ status: "COMPLETED", output: { echo: [1, 2, 3] } });
    const status = await endpoint.status(queued.id);
    expect(status.id).toBe(queued.id);
    const health = await endpoint.health();
    expect(health.jobs.completed).toBeGreaterThanOrEqual(1);
    expect(health.workers).toHaveProperty("idle");

    // A job cancelled before the (slowed) echo worker finishes it stays cancelled.
    const victim = await endpoint.run({ input: { slow: true } });
    const cancelled = await endpoint.cancel(victim.id);
    expect(cancelled).toMatchObject({ id: victim.id, status: "CANCELLED" });
    expect((await endpoint.status(victim.id)).status).toBe("CANCELLED");

    const purged = await endpoint.purgeQueue();
    expect(purged.status).toBe("completed");
    expect(typeof purged.removed).toBe("number");
  }
});

// The Next app made the change: it refuses from its answer on. The gateway is another process:
// its decision cache notices the change at its next revision poll (issue 8: within 100 ms).
const REFUSED_WITHIN_MS = [0, 100];

test("a key disabled in the dashboard is refused by the Next app from the answer on and by the gateway within 100 ms, under load", async ({ page, baseURL }) => {
  await signUp(page);
  const endpointId = await createEndpoint(page, "revocation-target");
  const key = await createKey(page, "revoke-me", async () => {
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
  });
  const targets = [`${baseURL}/v2/${endpointId}/health`, `${GATEWAY}/v2/${endpointId}/health`];
  const samples: { target: number; started: number; status: number; code?: string }[] = [];
  let loading = true;
  const worker = async (target: number) => {
    while (loading) {
      const started = Date.now();
      const response = await fetch(targets[target]!, { headers: { authorization: `Bearer ${key}` } });
      const body = (await response.json()) as { error?: { code: string } };
      samples.push({ target, started, status: response.status, code: body.error?.code });
    }
  };
  // 50 connections in all, half on each process (issue 4: load with revocation).
  const load = Array.from({ length: 50 }, (_, i) => worker(i % 2));
  await new Promise((resolve) => setTimeout(resolve, 700));

  const toggle = page.getByRole("switch", { name: "Enable revoke-me" });
  const disabledAt = Date.now();
  await toggle.click();
  await expect(toggle).not.toBeChecked();
  await expect(toggle).toBeEnabled(); // the server action has answered
  const acknowledgedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  loading = false;
  await Promise.all(load);

  for (const target of [0, 1]) {
    const mine = samples.filter((s) => s.target === target);
    const bound = REFUSED_WITHIN_MS[target]!;
    expect(mine.filter((s) => s.started < disabledAt).every((s) => s.status === 200)).toBe(true);
    // The disable takes effect when the server action commits, somewhere between the click and
    // its answer (under this load the action itself waits its turn). Nothing that starts `bound`
    // ms after the answer is allowed: 0 in the process that wrote, 100 ms in the other one.
    const late = mine.filter((s) => s.started >= acknowledgedAt + bound);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((s) => s.status === 401 && s.code === "KEY_DISABLED")).toBe(true);
    const lastAllowed = Math.max(...mine.filter((s) => s.status === 200).map((s) => s.started));
    expect(lastAllowed).toBeLessThan(acknowledgedAt + bound);
    console.log(
      `process ${target === 0 ? "next" : "gateway"}: ${mine.length} requests; the action answered ${acknowledgedAt - disabledAt} ms after the click; ` +
        `last allowed request started ${lastAllowed - disabledAt} ms after the click, ${lastAllowed - acknowledgedAt} ms after the answer (bound ${bound} ms)`,
    );
  }
});

test("last used moves forward after use and is flushed on a graceful stop", async ({ page }) => {
  await signUp(page);
  const endpointId = await createEndpoint(page, "usage-target");
  const key = await createKey(page, "used-key", async () => {
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
  });
  await expect(keyRow(page, "used-key")).toContainText("Never");
  const response = await fetch(`${GATEWAY}/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  // Well inside the 5 s flush interval: only the SIGTERM flush can have written it.
  await stopGateway(gateway, "SIGTERM");
  gateway = await startGateway();
  await page.reload();
  await expect(keyRow(page, "used-key")).not.toContainText("Never");
  await expect(keyRow(page, "used-key").locator("time").nth(1)).toHaveText("just now");
});
