import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "@playwright/test";
import {
  confirmInDialog,
  createEndpoint,
  createKey,
  expect,
  importLegacyKeys,
  keyRow,
  openE2eDatabase,
  PASSWORD,
  scopeRow,
  signUp,
  test,
} from "./fixtures";

// SPEC §8 from the dashboard: expiry, rolling, time-boxed elevation, and what the APIs answer.

// Away from UTC (and not a whole hour off): `Expires at` is the browser's local time, and the
// exact times the dashboard shows are UTC, so a conversion done on the wrong side shows here.
test.use({ timezoneId: "Asia/Kolkata" });

const MUTATION = 'mutation { podCreate(input: {name: "x"}) { id } }';

type Answer = { status: number; body: { error?: { code: string; message: string; required?: unknown; granted?: string }; data?: unknown } & Record<string, unknown> };

async function send(baseURL: string, key: string, method: "GET" | "POST", route: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${baseURL}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer["body"] };
}

const health = (baseURL: string, key: string, endpointId: string) => send(baseURL, key, "GET", `/v2/${endpointId}/health`);
const graphql = (baseURL: string, key: string, query: string) => send(baseURL, key, "POST", "/graphql", { query });

/** The status and error code of an answer, to compare in one go. */
const outcome = (answer: Answer) => ({ status: answer.status, code: answer.body.error?.code ?? "OK" });

/** `YYYY-MM-DDTHH:mm[:ss]` for `ms`, in the browser's time zone: what `Expires at` takes. */
function localValue(page: Page, ms: number, seconds = false): Promise<string> {
  return page.evaluate(
    ([at, withSeconds]) => {
      const d = new Date(at);
      const pad = (n: number) => String(n).padStart(2, "0");
      const minutes = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
      return withSeconds ? `${minutes}:${pad(d.getSeconds())}` : minutes;
    },
    [ms, seconds] as const,
  );
}

/** The instant the browser reads a local `Expires at` value as. */
const instantOf = (page: Page, local: string) => page.evaluate((value) => new Date(value).getTime(), local);

const exact = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;

/** The Expires cell of a key's row in the list (Name, Key, Kind, Created, Last used, Expires, …). */
const expiresCell = (page: Page, name: string) => keyRow(page, name).getByRole("cell").nth(5);

/** A value of the key page's details list, by its term. */
const detail = (page: Page, term: string) => page.locator(`xpath=//dt[normalize-space()="${term}"]/following-sibling::dd[1]`);

/** Opens the key's page from its name in the list; answers the key's id. */
async function openKeyPage(page: Page, name: string): Promise<string> {
  await page.goto("/settings/api-keys");
  await keyRow(page, name).getByRole("link", { name, exact: true }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys\/key_[^/]+$/);
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return new URL(page.url()).pathname.split("/").pop()!;
}

