import { readFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Cookie } from "@playwright/test";
import { decode, encode } from "next-auth/jwt";
import { captureAction, createKey, expect, openE2eDatabase, signIn, signUp, test, type CapturedAction } from "./fixtures";

// Sign-out must end the session on the server, not just delete the browser's cookie: a copy of
// the cookie taken before `Sign out` (another browser, a stolen cookie) must stop working for pages,
// for server actions replayed as raw POSTs, and for next-auth's own /api/auth/session.

type Captured = CapturedAction;
const capture = captureAction;

/** Plain fetch: no cookie jar, so only the cookie header given is sent. */
async function replay(action: Captured, cookie: string, body = action.body) {
  const response = await fetch(action.url, { method: "POST", headers: { ...action.headers, cookie }, body, redirect: "manual" });
  return { status: response.status, text: await response.text() };
}

async function sessionEndpoint(baseURL: string, cookie: string) {
  const response = await fetch(`${baseURL}/api/auth/session`, { headers: { cookie } });
  return { body: (await response.json()) as { user?: { id?: string } } | null, setCookie: response.headers.getSetCookie() };
}

const cookieHeader = (cookies: Cookie[]) => cookies.map((c) => `${c.name}=${c.value}`).join("; ");

/** A fresh browser that only has `cookies`: what someone holding a copy of them gets. */
async function browserWith(browser: Browser, cookies: Cookie[]): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.addCookies(cookies);
  return context;
}

async function accountRows(email: string) {
  const db = openE2eDatabase();
  try {
    const account = await db.execute({ sql: "SELECT a.id, u.session_version FROM accounts a JOIN users u ON u.email = a.email WHERE a.email = ?", args: [email] });
    const id = String(account.rows[0]!.id);
    const keys = await db.execute({ sql: "SELECT * FROM api_keys WHERE account_id = ? ORDER BY id", args: [id] });
    const endpoints = await db.execute({ sql: "SELECT * FROM endpoints WHERE account_id = ? ORDER BY id", args: [id] });
    return { sessionVersion: Number(account.rows[0]!.session_version), data: JSON.stringify([keys.rows, endpoints.rows]) };
  } finally {
    db.close();
  }
}

test("a copy of the session cookie stops working at Sign out, for pages, actions and /api/auth/session", async ({ browser, page, context, baseURL }) => {
  const email = await signUp(page);
  await createKey(page, "kept");
  const toggle = await capture(page, () => page.getByRole("switch", { name: "Enable kept" }).click());
  await expect(page.getByRole("switch", { name: "Enable kept" })).not.toBeChecked();
  await expect(page.getByRole("switch", { name: "Enable kept" })).toBeEnabled();
  await page.goto("/settings/endpoints");
  await page.getByLabel("Name", { exact: true }).fill("first");
  const createEndpoint = await capture(page, () => page.getByRole("button", { name: "Create endpoint" }).click());
  await expect(page.getByRole("listitem", { name: "first", exact: true })).toBeVisible();
  expect(toggle.body).toContain('"enabled":false');
  const reEnable = toggle.body.replace('"enabled":false', '"enabled":true');

  const copied = await context.cookies();
  expect(copied.some((c) => c.name.endsWith("authjs.session-token"))).toBe(true);
  const copiedHeader = cookieHeader(copied);

  // Before sign-out the copy is a working session (so the refusals below are the sign-out's doing).
  const before = await browserWith(browser, copied);
  const beforePage = await before.newPage();
  await beforePage.goto("/settings/api-keys");
  await expect(beforePage.getByRole("switch", { name: "Enable kept" })).toBeVisible();
  await before.close();
  expect((await sessionEndpoint(baseURL!, copiedHeader)).body?.user?.id).toBeTruthy();
  const { sessionVersion: versionBefore, data: dataBefore } = await accountRows(email);

  await page.goto("/settings/api-keys");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  const afterSignOut = await accountRows(email);
  expect(afterSignOut.sessionVersion).toBe(versionBefore + 1);

  // Pages: the copied cookie is signed out.
  const stale = await browserWith(browser, copied);
  const stalePage = await stale.newPage();
  for (const target of ["/settings/api-keys", "/settings/endpoints"]) {
    await stalePage.goto(target);
    await expect(stalePage).toHaveURL(/\/signin$/);
  }
  // /signin does not bounce the stale cookie back to the dashboard either.
  await expect(stalePage.getByRole("button", { name: "Sign in" })).toBeVisible();
  await stale.close();

  // Server actions replayed with the copied cookie: refused by the session check, nothing written.
  for (const [label, action, body] of [
    ["re-enable the key", toggle, reEnable],
    ["create an endpoint", createEndpoint, createEndpoint.body],
  ] as const) {
    const response = await replay(action, copiedHeader, body);
    expect(response.status, label).toBe(200);
    expect(response.text, label).toContain("UNAUTHENTICATED");
    expect((await accountRows(email)).data, `${label} changed the account's rows`).toBe(dataBefore);
  }

  // next-auth's own session endpoint reports no session for the copy, and clears it.
  const report = await sessionEndpoint(baseURL!, copiedHeader);
  expect(report.body).toBeNull();
  expect(report.setCookie.some((c) => /authjs\.session-token=;/.test(c))).toBe(true);

  // Signing in again works, and gives a new cookie that the old copy still cannot stand in for.
  await signIn(page, email);
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  await expect(page.getByRole("switch", { name: "Enable kept" })).not.toBeChecked();
  const fresh = cookieHeader(await context.cookies());
  expect((await replay(toggle, copiedHeader, reEnable)).text).toContain("UNAUTHENTICATED");
  expect((await accountRows(email)).data).toBe(dataBefore);
  // The captured call is a real one: with the new session it does switch the key back on.
  const accepted = await replay(toggle, fresh, reEnable);
  expect(accepted.text).not.toContain("UNAUTHENTICATED");
  expect((await accountRows(email)).data).not.toBe(dataBefore);
  expect((await sessionEndpoint(baseURL!, fresh)).body?.user?.id).toBeTruthy();
});

test("a cookie issued before session versions existed counts as version 0 until the next sign-out", async ({ browser, page, context }) => {
  await signUp(page);
  const [session] = (await context.cookies()).filter((c) => c.name.endsWith("authjs.session-token"));
  // Re-sign the cookie without its version, with the e2e server's secret (scripts/e2e-server.mjs).
  const secret = readFileSync(path.join(__dirname, "..", ".e2e", "auth-secret"), "utf8").trim();
  const token = await decode({ token: session!.value, secret, salt: session!.name });
  expect(token?.sessionVersion).toBe(0);
  const legacyClaims = { ...token! };
  delete legacyClaims.sessionVersion;
  const legacy = { ...session!, value: await encode({ token: legacyClaims, secret, salt: session!.name }) };

  const old = await browserWith(browser, [legacy]);
  const oldPage = await old.newPage();
  await oldPage.goto("/settings/api-keys");
  await expect(oldPage).toHaveURL(/\/settings\/api-keys$/);
  await expect(oldPage.getByRole("heading", { name: "API keys" })).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);

  await oldPage.goto("/settings/api-keys");
  await expect(oldPage).toHaveURL(/\/signin$/);
  await old.close();
});
