import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { databaseEnvShape } from "@/db/config";

const envSchema = z.object({
  ...databaseEnvShape,
  KEYSCOPE_DATA_DIR: z.string().min(1).default("./data"),
  AUTH_SECRET: z.string().min(32, "AUTH_SECRET must be at least 32 characters").optional(),
  // Last-used dates are written at most this often (SPEC §4: batched, never per request).
  LAST_USED_FLUSH_MS: z.coerce.number().int().min(10).max(60_000).default(5_000),
  // The verifier's decision cache (lib/dal/key-store.ts): entries kept per kind (known keys,
  // unknown hashes; 0 turns it off), and how often every process reads the decision revision for
  // changes committed by other processes. SPEC §4 (issue 8): seen within 100 ms, so at most 50.
  DECISION_CACHE_MAX_ENTRIES: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  DECISION_CACHE_POLL_MS: z.coerce.number().int().min(1).max(50).default(25),
  ECHO_WORKER_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  // The webhook delivery worker (lib/worker/webhook-worker.ts, README "Events"): how often each
  // process looks for due deliveries; the first retry's delay, which scales the whole backoff and
  // its 24 h window (tests shrink it); one attempt's deadline; and whether loopback, private and
  // link-local targets are allowed (tests and closed networks only: SSRF).
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3_600_000).default(10_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(10_000),
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(["0", "1", "true", "false"])
    .default("0")
    .transform((value) => value === "1" || value === "true"),
  // How often each server process shares its keys' rate-limit budgets through the database
  // (lib/dal/rate-limit-sync.ts; SPEC §9's cross-process bound depends on it, README).
  RATE_LIMIT_SYNC_MS: z.coerce.number().int().min(10).max(1_000).default(100),
  // Tests slow the echo worker down to observe queued jobs and cancel them before they finish.
  ECHO_WORKER_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  // Per-account caps on unfinished jobs (IN_QUEUE + IN_PROGRESS), so one account cannot fill the
  // queue, or the disk, ahead of everyone else (lib/dal/jobs.ts). Far above what an honest client
  // queues at once: a batch of a few hundred jobs fits with room to spare, and inputs are usually
  // a few kB (prompts, URLs), so 64 MiB still holds 64 jobs at the 1 MB body limit.
  JOB_QUEUE_MAX_PER_ACCOUNT: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  JOB_QUEUE_MAX_BYTES_PER_ACCOUNT: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(64 * 1024 * 1024),
  // One line per API request naming the key id (lib/http/access-log.ts); off by default.
  ACCESS_LOG: z
    .enum(["0", "1", "true", "false"])
    .default("0")
    .transform((value) => value === "1" || value === "true"),
  GATEWAY_HOST: z.string().min(1).default("127.0.0.1"),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(3001),
  // How many proxies in front of the app append to X-Forwarded-For: `true` = 1, or a count.
  // Unset or `false`: no proxy is trusted (lib/rate-limit/client-address.ts).
  TRUST_PROXY: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(true|false|\d{1,2})$/, "TRUST_PROXY must be true, false or a number of proxies")
    .optional()
    .transform((value) => (value === undefined || value === "false" ? 0 : value === "true" ? 1 : Number(value))),
  // Per-process sign-in and sign-up limits (README, "Security").
  SIGNIN_MAX_FAILURES_PER_EMAIL: z.coerce.number().int().min(1).max(1_000_000).default(5),
  SIGNIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(20),
  SIGNUP_MAX_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(10),
  // Signs leak reports from secret scanners (POST /api/v1/leaks, lib/http/leaks-api.ts). Unset
  // (or empty): the route does not exist. Long enough that a signed body cannot be brute-forced.
  LEAK_REPORT_SECRET: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z.string().min(32, "LEAK_REPORT_SECRET must be at least 32 characters").optional(),
  ),
});

export type Env = z.infer<typeof envSchema>;

let cached: Env | undefined;

export function readEnv(): Env {
  if (!cached) {
    const parsed = envSchema.safeParse(process.env);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      throw new Error(`Invalid environment: ${fields}`);
    }
    cached = parsed.data;
  }
  return cached;
}

/**
 * The secret that signs session cookies. When AUTH_SECRET is unset, one is generated on first
 * use and kept in the data directory, so that `npm start` works on a fresh machine and
 * sessions survive restarts.
 */
export function resolveAuthSecret(env: Env = readEnv()): string {
  if (env.AUTH_SECRET) return env.AUTH_SECRET;
  const file = path.resolve(env.KEYSCOPE_DATA_DIR, "auth-secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    // `wx`: when two processes start at once, exactly one writes and both read the same secret.
    writeFileSync(file, randomBytes(32).toString("base64url") + "\n", { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return readFileSync(file, "utf8").trim();
}
