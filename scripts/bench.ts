// npm run bench — throughput and latency of verification, printed as tables (not part of npm test).
//
//   (a) plain node:http answering a constant: this machine's ceiling
//   (b) the gateway's GET /v2/{id}/health with a valid key (npm run start:gateway)
//   (c) the Next.js app's same route (scripts/next-server.ts: next start behind the front door)
//   (d) a Next.js route without authentication (/api/health): Next's own ceiling
//   and, in one process, decide() over a database of 1k and of 100k keys.
//
// autocannon, 50 connections, BENCH_RUNS runs of BENCH_DURATION seconds, targets interleaved so
// that ratios hold on a noisy machine; medians reported.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";

const root = path.resolve(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = 50;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function waitFor(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not come up`);
}

function start(command: string, args: string[], env: Record<string, string>): ChildProcess {
  // Own process group, so that stopping it stops everything it started.
  return spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"], detached: true });
}

function stop(child: ChildProcess) {
  if (child.pid) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}

async function load(url: string, headers: Record<string, string>, seconds: number) {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

/** One process, one database of `size` keys: how long does decide() take? */
async function micro(size: number) {
  const dir = mkdtempSync(path.join(tmpdir(), "keyscope-bench-micro-"));
  process.env.DATABASE_URL = `file:${path.join(dir, "bench.db")}`;
  process.env.LAST_USED_FLUSH_MS = "60000";
  const { getDataPlane } = await import("@/lib/server/data-plane");
  const { generateScopedKey } = await import("@/lib/core/keys/generate");
  const { hashKey } = await import("@/lib/core/keys/hash");
  const { formatDisplayHint } = await import("@/lib/core/keys/format");
  const { decide } = await import("@/lib/core/verify/verifier");
  const plane = await getDataPlane();
  const Database = (await import("libsql")).default;
  const raw = new Database(path.join(dir, "bench.db"));
  raw.prepare("INSERT INTO accounts (id, email, password_hash, created_at) VALUES ('acct', 'bench@example.com', 'x', 0)").run();
  raw.prepare("INSERT INTO endpoints (id, account_id, name, created_at) VALUES ('ep', 'acct', 'bench', 0)").run();
  const insert = raw.prepare(
    "INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint, enabled, graphql_level, endpoints_all_level, created_at) VALUES (?, 'acct', ?, 'scoped', ?, ?, 1, 'none', 'read', 0)",
  );
  const sample: string[] = [];
  raw.exec("BEGIN");
  for (let i = 0; i < size; i++) {
    const key = generateScopedKey();
    if (i % Math.max(1, Math.floor(size / 1000)) === 0) sample.push(key);
    insert.run(`key_${i}`, `key ${i}`, hashKey(key), formatDisplayHint(key, "scoped"));
  }
  raw.exec("COMMIT");
  raw.close();

  const requirement = { resource: "endpoint", endpointId: "ep", access: "read" } as const;
  for (let i = 0; i < 5_000; i++) await decide(sample[i % sample.length]!, requirement, plane.keyStore);
  const iterations = 50_000;
  const times: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    const decision = await decide(sample[(i * 7919) % sample.length]!, requirement, plane.keyStore);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (!decision.ok) throw new Error(`bench key refused: ${decision.code}`);
  }
  const total = Number(process.hrtime.bigint() - started) / 1e9;
  times.sort((a, b) => a - b);
  rmSync(dir, { recursive: true, force: true });
  return { size, p50: percentile(times, 50), p99: percentile(times, 99), perSecond: iterations / total };
}

async function main() {
  if (process.argv[2] === "--micro") {
    console.log(JSON.stringify(await micro(Number(process.argv[3]))));
    return;
  }

  if (!existsSync(path.join(root, ".next", "BUILD_ID"))) {
    console.log("No build yet: building…");
    spawnSync(path.join(root, "node_modules/.bin/next"), ["build"], { cwd: root, stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  }

  const dir = mkdtempSync(path.join(tmpdir(), "keyscope-bench-"));
  const env = { DATABASE_URL: `file:${path.join(dir, "bench.db")}`, KEYSCOPE_DATA_DIR: dir, NEXT_TELEMETRY_DISABLED: "1" };
  process.env.DATABASE_URL = env.DATABASE_URL;
  const { createAccount } = await import("@/lib/dal/accounts");
  const { createEndpoint } = await import("@/lib/dal/endpoints");
  const { createScopedApiKey } = await import("@/lib/dal/api-keys");
  const account = await createAccount("bench@example.com", "bench password");
  if (!account.ok) throw new Error(account.message);
  const endpoint = await createEndpoint(account.value.id, "bench", { type: "cli", command: "bench" });
  if (!endpoint.ok) throw new Error(endpoint.message);
  const created = await createScopedApiKey(account.value.id, {
    name: "bench",
    scopes: { graphql: "none", endpointsAll: "read", endpoints: {} },
  }, { type: "cli", command: "bench" });
  if (!created.ok) throw new Error(created.message);
  const auth = { authorization: `Bearer ${created.value.plaintext}` };
  const healthPath = `/v2/${endpoint.value.id}/health`;

  const children = [
    start(process.execPath, ["-e", `require("node:http").createServer((q, s) => { s.writeHead(200, { "content-type": "application/json" }); s.end('{"status":"ok"}'); }).listen(3202, "127.0.0.1")`], env),
    start(path.join(root, "node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/gateway.ts"], { ...env, GATEWAY_PORT: "3201" }),
    start(path.join(root, "node_modules/.bin/tsx"), ["scripts/next-server.ts", "--port", "3200", "--hostname", "127.0.0.1"], env),
  ];
  const cleanup = () => {
    children.forEach(stop);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });

  try {
    await Promise.all(["http://127.0.0.1:3202/", "http://127.0.0.1:3201/healthz", "http://127.0.0.1:3200/api/health"].map((url) => waitFor(url)));
    const targets = [
      { label: "(a) node:http constant", url: "http://127.0.0.1:3202/", headers: {} },
      { label: "(b) gateway /v2/{id}/health + key", url: `http://127.0.0.1:3201${healthPath}`, headers: auth },
      { label: "(c) Next /v2/{id}/health + key", url: `http://127.0.0.1:3200${healthPath}`, headers: auth },
      { label: "(d) Next /api/health, no auth", url: "http://127.0.0.1:3200/api/health", headers: {} },
    ];
    for (const target of targets) {
      const check = await fetch(target.url, { headers: target.headers });
      if (check.status !== 200) throw new Error(`${target.label} answered ${check.status}`);
      await load(target.url, target.headers, 2); // warm-up: JIT, Next's lazy route loading
    }
    const results = new Map(targets.map((t) => [t.label, [] as Awaited<ReturnType<typeof load>>[]]));
    for (let run = 1; run <= RUNS; run++) {
      for (const target of targets) {
        const result = await load(target.url, target.headers, DURATION);
        results.get(target.label)!.push(result);
        console.error(`run ${run}/${RUNS} ${target.label}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms`);
      }
    }

    const row = (label: string) => {
      const runs = results.get(label)!;
      return { rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), bad: runs.reduce((n, r) => n + r.non2xx + r.errors, 0) };
    };
    const [a, b, c, d] = targets.map((t) => row(t.label)) as [ReturnType<typeof row>, ReturnType<typeof row>, ReturnType<typeof row>, ReturnType<typeof row>];

    console.log(`\nHTTP: ${CONNECTIONS} connections, ${RUNS} × ${DURATION} s, medians (autocannon)\n`);
    console.log("| server | req/s | p50 ms | p99 ms | non-2xx |");
    console.log("| --- | ---: | ---: | ---: | ---: |");
    targets.forEach((t, i) => {
      const r = [a, b, c, d][i]!;
      console.log(`| ${t.label} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.bad} |`);
    });
    console.log(`\n| target | measured | goal |`);
    console.log("| --- | ---: | --- |");
    console.log(`| (b) / (a) | ${(b.rps / a.rps).toFixed(2)} | ≥ 0.5 |`);
    console.log(`| (b) p99 | ${b.p99} ms | < 10 ms |`);
    console.log(`| (c) / (d) | ${(c.rps / d.rps).toFixed(2)} | ≥ 0.9 |`);
  } finally {
    cleanup();
  }

  const micros = [1_000, 100_000].map((size) => {
    const out = spawnSync(path.join(root, "node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/bench.ts", "--micro", String(size)], {
      cwd: root,
      encoding: "utf8",
    });
    if (out.status !== 0) throw new Error(out.stderr);
    return JSON.parse(out.stdout.trim().split("\n").pop()!) as Awaited<ReturnType<typeof micro>>;
  });
  console.log(`\ndecide() in one process, 50,000 calls (prepared lookup by hash, file database)\n`);
  console.log("| keys in database | p50 µs | p99 µs | decisions/s |");
  console.log("| ---: | ---: | ---: | ---: |");
  for (const m of micros) console.log(`| ${m.size.toLocaleString("en")} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${Math.round(m.perSecond)} |`);
  const [small, large] = micros as [(typeof micros)[0], (typeof micros)[0]];
  console.log(`\np50 at 100k keys vs 1k keys: ${(((large.p50 - small.p50) / small.p50) * 100).toFixed(1)}% (goal: within 15%)`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
