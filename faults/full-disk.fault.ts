import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import Database from "libsql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { closeDatabaseHandle, getDb } from "@/db/handle";
import { createAccount, type AccountDto } from "@/lib/dal/accounts";
import { createScopedApiKey, getApiKey, setApiKeyEnabled, updateApiKeyScopes } from "@/lib/dal/api-keys";
import { getDataPlane } from "@/lib/server/data-plane";
import { createEndpoint } from "@/lib/dal/endpoints";
import { createGatewayServer } from "@/lib/http/gateway";
import { decide } from "@/lib/core/verify/verifier";
import { createApiKeyAction } from "@/app/settings/api-keys/actions";
import { recordFigures } from "./support/processes";

// Issue item C: the database lives on a small file system that fills up. Key creation fails with
// a "try again" answer (dashboard) or 503 (API), nothing is half-written, existing keys keep
// verifying, and everything works again once there is room.

const session = vi.hoisted(() => ({ account: null as AccountDto | null }));
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account }));
// Outside a Next.js request there is no cache to revalidate.
vi.mock("next/cache", () => ({ revalidatePath: () => {} }));

const SIZE = "4m";
const work = mkdtempSync(path.join(os.tmpdir(), "keyscope-full-"));
const mountPoint = path.join(work, "disk");
const databasePath = path.join(mountPoint, "keyscope.db");
let method: "tmpfs" | "loop-ext4" | null = null;

