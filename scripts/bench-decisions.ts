// The decision cache's benchmark sections (issue 8), printed as markdown tables like scripts/bench.ts:
//
//   decide() warm (answered by the decision cache) and cold (no cache: the prepared lookup), at
//   1k, 100k and 1M keys in the database;
//   revocation across processes: a gateway (scripts/gateway.ts) under load, 100 disables through
//   the DAL in another process, time from each acknowledged disable to the gateway's first refusal.
//
// Each section runs in a fresh child process (the environment and the database handle are read
// once per process). Standalone: npx tsx --conditions=react-server scripts/bench-decisions.ts
// From scripts/bench.ts: `await runDecisionBenchmarks()`, or the measure… / print… pairs.
//
// env: BENCH_DECIDE_SIZES (comma-separated, default 1000,100000,1000000), BENCH_DECIDE_CALLS
// (timed calls per kind and size, default 50000), BENCH_DECIDE_HOT_KEYS (real keys looked up,
// default 100), BENCH_REVOCATIONS (default 100),
// BENCH_REVOCATION_CONNECTIONS (load connections, default 50).
import { spawn, spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import autocannon from "autocannon";

const root = path.resolve(import.meta.dirname, "..");
const tsx = path.join(root, "node_modules/.bin/tsx");
// The keys looked up, the same number at every size, so that only the database's size differs.
// More of them measures the CPU cache as well: at 1M keys each sits on its own pages.
const SAMPLE_KEYS = Number(process.env.BENCH_DECIDE_HOT_KEYS ?? 100);
// Probe connections asking with the key that gets disabled: the more of them, the finer the grain
// at which the gateway's first refusal is seen (each waits its turn behind the load).
const PROBES = 8;

export type Percentiles = { p50: number; p99: number; max: number; perSecond: number };
export type DecideBench = { size: number; hotKeys: number; calls: number; warm: Percentiles; cold: Percentiles; hitRatio: number };
export type RevocationBench = {
  disables: number;
  connections: number;
  /** ms from the acknowledged disable to the receipt of the gateway's first refusal (an upper bound). */
  refusal: Percentiles;
  /** ms after the acknowledgement at which the last request the gateway still allowed was sent (a lower bound). */
  lastAllowed: Percentiles;
  probeRoundTripP50: number;
  probeRequests: number;
};

function percentiles(values: number[], seconds?: number): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return { p50: at(50), p99: at(99), max: sorted.at(-1) ?? NaN, perSecond: seconds ? values.length / seconds : NaN };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fills a migrated database with `size` keys of one account, all allowed to read endpoint `ep`:
 * random hashes in one SQL statement (no plaintext exists for them), and SAMPLE_KEYS real keys
 * whose plaintexts are returned for lookups. Also for scripts/bench.ts (RSS with 1M keys).
 */
export async function seedKeys(file: string, size: number): Promise<{ accountId: string; endpointId: string; sample: string[] }> {
  const Database = (await import("libsql")).default;
  const { generateScopedKey } = await import("@/lib/core/keys/generate");
  const { hashKey } = await import("@/lib/core/keys/hash");
  const { formatDisplayHint } = await import("@/lib/core/keys/format");
  const raw = new Database(file);
  try {
    raw.exec("BEGIN IMMEDIATE");
    raw.prepare("INSERT INTO accounts (id, email, password_hash, created_at) VALUES ('acct', 'bench@example.com', 'x', 0)").run();
    raw.prepare("INSERT INTO endpoints (id, account_id, name, created_at) VALUES ('ep', 'acct', 'bench', 0)").run();
    const real = Math.min(SAMPLE_KEYS, size);
    raw
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint, enabled, graphql_level, endpoints_all_level, created_at)
         SELECT 'bulk_' || i, 'acct', 'bulk ' || i, 'scoped', lower(hex(randomblob(32))), 'rpa_…', 1, 'none', 'read', 0 FROM n`,
      )
      .run(size - real);
    const insert = raw.prepare(
      "INSERT INTO api_keys (id, account_id, name, kind, key_hash, hint, enabled, graphql_level, endpoints_all_level, created_at) VALUES (?, 'acct', ?, 'scoped', ?, ?, 1, 'none', 'read', 0)",
    );
    const sample: string[] = [];
    for (let i = 0; i < real; i++) {
      const key = generateScopedKey();
      sample.push(key);
      insert.run(`key_${i}`, `key ${i}`, hashKey(key), formatDisplayHint(key, "scoped"));
    }
    raw.exec("COMMIT");
    return { accountId: "acct", endpointId: "ep", sample };
  } finally {
    raw.close();
  }
}

/**
 * Every size in this one process, interleaved round by round, so that a noisy neighbour slows all
 * sizes and both kinds alike. Each database is migrated like any other, seeded, and read through
 * the data plane's own runner and key store (lib/dal/sql-runner.ts, lib/dal/key-store.ts).
 */
async function decideHere(sizes: number[], calls: number): Promise<DecideBench[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "keyscope-bench-decide-"));
  const { openDatabaseHandle } = await import("@/db/handle");
  const { migrateDatabase } = await import("@/db/migrate");
  const { createKeyStore } = await import("@/lib/dal/key-store");
  const { createUsageRecorder } = await import("@/lib/dal/usage-recorder");
  const { decide } = await import("@/lib/core/verify/verifier");
  const { readEnv } = await import("@/lib/env");
  const env = readEnv();
  const closers: (() => void)[] = [];
  try {
    const benches = [];
    for (const size of sizes) {
      const file = path.join(dir, `keys-${size}.db`);
      const url = `file:${file}`;
      // A handle per database, as a process has (db/handle.ts); several of them in this one.
      const handle = openDatabaseHandle(url, { busyTimeoutMs: 2_000 });
      closers.push(() => handle.close());
      await migrateDatabase(handle.db, url);
      console.error(`decide(): seeding ${size.toLocaleString("en")} keys…`);
      const { endpointId, sample } = await seedKeys(file, size);
      const lastUsed = createUsageRecorder(handle.sql); // never flushed here: nothing is written
      // Warm: wired as lib/server/data-plane.ts wires it, default cache. Cold: no cache at all.
      const cache = { maxEntries: env.DECISION_CACHE_MAX_ENTRIES, pollMs: env.DECISION_CACHE_POLL_MS, commits: { listen: handle.onCommittedWrite } };
      const warm = createKeyStore(handle.sql, lastUsed, { cache });
      const cold = createKeyStore(handle.sql, lastUsed);
      closers.push(() => warm.close());
      benches.push({ size, sample, requirement: { resource: "endpoint", endpointId, access: "read" } as const, stores: { warm, cold }, times: { warm: [] as number[], cold: [] as number[] }, spent: { warm: 0, cold: 0 } });
    }
    type Bench = (typeof benches)[number];
    const run = async (bench: Bench, kind: "warm" | "cold", n: number, record: boolean) => {
      for (let i = 0; i < n; i++) {
        const key = bench.sample[(i * 7919) % bench.sample.length]!;
        const t0 = process.hrtime.bigint();
        const decision = await decide(key, bench.requirement, bench.stores[kind]);
        const ns = Number(process.hrtime.bigint() - t0);
        if (!decision.ok) throw new Error(`bench key refused: ${decision.code}`);
        if (record) {
          bench.times[kind].push(ns / 1000);
          bench.spent[kind] += ns / 1e9;
        }
      }
    };
    // Warm-up: JIT, SQLite's page cache, the decision cache.
    for (const bench of benches) for (const kind of ["cold", "warm"] as const) await run(bench, kind, 5_000, false);
    // Many short rounds: a burst of load from another process lands on every size alike.
    const rounds = 50;
    for (let round = 0; round < rounds; round++) {
      for (const bench of benches) for (const kind of ["cold", "warm"] as const) await run(bench, kind, Math.ceil(calls / rounds), true);
    }
    return benches.map((bench) => {
      const stats = bench.stores.warm.cacheStats;
      return {
        size: bench.size,
        hotKeys: bench.sample.length,
        calls,
        warm: percentiles(bench.times.warm, bench.spent.warm),
        cold: percentiles(bench.times.cold, bench.spent.cold),
        hitRatio: stats ? stats.hits / Math.max(1, stats.hits + stats.misses) : 0,
      };
    });
  } finally {
    for (const close of closers.reverse()) close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function inChild<T>(args: string[]): T {
  const out = spawnSync(tsx, ["--conditions=react-server", "scripts/bench-decisions.ts", ...args], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
  if (out.status !== 0) throw new Error(`bench-decisions ${args.join(" ")} failed (exit ${out.status})`);
  return JSON.parse(out.stdout.trim().split("\n").pop()!) as T;
}

/** decide() warm and cold at each size, all sizes in one fresh process. */
export function measureDecide(sizes = (process.env.BENCH_DECIDE_SIZES ?? "1000,100000,1000000").split(",").map(Number), calls = Number(process.env.BENCH_DECIDE_CALLS ?? 50_000)): DecideBench[] {
  return inChild<DecideBench[]>(["--decide", sizes.join(","), String(calls)]);
}

export function printDecideTable(results: DecideBench[]): void {
  const us = (value: number) => value.toFixed(1);
  const calls = results[0]?.calls ?? 0;
  console.log(
    `\ndecide() in one process, ${calls.toLocaleString("en")} timed calls per kind and size over the same ${results[0]?.hotKeys ?? 0} keys, sizes interleaved ` +
      `(file database; warm: the decision cache answers; cold: no cache, the prepared lookup)\n`,
  );
  console.log("| keys in database | warm p50 µs | warm p99 µs | warm decisions/s | cold p50 µs | cold p99 µs | cold decisions/s | warm hit ratio |");
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    console.log(
      `| ${r.size.toLocaleString("en")} | ${us(r.warm.p50)} | ${us(r.warm.p99)} | ${Math.round(r.warm.perSecond)} | ${us(r.cold.p50)} | ${us(r.cold.p99)} | ${Math.round(r.cold.perSecond)} | ${(r.hitRatio * 100).toFixed(1)} % |`,
    );
  }
  const smallest = results[0];
  const largest = results.at(-1);
  if (!smallest || !largest || smallest === largest) return;
  const warmWorst = Math.max(...results.map((r) => r.warm.p50));
  const growth = (largest.cold.p50 - smallest.cold.p50) / smallest.cold.p50;
  console.log(`\n| target | measured | goal |`);
  console.log("| --- | ---: | --- |");
  console.log(`| warm decide() p50 (worst size) | ${us(warmWorst)} µs | ≤ 5 µs |`);
  console.log(`| cold p50 at ${largest.size.toLocaleString("en")} vs ${smallest.size.toLocaleString("en")} keys | ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} % | within 10 % |`);
}

/** In this process, which must not have opened a database yet. */
async function revocationHere(disables: number, connections: number): Promise<RevocationBench> {
  const dir = mkdtempSync(path.join(tmpdir(), "keyscope-bench-revoke-"));
  const url = `file:${path.join(dir, "bench.db")}`;
  process.env.DATABASE_URL = url;
  process.env.KEYSCOPE_DATA_DIR = dir;
  const { createAccount } = await import("@/lib/dal/accounts");
  const { createEndpoint } = await import("@/lib/dal/endpoints");
  const { createScopedApiKey, setApiKeyEnabled } = await import("@/lib/dal/api-keys");
  const actor = { type: "cli", command: "bench" } as const;
  const account = await createAccount("bench@example.com", "bench password");
  if (!account.ok) throw new Error(account.message);
  const endpoint = await createEndpoint(account.value.id, "bench", actor);
  if (!endpoint.ok) throw new Error(endpoint.message);
  const newKey = async (name: string) => {
    const created = await createScopedApiKey(account.value.id, { name, scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }, actor);
    if (!created.ok) throw new Error(created.message);
    return created.value;
  };
  const loadKey = await newKey("load");
  const probeKey = await newKey("probe");
  const healthPath = `/v2/${endpoint.value.id}/health`;

  // The gateway: another process on the same file. Port 0, read back from its banner.
  const gateway = spawn(tsx, ["--conditions=react-server", "scripts/gateway.ts"], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, KEYSCOPE_DATA_DIR: dir, GATEWAY_HOST: "127.0.0.1", GATEWAY_PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  const stopGateway = () => {
    try {
      if (gateway.pid) process.kill(-gateway.pid, "SIGTERM");
    } catch {
      // already gone
    }
  };
  let load: { stop(): void } | undefined;
  let probing = true;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("gateway did not start")), 60_000);
      createInterface({ input: gateway.stdout! }).on("line", (line) => {
        const match = /listening on http:\/\/[\d.]+:(\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      gateway.once("exit", () => reject(new Error("gateway exited")));
    });

    // Load from a worker thread, so that this thread's timings (the write, the probes) do not
    // wait behind the load generator's own work.
    load = autocannon(
      { url: `http://127.0.0.1:${port}${healthPath}`, connections, duration: 3_600, headers: { authorization: `Bearer ${loadKey.plaintext}` }, workers: 1 },
      () => {},
    ) as unknown as { stop(): void };

    // Probes: one request at a time each, with the key that gets disabled.
    type Sample = { sent: number; received: number; status: number };
    const samples: Sample[] = [];
    const events = new EventEmitter();
    const agent = new http.Agent({ keepAlive: true, maxSockets: PROBES });
    const probeOnce = () =>
      new Promise<Sample>((resolve, reject) => {
        const sent = performance.now();
        const request = http.get({ host: "127.0.0.1", port, path: healthPath, agent, headers: { authorization: `Bearer ${probeKey.plaintext}` } }, (response) => {
          response.resume();
          response.on("end", () => resolve({ sent, received: performance.now(), status: response.statusCode ?? 0 }));
        });
        request.on("error", reject);
      });
    const probes = Array.from({ length: PROBES }, async (_, i) => {
      await sleep(i * 2); // staggered, so that some probe is always about to be sent
      while (probing) {
        const sample = await probeOnce();
        samples.push(sample);
        events.emit("sample", sample);
      }
    });
    const next = (wanted: (sample: Sample) => boolean) =>
      new Promise<Sample>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no such answer within 10 s")), 10_000);
        const listener = (sample: Sample) => {
          if (!wanted(sample)) return;
          clearTimeout(timer);
          events.off("sample", listener);
          resolve(sample);
        };
        events.on("sample", listener);
      });

    await sleep(2_000); // the load reaches its steady state
    const refusal: number[] = [];
    const lastAllowed: number[] = [];
    for (let trial = 0; trial < disables; trial++) {
      // The key works again in the gateway (the last trial re-enabled it), at a random phase of its poll.
      const enabledAt = performance.now();
      await next((s) => s.status === 200 && s.sent >= enabledAt);
      await sleep(Math.random() * 30);
      const started = performance.now();
      const refused = next((s) => s.status === 401 && s.received >= started);
      const result = await setApiKeyEnabled(account.value.id, probeKey.key.id, false, actor);
      const acknowledged = performance.now();
      if (!result.ok) throw new Error(result.message);
      const first = await refused;
      refusal.push(Math.max(0, first.received - acknowledged));
      const allowedAfter = samples.filter((s) => s.status === 200 && s.sent >= acknowledged).map((s) => s.sent - acknowledged);
      lastAllowed.push(Math.max(0, ...allowedAfter));
      const enabled = await setApiKeyEnabled(account.value.id, probeKey.key.id, true, actor);
      if (!enabled.ok) throw new Error(enabled.message);
      if ((trial + 1) % 20 === 0) console.error(`revocation: ${trial + 1}/${disables}`);
    }
    probing = false;
    await Promise.all(probes);
    agent.destroy();
    const roundTrips = samples.map((s) => s.received - s.sent);
    return {
      disables,
      connections,
      refusal: percentiles(refusal),
      lastAllowed: percentiles(lastAllowed),
      probeRoundTripP50: percentiles(roundTrips).p50,
      probeRequests: samples.length,
    };
  } finally {
    probing = false;
    load?.stop();
    stopGateway();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Revocation across processes, in a fresh process with its own database and gateway. */
export function measureRevocation(disables = Number(process.env.BENCH_REVOCATIONS ?? 100), connections = Number(process.env.BENCH_REVOCATION_CONNECTIONS ?? 50)): RevocationBench {
  console.error(`revocation: ${disables} disables, gateway under ${connections} connections…`);
  return inChild<RevocationBench>(["--revocation", String(disables), String(connections)]);
}

export function printRevocationTable(r: RevocationBench): void {
  const ms = (value: number) => value.toFixed(1);
  console.log(
    `\nRevocation across processes: the gateway under load (autocannon, ${r.connections} connections, /v2/{id}/health); ${r.disables} disables ` +
      `through the DAL in another process. From the acknowledged disable to the first refusal received from the gateway ` +
      `(${PROBES} probe connections besides the load; probe round trip p50 ${ms(r.probeRoundTripP50)} ms, ${r.probeRequests.toLocaleString("en")} probes)\n`,
  );
  console.log("| measure | p50 ms | p99 ms | max ms |");
  console.log("| --- | ---: | ---: | ---: |");
  console.log(`| first refusal received (upper bound) | ${ms(r.refusal.p50)} | ${ms(r.refusal.p99)} | ${ms(r.refusal.max)} |`);
  console.log(`| last allowed request sent (lower bound) | ${ms(r.lastAllowed.p50)} | ${ms(r.lastAllowed.p99)} | ${ms(r.lastAllowed.max)} |`);
  console.log(`\n| target | measured | goal |`);
  console.log("| --- | ---: | --- |");
  console.log(`| revocation p99 | ${ms(r.refusal.p99)} ms | ≤ 100 ms |`);
  console.log(`| revocation max | ${ms(r.refusal.max)} ms | ≤ 250 ms |`);
}

/** Both sections, measured and printed. */
export async function runDecisionBenchmarks(): Promise<void> {
  const decide = measureDecide();
  const revocation = measureRevocation();
  printDecideTable(decide);
  printRevocationTable(revocation);
}

async function main() {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === "--decide") {
    console.log(JSON.stringify(await decideHere(a!.split(",").map(Number), Number(b))));
  } else if (mode === "--revocation") {
    console.log(JSON.stringify(await revocationHere(Number(a), Number(b))));
  } else {
    await runDecisionBenchmarks();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