/** `Roll key` on the key's page with the grace period `grace`; answers the new secret. */
async function rollKey(page: Page, grace: string): Promise<string> {
  await page.getByRole("button", { name: "Roll key" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Old key stays valid for").selectOption({ label: grace });
  await dialog.getByRole("button", { name: "Roll key" }).click();
  const field = dialog.getByLabel("New API key");
  await expect(field).toHaveValue(/^rpa_[0-9A-Za-z]{36}$/);
  await expect(field).toHaveAttribute("readonly", "");
  await expect(dialog.getByRole("button", { name: "Copy API key" })).toBeVisible();
  const plaintext = await field.inputValue();
  await dialog.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  return plaintext;
}

/** Fills `Elevate access` and presses `Elevate`. */
async function elevate(page: Page, options: { resource: string; level: string; duration: string; reason: string; password: string }) {
  await page.getByRole("button", { name: "Elevate access" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Resource").selectOption({ label: options.resource });
  await dialog.getByLabel("Level").selectOption({ label: options.level });
  await dialog.getByLabel("Duration").selectOption({ label: options.duration });
  await dialog.getByLabel("Reason").fill(options.reason);
  await dialog.getByLabel("Password").fill(options.password);
  await dialog.getByRole("button", { name: "Elevate", exact: true }).click();
}

/** The scopes in words on the key's page. */
const scopeWords = (page: Page) => page.getByRole("list", { name: "Scopes" }).getByRole("listitem");

test.describe("key lifecycle", () => {
  test("create with each Expiration choice: the list shows Never, in N days, in 1 year, or the custom time", async ({ page }) => {
    await signUp(page);
    await page.getByRole("button", { name: "Create API key" }).click();
    const expiration = page.getByRole("dialog").getByLabel("Expiration");
    // A native select, 90 days unless changed, with the choices in SPEC §8's order.
    await expect(expiration).toHaveJSProperty("tagName", "SELECT");
    await expect(expiration).toHaveValue("90d");
    await expect(expiration.locator("option")).toHaveText(["7 days", "30 days", "90 days", "1 year", "Custom", "No expiration"]);
    await expect(page.getByLabel("Expires at")).toHaveCount(0);
    await page.keyboard.press("Escape");

    const cases: [string, (cell: ReturnType<typeof expiresCell>) => Promise<void>][] = [
      // Within 7 days: said in words, not only in amber.
      ["7 days", (cell) => expect(cell.getByText("Expires in 7 days", { exact: true })).toBeVisible()],
      ["30 days", (cell) => expect(cell.locator("time")).toHaveText("in 30 days")],
      ["90 days", (cell) => expect(cell.locator("time")).toHaveText("in 3 months")],
      ["1 year", (cell) => expect(cell.locator("time")).toHaveText("in 1 year")],
      ["No expiration", async (cell) => {
        await expect(cell).toContainText("Never");
        await expect(cell.locator("time")).toHaveCount(0);
      }],
    ];
    for (const [label, check] of cases) {
      const before = Date.now();
      await createKey(page, `exp ${label}`, async () => {
        await page.getByRole("dialog").getByLabel("Expiration").selectOption({ label });
      });
      await check(expiresCell(page, `exp ${label}`));
      if (label !== "No expiration") {
        // The exact time on hover, counted from when the key was made.
        const days = { "7 days": 7, "30 days": 30, "90 days": 90, "1 year": 365 }[label]!;
        const title = await expiresCell(page, `exp ${label}`).locator("time").getAttribute("title");
        const shown = Date.parse(title!.replace(" UTC", "Z").replace(" ", "T"));
        expect(shown).toBeGreaterThanOrEqual(Math.floor((before + days * 86_400_000) / 1000) * 1000);
        expect(shown).toBeLessThanOrEqual(Date.now() + days * 86_400_000);
      }
    }

    // Custom: a date and time in the browser's zone, refused inline when less than a minute ahead.
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name", { exact: true }).fill("exp custom");
    const chosenAt = Date.now();
    await dialog.getByLabel("Expiration").selectOption({ label: "Custom" });
    const expiresAt = dialog.getByLabel("Expires at");
    await expect(expiresAt).toHaveAttribute("type", "datetime-local");
    // The earliest the picker offers is at least a minute ahead.
    expect(await instantOf(page, (await expiresAt.getAttribute("min"))!)).toBeGreaterThanOrEqual(chosenAt + 60_000);
    await expiresAt.fill(await localValue(page, Date.now() - 3_600_000));
    await dialog.getByRole("button", { name: "Create", exact: true }).click();
    await expect(dialog.getByText("Expires at must be at least one minute from now.")).toBeVisible();
    await expect(expiresAt).toHaveAttribute("aria-invalid", "true");
    await expect(page.getByLabel("New API key")).toHaveCount(0);

    const local = await localValue(page, Date.now() + 20 * 86_400_000 + 3_600_000);
    const at = await instantOf(page, local);
    await expiresAt.fill(local);
    await dialog.getByRole("button", { name: "Create", exact: true }).click();
    await expect(page.getByLabel("New API key")).toHaveValue(/^rpa_/);
    await page.getByRole("button", { name: "Done" }).click();
    const custom = expiresCell(page, "exp custom").locator("time");
    await expect(custom).toHaveText("in 20 days");
    // The instant the browser meant, not the same wall-clock time read as UTC.
    await expect(custom).toHaveAttribute("title", exact(at));
    expect(local.replace("T", " ")).not.toBe(exact(at).slice(0, 16));
  });

  test("Change expiration on the key's page: a past time is refused inline, a choice counts from now", async ({ page }) => {
    await signUp(page);
    await createKey(page, "changing", async () => {
      await page.getByRole("dialog").getByLabel("Expiration").selectOption({ label: "No expiration" });
    });
    await openKeyPage(page, "changing");
    await expect(detail(page, "Expires")).toHaveText("Never");

    await page.getByRole("button", { name: "Change expiration" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Expiration").selectOption({ label: "Custom" });
    await dialog.getByLabel("Expires at").fill(await localValue(page, Date.now() - 86_400_000));
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog.getByText("Expires at must be at least one minute from now.")).toBeVisible();
    await page.keyboard.press("Escape");
    await page.reload();
    await expect(detail(page, "Expires")).toHaveText("Never");

    await page.getByRole("button", { name: "Change expiration" }).click();
    await expect(dialog.getByLabel("Expiration")).toHaveValue("90d");
    await dialog.getByLabel("Expiration").selectOption({ label: "7 days" });
    const before = Date.now();
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();
    await expect(detail(page, "Expires")).toContainText("Expires in 7 days");
    // With the exact time beside it, 7 days from when it was saved.
    const shown = await detail(page, "Expires").locator("time").getAttribute("title");
    const at = Date.parse(shown!.replace(" UTC", "Z").replace(" ", "T"));
    expect(at).toBeGreaterThanOrEqual(Math.floor((before + 7 * 86_400_000) / 1000) * 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
    await expect(detail(page, "Expires")).toContainText(shown!);

    await page.getByRole("link", { name: "All API keys" }).click();
    await expect(expiresCell(page, "changing").getByText("Expires in 7 days")).toBeVisible();

    // And back to none.
    await openKeyPage(page, "changing");
    await page.getByRole("button", { name: "Change expiration" }).click();
    await dialog.getByLabel("Expiration").selectOption({ label: "No expiration" });
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();
    await expect(detail(page, "Expires")).toHaveText("Never");
  });

  test("roll with Expire now: the old secret is refused, the new one works with the same scopes", async ({ page, baseURL }) => {
    await signUp(page);
    const alpha = await createEndpoint(page, "alpha");
    const oldKey = await createKey(page, "rolling", async () => {
      await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
      await scopeRow(page, "alpha").getByRole("radio", { name: "Read / Write" }).click();
    });
    expect(outcome(await health(baseURL!, oldKey, alpha))).toEqual({ status: 200, code: "OK" });
    const keyId = await openKeyPage(page, "rolling");
    await expect(scopeWords(page)).toHaveText(["GraphQL: None", "All endpoints: Read", "alpha: Read / Write"]);

    const newKey = await rollKey(page, "Expire now");
    expect(newKey).not.toBe(oldKey);
    expect(outcome(await health(baseURL!, oldKey, alpha))).toEqual({ status: 401, code: "UNAUTHENTICATED" });
    expect(outcome(await health(baseURL!, newKey, alpha))).toEqual({ status: 200, code: "OK" });
    expect(outcome(await send(baseURL!, newKey, "POST", `/v2/${alpha}/run`, { input: { n: 1 } }))).toEqual({ status: 200, code: "OK" });

    // Same key: same page, same scopes, the new hint, no previous key kept.
    await page.reload();
    expect(page.url()).toContain(keyId);
    await expect(scopeWords(page)).toHaveText(["GraphQL: None", "All endpoints: Read", "alpha: Read / Write"]);
    await expect(detail(page, "Key")).toHaveText(`${newKey.slice(0, 8)}…${newKey.slice(-4)}`);
    await expect(page.getByText("Previous key valid until")).toHaveCount(0);
    await page.getByRole("link", { name: "All API keys" }).click();
    await keyRow(page, "rolling").getByRole("button", { name: "Edit scopes" }).click();
    await expect(scopeRow(page, "alpha").getByRole("radio", { name: "Read / Write" })).toBeChecked();
    await expect(scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true })).toBeChecked();
    expect(await page.content()).not.toContain(newKey);
  });

  test("roll with 1 hour: both secrets work until Expire previous key now", async ({ page, baseURL }) => {
    await signUp(page);
    const alpha = await createEndpoint(page, "alpha");
    const oldKey = await createKey(page, "graceful", async () => {
      await scopeRow(page, "alpha").getByRole("radio", { name: "Read", exact: true }).click();
    });
    await openKeyPage(page, "graceful");
    const before = Date.now();
    const newKey = await rollKey(page, "1 hour");
    expect(outcome(await health(baseURL!, oldKey, alpha))).toEqual({ status: 200, code: "OK" });
    expect(outcome(await health(baseURL!, newKey, alpha))).toEqual({ status: 200, code: "OK" });

    const previous = page.getByRole("region", { name: "Previous key" });
    await expect(previous).toContainText("Previous key valid until");
    await expect(previous).toContainText(`…${oldKey.slice(-4)}`);
    await expect(previous).not.toContainText("first used");
    const until = Date.parse((await previous.locator("time").getAttribute("datetime"))!);
    expect(until).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 3_600_000);

    await previous.getByRole("button", { name: "Expire previous key now" }).click();
    await expect(page.getByRole("alertdialog")).toContainText(`…${oldKey.slice(-4)}`);
    await confirmInDialog(page, "Expire previous key");
    await expect(page.getByText("Previous key valid until")).toHaveCount(0);
    expect(outcome(await health(baseURL!, oldKey, alpha))).toEqual({ status: 401, code: "UNAUTHENTICATED" });
    expect(outcome(await health(baseURL!, newKey, alpha))).toEqual({ status: 200, code: "OK" });
  });

  test("rolling a legacy key makes it a scoped key with the same access; its old secret works until the new one is used", async ({ page, baseURL }) => {
    const email = await signUp(page);
    const alpha = await createEndpoint(page, "alpha");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const legacy = Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
    const file = path.join(mkdtempSync(path.join(tmpdir(), "keyscope-legacy-")), "keys.csv");
    writeFileSync(file, `old writer,read_write,${legacy}\n`);
    await importLegacyKeys(email, file);
    expect(outcome(await graphql(baseURL!, legacy, MUTATION))).toEqual({ status: 200, code: "OK" });

    await openKeyPage(page, "old writer");
    await expect(detail(page, "Kind")).toHaveText("Legacy");
    await page.getByRole("button", { name: "Roll key" }).click();
    await expect(page.getByRole("dialog")).toContainText("turns it into a scoped rpa_ key with the same access");
    await page.keyboard.press("Escape");
    const newKey = await rollKey(page, "Until the new key is first used");

    await expect(detail(page, "Kind")).toHaveText("Scoped");
    await expect(scopeWords(page)).toHaveText(["GraphQL: Read / Write", "All endpoints: Read / Write"]);
    await expect(page.getByRole("region", { name: "Previous key" })).toContainText("or until the new key is first used");
    await expect(page.getByRole("region", { name: "Previous key" })).toContainText(`…${legacy.slice(-4)}`);
    // The legacy secret still works: the new one has not been used yet.
    expect(outcome(await graphql(baseURL!, legacy, "{ myself { id } }"))).toEqual({ status: 200, code: "OK" });

    // The new secret has the legacy key's read_write everywhere: a job and a GraphQL mutation.
    const job = await send(baseURL!, newKey, "POST", `/v2/${alpha}/runsync?wait=10000`, { input: { hello: "world" } });
    expect(job).toMatchObject({ status: 200, body: { status: "COMPLETED", output: { hello: "world" } } });
    expect(outcome(await graphql(baseURL!, newKey, MUTATION))).toEqual({ status: 200, code: "OK" });
    // Its first use ended the legacy secret's grace period.
    await expect.poll(async () => outcome(await graphql(baseURL!, legacy, "{ myself { id } }"))).toEqual({ status: 401, code: "UNAUTHENTICATED" });
    await page.reload();
    await expect(page.getByText("Previous key valid until")).toHaveCount(0);

    await page.goto("/settings/api-keys");
    await expect(keyRow(page, "old writer")).toContainText("Scoped");
    await expect(keyRow(page, "old writer")).not.toContainText("Legacy");
    await keyRow(page, "old writer").getByRole("button", { name: "Edit scopes" }).click();
    // Now editable, like any scoped key.
    await expect(scopeRow(page, "GraphQL").getByRole("radio", { name: "Read / Write" })).toBeEnabled();
    await expect(page.getByRole("button", { name: "Save scopes" })).toBeVisible();
  });

  test("elevate GraphQL to Read / Write for 15 minutes: wrong password changes nothing, the mutation works until End elevation", async ({ page, baseURL }) => {
    await signUp(page);
    const key = await createKey(page, "deployer", async () => {
      await scopeRow(page, "GraphQL").getByRole("radio", { name: "Read", exact: true }).click();
    });
    const refused = await graphql(baseURL!, key, MUTATION);
    expect(refused).toMatchObject({
      status: 403,
      body: { error: { code: "INSUFFICIENT_SCOPE", required: { resource: "graphql", access: "read_write" }, granted: "read" } },
    });

    await openKeyPage(page, "deployer");
    await expect(page.getByRole("region", { name: "Elevations" })).toContainText("None in force");
    // The choices SPEC §8 names, as native selects.
    await page.getByRole("button", { name: "Elevate access" }).click();
    const dialog = page.getByRole("dialog");
    await expect(dialog.getByLabel("Resource").locator("option")).toHaveText(["GraphQL", "All endpoints"]);
    await expect(dialog.getByLabel("Level").locator("option")).toHaveText(["Read", "Read / Write"]);
    await expect(dialog.getByLabel("Duration").locator("option")).toHaveText(["15 minutes", "1 hour", "4 hours", "24 hours"]);
    await expect(dialog.getByLabel("Password")).toHaveAttribute("type", "password");
    // A reason is required, and is asked for before the password is checked.
    await dialog.getByLabel("Level").selectOption({ label: "Read / Write" });
    await dialog.getByLabel("Password").fill(PASSWORD);
    await dialog.getByRole("button", { name: "Elevate", exact: true }).click();
    await expect(dialog.getByText("Reason is required.")).toBeVisible();
    await page.keyboard.press("Escape");

    await elevate(page, { resource: "GraphQL", level: "Read / Write", duration: "15 minutes", reason: "deploy hotfix", password: "not my password" });
    await expect(dialog.getByText("Wrong password.")).toBeVisible();
    await expect(dialog.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
    expect(outcome(await graphql(baseURL!, key, MUTATION))).toEqual({ status: 403, code: "INSUFFICIENT_SCOPE" });
    await page.keyboard.press("Escape");
    await page.reload();
    await expect(page.getByRole("region", { name: "Elevations" })).toContainText("None in force");

    const before = Date.now();
    await elevate(page, { resource: "GraphQL", level: "Read / Write", duration: "15 minutes", reason: "deploy hotfix", password: PASSWORD });
    await expect(dialog).toBeHidden();
    const item = page.getByRole("list", { name: "Elevations in force" }).getByRole("listitem");
    await expect(item).toHaveCount(1);
    await expect(item).toContainText(/^Read \/ Write on GraphQL until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 1[45] minutes\) — deploy hotfix/);
    const endsAt = Date.parse((await item.locator("time").getAttribute("datetime"))!);
    expect(endsAt).toBeGreaterThanOrEqual(before + 15 * 60_000 - 1000);
    expect(endsAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);

    const created = await graphql(baseURL!, key, MUTATION);
    expect(created.status).toBe(200);
    expect(created.body.data).toMatchObject({ podCreate: { id: expect.any(String) } });

    // The list says so; the scope editor keeps showing the key's own scopes.
    await page.getByRole("link", { name: "All API keys" }).click();
    await expect(keyRow(page, "deployer")).toContainText("Elevated");
    await keyRow(page, "deployer").getByRole("button", { name: "Edit scopes" }).click();
    await expect(scopeRow(page, "GraphQL").getByRole("radio", { name: "Read", exact: true })).toBeChecked();
    await page.keyboard.press("Escape");

    await openKeyPage(page, "deployer");
    await item.getByRole("button", { name: "End elevation" }).click();
    await expect(page.getByRole("region", { name: "Elevations" })).toContainText("None in force");
    const after = await graphql(baseURL!, key, MUTATION);
    expect(after).toMatchObject({
      status: 403,
      body: { error: { code: "INSUFFICIENT_SCOPE", message: "This key has Read on GraphQL; this request needs Read / Write.", granted: "read" } },
    });
    await page.goto("/settings/api-keys");
    await expect(keyRow(page, "deployer")).not.toContainText("Elevated");
  });

  test("a key made to expire a minute ahead is refused with 401 KEY_EXPIRED from then on", async ({ page, baseURL }) => {
    test.setTimeout(150_000);
    await signUp(page);
    const alpha = await createEndpoint(page, "alpha");
    await page.goto("/settings/api-keys");
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name", { exact: true }).fill("brief");
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
    await dialog.getByLabel("Expiration").selectOption({ label: "Custom" });
    const local = await localValue(page, Date.now() + 65_000, true);
    const expiresAt = await instantOf(page, local);
    await dialog.getByLabel("Expires at").fill(local);
    await dialog.getByRole("button", { name: "Create", exact: true }).click();
    const field = page.getByLabel("New API key");
    await expect(field).toHaveValue(/^rpa_/);
    const key = await field.inputValue();
    await page.getByRole("button", { name: "Done" }).click();
    await expect(expiresCell(page, "brief").getByText("Expires in 1 minute")).toBeVisible();
    await expect(expiresCell(page, "brief").locator("time")).toHaveAttribute("title", exact(expiresAt));

    expect(Date.now()).toBeLessThan(expiresAt);
    expect(outcome(await health(baseURL!, key, alpha))).toEqual({ status: 200, code: "OK" });
    // Nothing runs at the expiry: the next request after it is refused.
    await page.waitForTimeout(expiresAt - Date.now() + 500);
    const expired = await health(baseURL!, key, alpha);
    expect(outcome(expired)).toEqual({ status: 401, code: "KEY_EXPIRED" });
    expect(expired.body.error?.message).toBe("This API key has expired.");
    const verify = await fetch(`${baseURL}/api/v1/keys/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key, resource: "endpoint", endpointId: alpha, access: "read" }),
    });
    expect(await verify.json()).toMatchObject({ valid: false, code: "KEY_EXPIRED" });

    await page.reload();
    await expect(expiresCell(page, "brief").locator("time")).toHaveText("Expired");
    await openKeyPage(page, "brief");
    await expect(detail(page, "Expires")).toContainText("Expired");
    await expect(page.getByRole("status").filter({ hasText: "This key has expired" })).toBeVisible();
  });

  test("a 403 names the endpoint and says what was required and what the key has", async ({ page, baseURL }) => {
    await signUp(page);
    const alpha = await createEndpoint(page, "alpha");
    const key = await createKey(page, "reader", async () => {
      await scopeRow(page, "alpha").getByRole("radio", { name: "Read", exact: true }).click();
    });
    const answer = await send(baseURL!, key, "POST", `/v2/${alpha}/run`, { input: {} });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({
      error: {
        code: "INSUFFICIENT_SCOPE",
        message: 'This key has Read on endpoint "alpha"; this request needs Read / Write.',
        required: { resource: "endpoint", endpointId: alpha, access: "read_write" },
        granted: "read",
      },
    });
    const graph = await graphql(baseURL!, key, "{ myself { id } }");
    expect(graph.body.error).toEqual({
      code: "INSUFFICIENT_SCOPE",
      message: "This key has None on GraphQL; this request needs Read.",
      required: { resource: "graphql", access: "read" },
      granted: "none",
    });
  });

  test("another account's key page and an unknown id are the not-found page", async ({ page, browser }) => {
    await signUp(page);
    await createKey(page, "private key");
    const keyId = await openKeyPage(page, "private key");

    const other = await browser.newContext();
    const b = await other.newPage();
    await signUp(b);
    for (const id of [keyId, "key_doesnotexist"]) {
      const response = await b.goto(`/settings/api-keys/${id}`);
      expect(response?.status(), id).toBe(404);
      await expect(b.getByRole("heading", { name: "Page not found" })).toBeVisible();
      expect(await b.content()).not.toContain("private key");
    }
    await other.close();

    const mine = await page.goto(`/settings/api-keys/${keyId}`);
    expect(mine?.status()).toBe(200);
  });

  test("the audit log records the roll, the previous key's end, and each elevation with its end", async ({ page }) => {
    await signUp(page);
    await createKey(page, "audited");
    const keyId = await openKeyPage(page, "audited");
    await rollKey(page, "1 hour");
    await page.getByRole("button", { name: "Expire previous key now" }).click();
    await confirmInDialog(page, "Expire previous key");
    await elevate(page, { resource: "GraphQL", level: "Read / Write", duration: "15 minutes", reason: "audit me", password: PASSWORD });
    await expect(page.getByRole("dialog")).toBeHidden();
    await page.getByRole("button", { name: "End elevation" }).click();
    await expect(page.getByRole("region", { name: "Elevations" })).toContainText("None in force");
    await elevate(page, { resource: "All endpoints", level: "Read", duration: "1 hour", reason: "short one", password: PASSWORD });
    await expect(page.getByRole("dialog")).toBeHidden();

    // Its end comes now rather than in an hour: the audit log page writes it in before listing.
    const db = openE2eDatabase();
    await db.execute({ sql: "UPDATE api_key_elevations SET ends_at = ? WHERE key_id = ? AND ended_at IS NULL", args: [Date.now(), keyId] });
    db.close();

    await page.goto("/settings/audit-log");
    const time = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC";
    const items = page.getByRole("list", { name: "Audit log entries" }).getByRole("listitem");
    await expect(items.locator("p")).toHaveText([
      "The elevation of key “audited” to Read on All endpoints ran out (reason: “short one”)",
      new RegExp(`^Elevated key “audited” to Read on All endpoints until ${time} \\(reason: “short one”\\)$`),
      "Ended the elevation of key “audited” to Read / Write on GraphQL (reason: “audit me”)",
      new RegExp(`^Elevated key “audited” to Read / Write on GraphQL until ${time} \\(reason: “audit me”\\)$`),
      new RegExp(`^Previous key of “audited” stopped working at ${time}: expired by hand$`),
      new RegExp(`^Rolled key “audited”; the old key stays valid until ${time}$`),
      new RegExp(`^Created key “audited” \\(expires ${time}\\) with GraphQL None; All endpoints None$`),
    ]);
    await expect(items.first()).toContainText("noticed by the server");
    await expect(items.nth(1)).toContainText("via dashboard");
  });

  test("the key's page works with the keyboard and fits a phone-sized screen", async ({ page }) => {
    await page.setViewportSize({ width: 375, height: 740 });
    await signUp(page);
    await createEndpoint(page, "a-rather-long-endpoint-name-for-a-phone");
    await createKey(page, "a-key-with-a-fairly-long-name-too", async () => {
      await scopeRow(page, "a-rather-long-endpoint-name-for-a-phone").getByRole("radio", { name: "Read", exact: true }).click();
    });
    await openKeyPage(page, "a-key-with-a-fairly-long-name-too");
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);

    // Keyboard only: open Roll key, pick a grace period, roll, copy the secret, close.
    await page.getByRole("button", { name: "Roll key" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    const grace = dialog.getByLabel("Old key stays valid for");
    await expect(grace).toBeFocused();
    await grace.selectOption({ label: "24 hours" });
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await expect(dialog.getByRole("button", { name: "Roll key" })).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(dialog.getByLabel("New API key")).toHaveValue(/^rpa_/);
    await expect(dialog.getByRole("button", { name: "Done" })).toBeInViewport();
    await page.keyboard.press("Escape");
    await expect(dialog).toBeHidden();
    await expect(page.getByRole("region", { name: "Previous key" })).toContainText("Previous key valid until");
    expect(await overflow()).toBeLessThanOrEqual(0);

    await page.getByRole("button", { name: "Elevate access" }).click();
    await dialog.getByRole("button", { name: "Elevate", exact: true }).scrollIntoViewIfNeeded();
    await expect(dialog.getByRole("button", { name: "Elevate", exact: true })).toBeInViewport();
    await expect(dialog.getByLabel("Resource")).toBeInViewport();
  });
});
