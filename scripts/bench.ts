// npm run bench — throughput, latency and memory of verification, printed as tables (not part of
// npm test).
//
//   (a)  plain node:http answering a constant: this machine's ceiling
//   (b)  the gateway's GET /v2/{id}/health with a valid key (scripts/gateway.ts)
//   (b') the gateway's POST /api/v1/keys/verify
//   (c)  the Next.js app's GET /v2/{id}/health (scripts/next-server.ts: next start behind the front door)
//   (d)  a Next.js route without authentication (/api/health): Next's own ceiling
//   and, for comparison, (b) and (b') without the decision cache (DECISION_CACHE_MAX_ENTRIES=0) and
//   through the gateway's Fetch path (every route through Request and Response, as before the
//   fast path), and plain node:http answering (b)'s and (b')'s very bytes as constants (after
//   reading (b')'s body): what node:http and the load generator cost for those shapes alone; then
//   the RSS of the gateway and of the Next server after the load, all with BENCH_KEYS (1M) keys in
//   the database; then decide() and revocation (scripts/bench-decisions.ts).
//
// Each row also gives the CPU time per request of the server and of this process (autocannon):
// on a shared machine, req/s moves with the neighbours; CPU per request much less so.
//
// autocannon, 50 connections, BENCH_RUNS runs of BENCH_DURATION seconds, targets interleaved so
// that ratios hold on a noisy machine; medians reported. BENCH_TARGETS picks some targets by key
// (a,b,b',c,d,b-nocache,b'-nocache,b-fetch,b'-fetch,a-b,a-b'); BENCH_DECISIONS=0 skips the decision sections;
// the measured keys carry an allowlist and a rate limit (SPEC §9) unless BENCH_RESTRICTIONS=0.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { hashKey } from "@/lib/core/keys/hash";
import autocannon from "autocannon";

