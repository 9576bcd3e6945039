import { execFile } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Page } from "@playwright/test";
import { createKey, expect, keyRow, scopeRow, signUp, test } from "./fixtures";

// SPEC §9 leak reports, from the scanner's side (the CLI and a signed POST to the app) to the
// dashboard: the row says Leaked, a banner names the key and the url until dismissed, and switching
// the key back on asks first.

// scripts/e2e-server.mjs gives the app the same secret.
const SECRET = process.env.LEAK_REPORT_SECRET ?? "e2e-leak-report-secret-0123456789abcdef";
const URL_FOUND = "https://github.com/acme/app/blob/main/.env";
const root = path.resolve(__dirname, "..");
const run = promisify(execFile);

const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

async function postReport(baseURL: string, body: string, signature: string) {
  const response = await fetch(`${baseURL}/api/v1/leaks`, { method: "POST", headers: { "content-type": "application/json", "keyscope-signature": signature }, body });
  return { status: response.status, text: await response.text() };
}

async function verify(baseURL: string, key: string): Promise<string> {
  const response = await fetch(`${baseURL}/api/v1/keys/verify`, { method: "POST", body: JSON.stringify({ key, resource: "graphql", access: "read" }) });
  return ((await response.json()) as { code: string }).code;
}

/** `npm run keys:report-leak -- <file>` against the app, as a CI step would run it. */
async function reportWithCli(baseURL: string, findings: unknown[]) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "keyscope-leaks-")), "findings.json");
  writeFileSync(file, JSON.stringify(findings));
  return run(path.join(root, "node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/report-leak.ts", file], {
    cwd: root,
    env: { ...process.env, KEYSCOPE_URL: baseURL, LEAK_REPORT_SECRET: SECRET },
  });
}

/** A key that may read GraphQL, so that the verify API says VALID while it is on. */
const readerKey = (page: Page, name: string) => createKey(page, name, () => scopeRow(page, "GraphQL").getByRole("radio", { name: "Read", exact: true }).click());

const banner = (page: Page, name: string) => page.getByRole("status").filter({ hasText: `Key "${name}" was reported leaked` });

test("a key reported leaked: disabled at once, Leaked on its row, a banner until dismissed, and re-enabling asks first", async ({ page, baseURL }) => {
  await signUp(page);
  const leaked = await readerKey(page, "ci");
  const bystander = await readerKey(page, "bystander");
  expect(await verify(baseURL!, leaked)).toBe("VALID");

  const cli = await reportWithCli(baseURL!, [{ token: leaked, type: "keyscope_api_key", url: URL_FOUND, source: "commit" }]);
  expect(cli.stdout.trim()).toBe("Reported 1 finding: 1 true positive (its key is disabled), 0 false positives.");
  expect(cli.stdout + cli.stderr).not.toContain(leaked);
  expect(await verify(baseURL!, leaked)).toBe("KEY_DISABLED");
  expect(await verify(baseURL!, bystander)).toBe("VALID");

  await page.goto("/settings/api-keys");
  await expect(keyRow(page, "ci")).toContainText("Leaked");
  await expect(keyRow(page, "bystander")).not.toContainText("Leaked");
  await expect(page.getByRole("switch", { name: "Enable ci" })).not.toBeChecked();
  await expect(banner(page, "ci")).toContainText(`Key "ci" was reported leaked at ${URL_FOUND} and has been disabled. Roll it before using it again.`);
  await expect(banner(page, "ci").getByRole("link", { name: URL_FOUND })).toHaveAttribute("href", URL_FOUND);

  // Switching it back on asks first, recommending a roll; Cancel leaves it off.
  const toggle = page.getByRole("switch", { name: "Enable ci" });
  await toggle.click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toContainText("reported leaked");
  await expect(dialog).toContainText("Roll it instead");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(toggle).not.toBeChecked();
  expect(await verify(baseURL!, leaked)).toBe("KEY_DISABLED");

  // Dismiss hides the banner for good; the row still says Leaked.
  await banner(page, "ci").getByRole("button", { name: "Dismiss" }).click();
  await expect(banner(page, "ci")).toHaveCount(0);
  await page.reload();
  await expect(banner(page, "ci")).toHaveCount(0);
  await expect(keyRow(page, "ci")).toContainText("Leaked");

  // Enable anyway: the person's choice, recorded.
  await page.getByRole("switch", { name: "Enable ci" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Enable anyway" }).click();
  await expect(page.getByRole("alertdialog")).toBeHidden();
  await expect(page.getByRole("switch", { name: "Enable ci" })).toBeChecked();
  await expect.poll(() => verify(baseURL!, leaked)).toBe("VALID");
  await page.reload();
  await expect(page.getByRole("switch", { name: "Enable ci" })).toBeChecked();

  // A key never reported switches without a question.
  await page.getByRole("switch", { name: "Enable bystander" }).click();
  await expect(page.getByRole("alertdialog")).toHaveCount(0);
  await expect(page.getByRole("switch", { name: "Enable bystander" })).not.toBeChecked();

  await page.goto("/settings/audit-log");
  await expect(page.getByText(`Key \u201cci\u201d was reported leaked at ${URL_FOUND} (source: commit; type: keyscope_api_key); the key was disabled`)).toBeVisible();
  await expect(page.getByText("via leak report")).toBeVisible();
});

test("the app's route: a wrong signature changes nothing; a signed report is answered by hash and shows a new banner", async ({ page, baseURL }) => {
  await signUp(page);
  const key = await readerKey(page, "deploy");
  const body = JSON.stringify([{ token: key, type: "keyscope_api_key", url: "https://gist.example/abc", source: "gist" }]);

  const refused = await postReport(baseURL!, body, sign(body, SECRET + "-wrong"));
  expect(refused.status).toBe(401);
  expect(await verify(baseURL!, key)).toBe("VALID");

  const answered = await postReport(baseURL!, body, sign(body));
  expect(answered.status).toBe(200);
  expect(answered.text).not.toContain(key);
  expect(JSON.parse(answered.text)).toEqual([{ token_hash: createHash("sha256").update(key).digest("hex"), token_type: "keyscope_api_key", label: "true_positive" }]);

  await page.goto("/settings/api-keys");
  await expect(banner(page, "deploy")).toContainText('Key "deploy" was reported leaked at https://gist.example/abc and has been disabled.');
  await expect(keyRow(page, "deploy")).toContainText("Leaked");
});
