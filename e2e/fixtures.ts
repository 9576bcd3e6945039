import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { createClient } from "@libsql/client";
import { test as base, expect, type Browser, type Page, type Request } from "@playwright/test";

export { expect };

const root = path.resolve(__dirname, "..");
/** The database the e2e server uses (scripts/e2e-server.mjs). */
export const E2E_DATABASE_URL = `file:${path.join(root, ".e2e", "keyscope.db")}`;
export const PASSWORD = "correct horse battery";

/** The app's port (playwright.config.ts); specs that start servers of their own use ports after it, so parallel runs on other E2E_PORTs do not collide. */
export const E2E_PORT = Number(process.env.E2E_PORT ?? 3100);

/** A direct connection to the e2e database, for setting up and checking rows; it waits out the server's writes. */
export function openE2eDatabase() {
  return createClient({ url: E2E_DATABASE_URL, timeout: 5_000 });
}

export function uniqueEmail(label = "user"): string {
  return `${label}-${randomUUID().slice(0, 8)}@example.com`;
}

export async function signUp(page: Page, email = uniqueEmail()): Promise<string> {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  return email;
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function createEndpoint(page: Page, name: string): Promise<string> {
  await page.goto("/settings/endpoints");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create endpoint" }).click();
  const item = page.getByRole("listitem", { name, exact: true });
  await expect(item).toBeVisible();
  return (await item.locator("code").textContent())!.trim();
}

/**
 * Clicks a confirm dialog's button and waits for the dialog to close, i.e. for the action to
 * answer. While a dialog is open the page behind it is hidden from the accessibility tree, so a
 * "row is gone" check made before this would pass at once, with the action still in flight.
 */
export async function confirmInDialog(page: Page, button: string): Promise<void> {
  await page.getByRole("button", { name: button, exact: true }).click();
  await expect(page.getByRole("alertdialog")).toBeHidden();
}

/** The table row of a key, by its exact name. */
export function keyRow(page: Page, name: string) {
  return page.getByRole("row").filter({ has: page.getByRole("cell", { name, exact: true }) });
}

export function scopeRow(page: Page, label: string) {
  return page.getByRole("dialog").getByRole("radiogroup", { name: label, exact: true });
}

/** Opens `Create API key`, fills the name, lets `configure` set scopes, creates, returns the plaintext. */
export async function createKey(page: Page, name: string, configure?: () => Promise<void>): Promise<string> {
  await page.goto("/settings/api-keys");
  await page.getByRole("button", { name: "Create API key" }).click();
  await page.getByRole("dialog").getByLabel("Name", { exact: true }).fill(name);
  if (configure) await configure();
  await page.getByRole("button", { name: "Create", exact: true }).click();
  const field = page.getByLabel("New API key");
  await expect(field).toHaveValue(/^rpa_[0-9A-Za-z]{36}$/);
  const plaintext = await field.inputValue();
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  return plaintext;
}

const run = promisify(execFile);

/** Runs the legacy import CLI against the e2e database, as an operator would. */
export async function importLegacyKeys(email: string, file: string) {
  return run(path.join(root, "node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/import-legacy-keys.ts", "--account", email, file], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: E2E_DATABASE_URL, KEYSCOPE_DATA_DIR: path.join(root, ".e2e") },
  });
}

export const test = base;

/** A server action call as the raw POST an attacker holding the cookie would send. */
export type CapturedAction = { url: string; headers: Record<string, string>; body: string };

/** The server action call `act` makes in the dashboard, captured for replaying. */
export async function captureAction(page: Page, act: () => Promise<void>): Promise<CapturedAction> {
  const seen = page.waitForRequest((request: Request) => request.method() === "POST" && !!request.headers()["next-action"]);
  await act();
  const request = await seen;
  const headers = request.headers();
  return {
    url: request.url(),
    headers: {
      "next-action": headers["next-action"]!,
      "content-type": headers["content-type"] ?? "text/plain;charset=UTF-8",
      accept: "text/x-component",
      ...(headers["next-router-state-tree"] ? { "next-router-state-tree": headers["next-router-state-tree"] } : {}),
    },
    body: request.postData() ?? "",
  };
}

/** `Invite member` on /settings/members: answers the link the dialog shows once. */
export async function invite(page: Page, email: string, role: "Owner" | "Admin" | "Member" | "Viewer"): Promise<string> {
  await page.goto("/settings/members");
  await page.getByRole("button", { name: "Invite member" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByLabel("Role").selectOption({ label: role });
  await dialog.getByRole("button", { name: "Invite", exact: true }).click();
  const field = dialog.getByLabel("Invitation link", { exact: true });
  await expect(field).toHaveValue(/\/invite\/[A-Za-z0-9_-]{43}$/);
  const link = await field.inputValue();
  await dialog.getByRole("button", { name: "Done" }).click();
  await expect(dialog).toBeHidden();
  return link;
}

/** A new browser that opens `link` signed out and creates the invited account through it. */
export async function joinBySigningUp(browser: Browser, link: string, email: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(link);
  await expect(page.getByRole("heading", { name: "Join team" })).toBeVisible();
  await page.getByRole("link", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/signup\?invite=/);
  // The invited email is filled in.
  await expect(page.getByLabel("Email")).toHaveValue(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  return page;
}
