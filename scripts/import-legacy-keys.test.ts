import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A real temporary database shared by this process (for setup and checks) and the CLI it runs.
const dir = mkdtempSync(path.join(tmpdir(), "keyscope-import-"));
process.env.DATABASE_URL = `file:${path.join(dir, "test.db")}`;
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");

const KEY_A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const KEY_B = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

/** Runs the CLI as `npm run keys:import-legacy` does. */
async function runCli(args: string[]) {
  try {
    const { stdout, stderr } = await run(
      path.join(root, "node_modules/.bin/tsx"),
      ["--conditions=react-server", path.join(root, "scripts/import-legacy-keys.ts"), ...args],
      { cwd: root, env: { ...process.env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function importFile(content: string, account = "owner@example.com") {
  const file = path.join(dir, `keys-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(file, content);
  return runCli(["--account", account, file]);
}

let accountId = "";
let dal: typeof import("@/lib/dal/api-keys");

beforeAll(async () => {
  const { createAccount } = await import("@/lib/dal/accounts");
  dal = await import("@/lib/dal/api-keys");
  const created = await createAccount("owner@example.com", "correct horse battery");
  if (!created.ok) throw new Error(created.message);
  accountId = created.value.id;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run keys:import-legacy", () => {
  it("refuses the whole file when one line is bad, naming the line, and exits non-zero", async () => {
    const result = await importFile(`ci,read,${KEY_A}\nbroken line\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(":2:");
    expect(result.stderr).toContain("Nothing was imported");
    expect(result.stderr).not.toContain(KEY_A);
    expect(await dal.listApiKeys(accountId)).toHaveLength(0);
  });

  // Each CLI run takes seconds: the rule's other cases are in lib/core/keys/legacy-file.test.ts.
  it.each([
    ["a text-direction override", "invoice\u202Egpj.exe", "Name can't contain text-direction characters. Nothing was imported."],
    ["a terminal escape sequence", "\u001B]0;pwned\u0007ci", "Name can't contain control characters. Nothing was imported."],
  ])("refuses a name with %s, naming the line and the reason, never echoing the name", async (_label, name, message) => {
    const result = await importFile(`ci,read,${KEY_A}\n${name},read,${KEY_B}\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`:2: ${message}`);
    expect(result.stderr).not.toContain(name);
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202E\u200B]/);
    expect(await dal.listApiKeys(accountId)).toHaveLength(0);
  });

  it("refuses an unknown account", async () => {
    const result = await importFile(`ci,read,${KEY_A}\n`, "nobody@example.com");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("No account");
  });

  it("imports every line as a legacy key with the scopes its permission implies", async () => {
    const result = await importFile(`ci,read,${KEY_A}\nbilling,read_write,${KEY_B}\n`, "Owner@Example.com");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Imported 2 legacy keys");
    expect(result.stdout + result.stderr).not.toContain(KEY_A);
    const keys = await dal.listApiKeys(accountId);
    const byName = Object.fromEntries(keys.map((key) => [key.name, key]));
    expect(byName.ci).toMatchObject({ kind: "legacy", enabled: true, hint: "…2345", scopes: { graphql: "read", endpointsAll: "read", endpoints: {} } });
    expect(byName.billing).toMatchObject({ kind: "legacy", scopes: { graphql: "read_write", endpointsAll: "read_write" } });
  });

  it("refuses a file holding a key that was already imported, importing none of it", async () => {
    const result = await importFile(`new,read,${"Z".repeat(32)}\nagain,read,${KEY_B}\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("line 2");
    expect(await dal.listApiKeys(accountId)).toHaveLength(2);
  });

  it("prints usage and exits 2 without arguments", async () => {
    const { code, stderr } = await runCli([]);
    expect(code).toBe(2);
    expect(stderr).toContain("usage:");
  });
});
