import { rawRows, removeTestDatabase, testDatabaseDir, uniqueEmail } from "@/testing/test-database";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { hashKey } from "@/lib/core/keys/hash";
import { startTestGateway, type TestGateway } from "@/testing/test-gateway";

// `npm run keys:report-leak` as an operator or a CI step runs it, against a real server: the
// standalone gateway, in this process, on the test database.
// The CLI run here inherits the same secret as the gateway.
vi.hoisted(() => {
  process.env.LEAK_REPORT_SECRET = "cli-leak-report-secret-0123456789abcdef";
  process.env.ECHO_WORKER_POLL_MS = "60000";
});

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
let gateway: TestGateway | undefined;
let accountId = "";
let closedPort = 0;
const tokens: string[] = [];

const UNISSUED_RANDOM = "0123456789ABCDEFGHIJabcdefghij";
const UNISSUED = `rpa_${UNISSUED_RANDOM}${computeKeyChecksum(UNISSUED_RANDOM)}`;

async function runCli(args: string[], env: Record<string, string | undefined> = {}) {
  try {
    const { stdout, stderr } = await run(path.join(root, "node_modules/.bin/tsx"), ["--conditions=react-server", path.join(root, "scripts/report-leak.ts"), ...args], {
      cwd: root,
      env: { ...process.env, KEYSCOPE_URL: gateway!.origin, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function file(content: string): string {
  const name = path.join(testDatabaseDir, `findings-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(name, content);
  return name;
}

async function newKey(name: string) {
  const created = await createScopedApiKey(accountId, { name, scopes: { graphql: "read", endpointsAll: "none", endpoints: {} } }, { type: "dashboard" });
  if (!created.ok) throw new Error("setup: key");
  tokens.push(created.value.plaintext);
  return { id: created.value.key.id, plaintext: created.value.plaintext };
}

const keyState = async (id: string) => (await rawRows("SELECT enabled, leak_url, leak_source FROM api_keys WHERE id = ?", [id]))[0];

/** Neither a token nor its hash in what the CLI printed. */
function expectNoSecrets(output: { stdout: string; stderr: string }) {
  for (const token of tokens) {
    expect(output.stdout + output.stderr).not.toContain(token);
    expect(output.stdout + output.stderr).not.toContain(hashKey(token));
  }
}

beforeAll(async () => {
  const account = await createAccount(uniqueEmail("cli-leak"), "password-cli-123");
  if (!account.ok) throw new Error("setup: account");
  accountId = account.value.id;
  gateway = await startTestGateway();
  // A port nothing listens on: taken, then given back.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  await gateway?.close();
  await removeTestDatabase();
});

describe("npm run keys:report-leak", () => {
  it("signs and posts a scanner's JSON findings; prints the counts; the key is disabled", async () => {
    const key = await newKey("ci");
    tokens.push(UNISSUED);
    const findings = [
      { token: key.plaintext, type: "keyscope_api_key", url: "https://github.com/o/r/blob/main/.env", source: "commit" },
      { token: UNISSUED, type: "keyscope_api_key", url: "https://github.com/o/r/blob/main/x", source: "commit" },
    ];
    const result = await runCli([file(JSON.stringify(findings))]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout.trim()).toBe("Reported 2 findings: 1 true positive (its key is disabled), 1 false positive.");
    expect(await keyState(key.id)).toEqual({ enabled: 0, leak_url: "https://github.com/o/r/blob/main/.env", leak_source: "commit" });
    expectNoSecrets(result);
  });

  it("one token per line, type manual, with --url and --source; over 1,000 findings go in several requests", async () => {
    const key = await newKey("pasted");
    const lines = [`# pasted in #general`, key.plaintext, ...Array.from({ length: 1_200 }, () => UNISSUED)].join("\n");
    const result = await runCli(["--url", "https://chat.example/archives/C1/p2", "--source", "slack", file(lines)]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout.trim()).toBe("Reported 1201 findings: 1 true positive (its key is disabled), 1200 false positives.");
    expect(await keyState(key.id)).toEqual({ enabled: 0, leak_url: "https://chat.example/archives/C1/p2", leak_source: "slack" });
    const [entry] = await rawRows("SELECT details FROM audit_log WHERE action = 'api_key.leaked' AND target_id = ?", [key.id]);
    expect(JSON.parse(String(entry!.details))).toMatchObject({ type: "manual", source: "slack" });
    expectNoSecrets(result);
  });

  it.each<[string, () => [string[], Record<string, string | undefined>], RegExp]>([
    ["another secret than the server's", () => [[file(UNISSUED)], { LEAK_REPORT_SECRET: "not-the-servers-secret-0123456789abcdef" }], /answered 401 .*UNAUTHENTICATED.*Nothing was reported\./],
    ["no secret", () => [[file(UNISSUED)], { LEAK_REPORT_SECRET: "" }], /^LEAK_REPORT_SECRET is not set/],
    ["a server without the route", () => [[file(UNISSUED)], { KEYSCOPE_URL: `${gateway!.origin}/elsewhere` }], /answered 404 .*Is LEAK_REPORT_SECRET set on the server\?/],
    ["no server", () => [[file(UNISSUED)], { KEYSCOPE_URL: `http://127.0.0.1:${closedPort}` }], /^Cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\. Nothing was reported\./],
    ["a bad file", () => [[file(`[{"token": "${UNISSUED}", "type": "t", "url": 1, "source": "s"}]`)], {}], /finding 1: "url" must be a string\. Nothing was reported\./],
    ["a missing file", () => [[path.join(testDatabaseDir, "nope.json")], {}], /Cannot read .*ENOENT/],
    ["no file", () => [[], {}], /^usage: npm run keys:report-leak/],
  ])("%s: says so and exits non-zero", async (_label, make, message) => {
    const [args, env] = make();
    const result = await runCli(args, env);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toMatch(message);
    expectNoSecrets(result);
  });
});