const root = path.resolve(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
// The benchmark keys have an allowlist and a rate limit (SPEC §9) unless BENCH_RESTRICTIONS=0.
const RESTRICTED = process.env.BENCH_RESTRICTIONS !== "0";
const CONNECTIONS = 50;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function waitFor(url: string, timeoutMs = 120_000): Promise<void> {
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

function start(args: string[], env: Record<string, string>, stdout: "ignore" | "pipe" = "ignore"): ChildProcess {
  // node itself, not the tsx wrapper, so that the pid is the server's (its RSS is measured). Own
  // process group, so that stopping it stops everything it started.
  return spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", stdout, "inherit"], detached: true });
}

/** The gateway's last words on SIGTERM: how many decisions it counted into usage, in how many flushes and statements (SPEC §10). */
async function usageWrites(gateway: ChildProcess, output: string[]): Promise<{ decisions: number; flushes: number; statements: number; failed: number } | null> {
  if (gateway.exitCode === null) await new Promise((resolve) => gateway.once("exit", resolve));
  const match = /usage: (\d+) decisions counted, (\d+) flushes, (\d+) statements, (\d+) failed/.exec(output.join(""));
  return match ? { decisions: Number(match[1]), flushes: Number(match[2]), statements: Number(match[3]), failed: Number(match[4]) } : null;
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

/** Resident memory of a process in MB (Linux): all of it, its peak, and the part that maps files (the database's mmap among them). */
function memoryOf(pid: number): { rss: number; peak: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024, file: kb("RssFile") / 1024 };
}

/** CPU time a process has used so far, in µs (Linux; clock ticks of 10 ms). */
function cpuOf(pid: number | "self"): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

type Target = { key: string; label: string; url: string; method?: "POST"; headers: Record<string, string>; body?: string; server: () => number };

async function load(target: Target, seconds: number) {
  const before = { server: cpuOf(target.server()), client: cpuOf("self") };
  const result = await autocannon({ url: target.url, method: target.method ?? "GET", headers: target.headers, body: target.body, connections: CONNECTIONS, duration: seconds });
  const n = Math.max(1, result.requests.total);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    serverCpu: (cpuOf(target.server()) - before.server) / n,
    clientCpu: (cpuOf("self") - before.client) / n,
  };
}

/**
 * `--shapes <port> <health body> <verify body>`: node:http answering the gateway's health and
 * verify answers as constants, with the same headers; POST reads its JSON body first, as the
 * gateway does. The floor under (b) and (b') that no gateway code can go below.
 */
function shapesServer(port: number, health: string, verify: string) {
  const headers = (body: string) => ["cache-control", "no-store", "content-type", "application/json; charset=utf-8", "x-content-type-options", "nosniff", "content-length", String(Buffer.byteLength(body))];
  const server = createServer((req, res) => {
    if (req.method !== "POST") return void res.writeHead(200, headers(health)).end(health);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, headers(verify)).end(verify);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, "127.0.0.1");
  process.on("SIGTERM", () => process.exit(0));
}

/** `--fetch-gateway <port>`: the gateway with every route on the Fetch path, for comparison. */
async function fetchPathGateway(port: number) {
  const { getDataPlane } = await import("@/lib/server/data-plane");
  const { createGatewayServer } = await import("@/lib/http/gateway");
  await getDataPlane();
  const server = createGatewayServer({ trustedProxies: 0 }, { fastPath: false });
  server.keepAliveTimeout = 65_000;
  server.listen(port, "127.0.0.1");
  process.on("SIGTERM", () => process.exit(0));
}

async function main() {
  if (process.argv[2] === "--fetch-gateway") return fetchPathGateway(Number(process.argv[3]));
  if (process.argv[2] === "--shapes") return shapesServer(Number(process.argv[3]), process.argv[4]!, process.argv[5]!);

  if (!existsSync(path.join(root, ".next", "BUILD_ID"))) {
    console.log("No build yet: building…");
    spawnSync(path.join(root, "node_modules/.bin/next"), ["build"], { cwd: root, stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  }

  const dir = mkdtempSync(path.join(tmpdir(), "keyscope-bench-"));
  const file = path.join(dir, "bench.db");
  const env = { DATABASE_URL: `file:${file}`, KEYSCOPE_DATA_DIR: dir, NEXT_TELEMETRY_DISABLED: "1" };
  process.env.DATABASE_URL = env.DATABASE_URL;
  // The database, migrated, then BENCH_KEYS keys in one statement (random hashes, and 1,000 real
  // keys that may read every endpoint of the account), before any server opens it.
  const { getDb } = await import("@/db/handle");
  await getDb();
  const { seedKeys } = await import("./bench-decisions");
  const seeding = Date.now();
  const { endpointId, sample } = await seedKeys(file, KEYS);
  console.error(`${KEYS.toLocaleString("en")} keys inserted in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);
  if (RESTRICTED) {
    // SPEC §9 (issue 10): the measured keys carry an allowlist and a rate limit, as a careful
    // user's would; the limit is far above what one machine can send, so nothing is refused.
    const { default: Database } = await import("libsql");
    const raw = new Database(file);
    raw
      .prepare("UPDATE api_keys SET allowed_ips = ?, rate_limit = 1000000, rate_limit_per = 'second' WHERE key_hash IN (?, ?)")
      .run(JSON.stringify(["127.0.0.0/8", "::1/128"]), hashKey(sample[0]!), hashKey(sample[1]!));
    raw.close();
  }
  const auth = { authorization: `Bearer ${sample[0]}` };
  const healthPath = `/v2/${endpointId}/health`;
  const verifyBody = { key: sample[1], resource: "endpoint", endpointId, access: "read", ...(RESTRICTED ? { ip: "127.0.0.1" } : {}) };
  const verify = { method: "POST" as const, headers: { "content-type": "application/json" }, body: JSON.stringify(verifyBody) };

  const gateway = (port: number, extra: Record<string, string> = {}, stdout: "ignore" | "pipe" = "ignore") =>
    start(["--conditions=react-server", "--import", "tsx", "scripts/gateway.ts"], { ...env, ...extra, GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: String(port) }, stdout);
  // The measured gateway's output is read for its usage writes (printed when it stops).
  const gatewayOutput: string[] = [];
  const servers = {
    constant: start(["-e", `require("node:http").createServer((q, s) => { s.writeHead(200, { "content-type": "application/json" }); s.end('{"status":"ok"}'); }).listen(3202, "127.0.0.1")`], env),
    gateway: gateway(3201, {}, "pipe"),
    uncached: gateway(3203, { DECISION_CACHE_MAX_ENTRIES: "0" }),
    fetchPath: start(["--conditions=react-server", "--import", "tsx", "scripts/bench.ts", "--fetch-gateway", "3204"], env),
    next: start(["--import", "tsx", "scripts/next-server.ts", "--port", "3200", "--hostname", "127.0.0.1"], env),
    shapes: undefined as ChildProcess | undefined,
  };
  servers.gateway.stdout!.on("data", (chunk: Buffer) => gatewayOutput.push(chunk.toString()));
  const started = Date.now();
  const cleanup = () => {
    Object.values(servers).forEach((child) => child && stop(child));
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });

  const all: Target[] = [
    { key: "a", label: "(a) node:http constant", url: "http://127.0.0.1:3202/", headers: {}, server: () => servers.constant.pid! },
    { key: "b", label: "(b) gateway `GET /v2/{id}/health` + key", url: `http://127.0.0.1:3201${healthPath}`, headers: auth, server: () => servers.gateway.pid! },
    { key: "b'", label: "(b') gateway `POST /api/v1/keys/verify`", url: "http://127.0.0.1:3201/api/v1/keys/verify", ...verify, server: () => servers.gateway.pid! },
    { key: "c", label: "(c) Next `GET /v2/{id}/health` + key", url: `http://127.0.0.1:3200${healthPath}`, headers: auth, server: () => servers.next.pid! },
    { key: "d", label: "(d) Next `/api/health`, no auth", url: "http://127.0.0.1:3200/api/health", headers: {}, server: () => servers.next.pid! },
    { key: "b-nocache", label: "(b) without the decision cache", url: `http://127.0.0.1:3203${healthPath}`, headers: auth, server: () => servers.uncached.pid! },
    { key: "b'-nocache", label: "(b') without the decision cache", url: "http://127.0.0.1:3203/api/v1/keys/verify", ...verify, server: () => servers.uncached.pid! },
    { key: "b-fetch", label: "(b) through the Fetch path", url: `http://127.0.0.1:3204${healthPath}`, headers: auth, server: () => servers.fetchPath.pid! },
    { key: "b'-fetch", label: "(b') through the Fetch path", url: "http://127.0.0.1:3204/api/v1/keys/verify", ...verify, server: () => servers.fetchPath.pid! },
    { key: "a-b", label: "node:http sending (b)'s bytes as a constant", url: "http://127.0.0.1:3205/", headers: auth, server: () => servers.shapes!.pid! },
    { key: "a-b'", label: "node:http reading (b')'s body, sending its bytes", url: "http://127.0.0.1:3205/", ...verify, server: () => servers.shapes!.pid! },
  ];
  const picked = process.env.BENCH_TARGETS?.split(",").map((key) => key.trim());
  const targets = picked ? all.filter((t) => picked.includes(t.key)) : all;
  const memory: { label: string; rss: number; peak: number; file: number }[] = [];

  try {
    await Promise.all(["http://127.0.0.1:3202/", "http://127.0.0.1:3201/healthz", "http://127.0.0.1:3203/healthz", "http://127.0.0.1:3204/healthz", "http://127.0.0.1:3200/api/health"].map((url) => waitFor(url)));
    // The reference shapes: the gateway's own answers, byte for byte.
    const answer = async (target: Target | undefined) => (await fetch(target!.url, { method: target!.method, headers: target!.headers, body: target!.body })).text();
    const [healthAnswer, verifyAnswer] = await Promise.all([answer(all.find((t) => t.key === "b")), answer(all.find((t) => t.key === "b'"))]);
    servers.shapes = start(["--import", "tsx", "scripts/bench.ts", "--shapes", "3205", healthAnswer, verifyAnswer], env);
    await waitFor("http://127.0.0.1:3205/");
    for (const target of targets) {
      const check = await fetch(target.url, { method: target.method, headers: target.headers, body: target.body });
      const text = await check.text();
      if (check.status !== 200 || (target.body && !text.includes('"valid":true'))) throw new Error(`${target.label} answered ${check.status}: ${text}`);
      await load(target, 2); // warm-up: JIT, Next's lazy route loading
    }
    const results = new Map(targets.map((t) => [t.key, [] as Awaited<ReturnType<typeof load>>[]]));
    for (let run = 1; run <= RUNS; run++) {
      for (const target of targets) {
        const result = await load(target, DURATION);
        results.get(target.key)!.push(result);
        console.error(`run ${run}/${RUNS} ${target.label}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms`);
      }
    }
    // After the load, with BENCH_KEYS keys in the database.
    memory.push({ label: "gateway (scripts/gateway.ts)", ...memoryOf(servers.gateway.pid!) }, { label: "Next server (scripts/next-server.ts)", ...memoryOf(servers.next.pid!) });

    const row = (key: string) => {
      const runs = results.get(key);
      if (!runs) return undefined;
      return {
        rps: median(runs.map((r) => r.rps)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        bad: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
        serverCpu: median(runs.map((r) => r.serverCpu)),
        clientCpu: median(runs.map((r) => r.clientCpu)),
      };
    };

    console.log(`\nHTTP: ${CONNECTIONS} connections, ${RUNS} × ${DURATION} s, medians (autocannon); ${KEYS.toLocaleString("en")} keys in the database\n`);
    console.log("| server | req/s | p50 ms | p99 ms | non-2xx | server CPU µs/req | load generator CPU µs/req |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const t of targets) {
      const r = row(t.key)!;
      console.log(`| ${t.label} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.bad} | ${r.serverCpu.toFixed(0)} | ${r.clientCpu.toFixed(0)} |`);
    }
    console.log(`\nMemory after the load, ${KEYS.toLocaleString("en")} keys in the database\n`);
    console.log("| process | RSS MB | of which files MB | peak RSS MB |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const m of memory) console.log(`| ${m.label} | ${m.rss.toFixed(0)} | ${m.file.toFixed(0)} | ${m.peak.toFixed(0)} |`);

    const [a, b, bv, c, d, floorB, floorBv] = ["a", "b", "b'", "c", "d", "a-b", "a-b'"].map(row);
    const goals: string[] = [];
    if (a && b) goals.push(`| (b) / (a) | ${(b.rps / a.rps).toFixed(2)} | ≥ 0.7 |`, `| (b) p99 / (a) p99 | ${b.p99} / ${a.p99} ms | ≤ 2 × |`);
    if (a && bv) goals.push(`| (b') / (a) | ${(bv.rps / a.rps).toFixed(2)} | ≥ 0.6 |`);
    if (c && d) goals.push(`| (c) / (d) | ${(c.rps / d.rps).toFixed(2)} | ≥ 0.9 |`);
    // Not goals: how far the gateway stays above node:http sending the same bytes.
    if (a && floorB) goals.push(`| node:http sending (b)'s bytes / (a) | ${(floorB.rps / a.rps).toFixed(2)} | (what (b) can reach) |`);
    if (a && floorBv) goals.push(`| node:http reading (b')'s body, sending its bytes / (a) | ${(floorBv.rps / a.rps).toFixed(2)} | (what (b') can reach) |`);
    goals.push(`| gateway RSS | ${memory[0]!.rss.toFixed(0)} MB | ≤ 150 MB |`, `| Next RSS | ${memory[1]!.rss.toFixed(0)} MB | ≤ 400 MB |`);
    console.log(`\n| target | measured | goal |`);
    console.log("| --- | ---: | --- |");
    for (const goal of goals) console.log(goal);
  } finally {
    cleanup();
  }
  // SPEC §10: usage counted on every decision, written in one transaction per flush interval.
  const writes = await usageWrites(servers.gateway, gatewayOutput);
  if (writes) {
    const seconds = (Date.now() - started) / 1000;
    console.log(`\nUsage counting in the measured gateway (${seconds.toFixed(0)} s up): ${writes.decisions.toLocaleString("en")} decisions counted,`);
    console.log(`${writes.flushes} flushes (one transaction each, at most one per ${process.env.LAST_USED_FLUSH_MS ?? "5000"} ms), ${(writes.statements / Math.max(1, writes.flushes)).toFixed(1)} statements per flush, ${writes.failed} failed`);
  } else console.log("\nUsage counting: the gateway did not report its writes");

  // ── Decisions: decide() warm and cold at 1k, 100k and 1M keys, and revocation across processes.
  // Written in scripts/bench-decisions.ts (each section in its own processes and database), run
  // here once the servers above are gone, so that they do not share the machine with them.
  if (process.env.BENCH_DECISIONS !== "0") {
    const { runDecisionBenchmarks } = await import("./bench-decisions");
    await runDecisionBenchmarks();
  }
}

main().then(
  () => {
    // The comparison servers keep running until stopped.
    if (process.argv[2] !== "--fetch-gateway" && process.argv[2] !== "--shapes") process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