/** A small file system at `mountPoint`: tmpfs, or an ext4 image on a loop device; null if neither can be mounted. */
function mountSmallDisk(): typeof method {
  mkdirSync(mountPoint, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${SIZE}`, "tmpfs", mountPoint], { stdio: "pipe" });
    return "tmpfs";
  } catch {
    // No tmpfs mount here (not root, or no CAP_SYS_ADMIN): try an image on a loop device.
  }
  try {
    const image = path.join(work, "disk.img");
    execFileSync("truncate", ["-s", SIZE.toUpperCase(), image], { stdio: "pipe" });
    execFileSync("mkfs.ext4", ["-q", "-F", image], { stdio: "pipe" });
    execFileSync("mount", ["-o", "loop", image, mountPoint], { stdio: "pipe" });
    return "loop-ext4";
  } catch {
    return null;
  }
}

let server: Server | undefined;
let origin = "";
let account: AccountDto;
let endpointId = "";
const keys: { id: string; plaintext: string }[] = [];
let jobId = "";

beforeAll(async () => {
  method = mountSmallDisk();
  if (!method) return;
  // Before the first getDb(): readEnv() reads the environment once, then.
  process.env.DATABASE_URL = `file:${databasePath}`;
  process.env.KEYSCOPE_DATA_DIR = mountPoint;
  process.env.LAST_USED_FLUSH_MS = "200";
  await getDb();
  const created = await createAccount("full-disk@example.test", "password-full-123");
  if (!created.ok) throw new Error("setup: account");
  account = created.value;
  session.account = account;
  for (let i = 0; i < 3; i++) {
    const endpoint = await createEndpoint(account.id, `full-${i}`, { type: "dashboard" });
    if (!endpoint.ok) throw new Error("setup: endpoint");
    endpointId ||= endpoint.value.id;
  }
  for (let i = 0; i < 5; i++) {
    const key = await createScopedApiKey(account.id, { name: `before-${i}`, scopes: { graphql: "read", endpointsAll: "read_write", endpoints: { [endpointId]: "read_write" } } }, { type: "dashboard" });
    if (!key.ok) throw new Error("setup: key");
    keys.push({ id: key.value.key.id, plaintext: key.value.plaintext });
  }
  await getDataPlane();
  server = createGatewayServer();
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run = await post(`/v2/${endpointId}/runsync?wait=5000`, { input: { before: true } }, keys[0]!.plaintext);
  jobId = ((await run.json()) as { id: string }).id;
});

afterAll(async () => {
  if (server) {
    await new Promise<void>((resolve) => {
      server!.close(() => resolve());
      server!.closeAllConnections();
    });
    const plane = await getDataPlane();
    plane.worker.stop();
    plane.usage.stop();
    await closeDatabaseHandle();
  }
  if (method) execFileSync("umount", ["-l", mountPoint], { stdio: "pipe" });
  rmSync(work, { recursive: true, force: true });
});

function post(pathname: string, body: unknown, key: string) {
  return fetch(origin + pathname, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

function direct<T>(read: (db: InstanceType<typeof Database>) => T): T {
  const db = new Database(databasePath, { timeout: 1_000 });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function counts(): { keys: number; overrides: number; jobs: number } {
  const row = direct(
    (db) => db.prepare("SELECT (SELECT count(*) FROM api_keys) AS keys, (SELECT count(*) FROM api_key_endpoint_scopes) AS overrides, (SELECT count(*) FROM jobs) AS jobs").get() as Record<string, number>,
  );
  return { keys: row.keys!, overrides: row.overrides!, jobs: row.jobs! };
}

/** The SQLite error code somewhere in the chain of causes (drizzle wraps what the client throws). */
function sqliteCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 6; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
  }
  return undefined;
}

/** Fills the file system: big writes, then ever smaller ones, until not one byte more fits. */
function fillDisk(file: string): number {
  const fd = openSync(file, "w");
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 16, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

describe("a full disk", () => {
  it("refuses writes cleanly (UNAVAILABLE / 503), keeps verifying existing keys, and recovers when there is room", async (context) => {
    if (!method) {
      context.skip("no small file system can be mounted here (needs root or CAP_SYS_ADMIN): skipped, not passed");
      return;
    }
    // Start from an empty WAL, so that any commit must grow a file.
    direct((db) => db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get());
    expect(statSync(`${databasePath}-wal`).size).toBe(0);
    const before = counts();
    const filler = path.join(mountPoint, "filler");
    const fillerBytes = fillDisk(filler);

    const failures: Record<string, string | undefined> = {};
    // Dashboard, through the real server action: a "try again" message, not a crash.
    const action = await createApiKeyAction({ name: "while-full", scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointId]: "read" } } });
    expect(action).toMatchObject({ ok: false, code: "UNAVAILABLE", message: expect.stringMatching(/try again/i) });
    // The DAL itself: SQLITE_FULL, never a half-written key.
    for (const [name, write] of [
      ["createScopedApiKey", () => createScopedApiKey(account.id, { name: "while-full", scopes: { graphql: "none", endpointsAll: "read", endpoints: { [endpointId]: "read" } } }, { type: "dashboard" })],
      ["updateApiKeyScopes", () => updateApiKeyScopes(account.id, keys[1]!.id, { graphql: "none", endpointsAll: "none", endpoints: {} }, { type: "dashboard" })],
      ["setApiKeyEnabled", () => setApiKeyEnabled(account.id, keys[2]!.id, false, { type: "dashboard" })],
    ] as [string, () => Promise<unknown>][]) {
      const error = await write().then(
        () => null,
        (reason: unknown) => reason,
      );
      failures[name] = sqliteCode(error);
      expect(failures[name], name).toBe("SQLITE_FULL");
    }
    expect(await getApiKey(account.id, keys[1]!.id)).toMatchObject({ enabled: true, scopes: { graphql: "read", endpointsAll: "read_write", endpoints: { [endpointId]: "read_write" } } });
    expect(await getApiKey(account.id, keys[2]!.id)).toMatchObject({ enabled: true });

    // API: writes 503 with Retry-After; reads and verification keep answering.
    const run = await post(`/v2/${endpointId}/run`, { input: { full: true } }, keys[0]!.plaintext);
    expect(run.status).toBe(503);
    expect(run.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await run.json()).toMatchObject({ error: { code: "UNAVAILABLE" } });
    const health = await fetch(`${origin}/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${keys[0]!.plaintext}` } });
    expect(health.status).toBe(200);
    const status = await fetch(`${origin}/v2/${endpointId}/status/${jobId}`, { headers: { authorization: `Bearer ${keys[0]!.plaintext}` } });
    expect(await status.json()).toMatchObject({ id: jobId, status: "COMPLETED" });
    const plane = await getDataPlane();
    for (const key of keys) {
      expect(await decide(key.plaintext, { resource: "endpoint", endpointId, access: "read_write" }, plane.keyStore)).toMatchObject({ ok: true, keyId: key.id });
      const verify = await post("/api/v1/keys/verify", { key: key.plaintext, resource: "graphql", access: "read" }, key.plaintext);
      expect(await verify.json()).toMatchObject({ valid: true, keyId: key.id });
    }
    // Nothing half-written, and the file is sound.
    expect(counts()).toEqual(before);
    expect(direct((db) => db.prepare("PRAGMA integrity_check").all())).toEqual([{ integrity_check: "ok" }]);

    // Room again: everything works, at once.
    unlinkSync(filler);
    const created = await createApiKeyAction({ name: "after-full", scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointId]: "read" } } });
    expect(created).toMatchObject({ ok: true });
    const plaintext = (created as { data: { plaintext: string } }).data.plaintext;
    expect(await decide(plaintext, { resource: "endpoint", endpointId, access: "read" }, plane.keyStore)).toMatchObject({ ok: true });
    expect((await post(`/v2/${endpointId}/run`, { input: { after: true } }, keys[0]!.plaintext)).status).toBe(200);
    expect(await setApiKeyEnabled(account.id, keys[2]!.id, false, { type: "dashboard" })).toMatchObject({ ok: true });
    expect(direct((db) => db.prepare("PRAGMA integrity_check").all())).toEqual([{ integrity_check: "ok" }]);
    const after = counts();
    expect(after.keys).toBe(before.keys + 1);
    expect(after.overrides).toBe(before.overrides + 1);

    recordFigures("full-disk", { method, size: SIZE, fillerBytes, actionCode: (action as { code: string }).code, dalErrors: failures, apiWriteStatus: run.status, keysVerifiedWhileFull: keys.length });
  });
});
