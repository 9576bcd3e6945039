import { readFile } from "node:fs/promises";
import type { Page } from "@playwright/test";
import runpodSdk from "runpod-sdk";
import { createEndpoint, createKey, expect, keyRow, scopeRow, signIn, signUp, test } from "./fixtures";

// SPEC §10, the key's page: requests made with a key show in `Requests` (chart and table) and
// `Usage by resource` within the flush interval plus 10 s, without a reload; `Download usage`
// gives the same counts as CSV; the list shows `Requests (7 d)` and the scopes in words.

/** The e2e server's usage flush interval (LAST_USED_FLUSH_MS, lib/env.ts default; scripts/e2e-server.mjs leaves it). */
const FLUSH_MS = 5_000;
const APPEARS_WITHIN_MS = FLUSH_MS + 10_000;

/** The chart's table: opened from `Show as table`, named by its caption. */
function requestsTable(page: Page, range: "24 hours" | "30 days") {
  return page.getByRole("table", { name: new RegExp(`^Requests over the last ${range}`) });
}

test("a key's requests show on its page without a reload, by outcome and by resource, and download as CSV", async ({ page, baseURL, browser }) => {
  test.setTimeout(120_000);
  // The server's first paint and the browser's must agree (hour names, `Last seen`): React reports
  // a hydration mismatch as a console error (minified #418/#423/#425 in production).
  const consoleErrors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  const email = await signUp(page);
  const endpointId = await createEndpoint(page, "alpha");
  const key = await createKey(page, "usage-key", async () => {
    await scopeRow(page, "alpha").getByRole("radio", { name: "Read", exact: true }).click();
  });
  await expect(keyRow(page, "usage-key")).toContainText("GraphQL: None \u00b7 All endpoints: None \u00b7 alpha: Read");

  // The key's page, open before any request is made; it is never reloaded below.
  await keyRow(page, "usage-key").getByRole("link", { name: "usage-key" }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys\/[^/]+$/);
  const keyPage = page.url();
  const keyId = keyPage.split("/").at(-1)!;
  await expect(page.getByRole("heading", { name: "Requests" })).toBeVisible();
  await expect(page.getByRole("radio", { name: "24 hours" })).toBeChecked();
  await page.getByText("Show as table").click();
  const hours = requestsTable(page, "24 hours");
  await expect(hours.locator("tfoot").getByRole("cell")).toHaveText(["0", "0"]);
  const resources = page.getByRole("table", { name: "Usage by resource" });
  await expect(resources.getByRole("columnheader")).toHaveText(["Resource", "Access", "Allowed", "Denied", "Last seen"]);
  await expect(resources).toContainText("No requests in this range.");
  await page.evaluate(() => Object.assign(window, { usageSpecMarker: "not reloaded" }));

  // Three allowed reads, two writes refused for missing scope (through the SDK, as customers call),
  // and one verify API check on a caller's behalf.
  const endpoint = runpodSdk(key, { baseUrl: `${baseURL}/v2` }).endpoint(endpointId)!;
  for (let i = 0; i < 3; i++) expect((await endpoint.health()).workers).toHaveProperty("idle");
  for (let i = 0; i < 2; i++) {
    await expect(endpoint.run({ input: { n: i } })).rejects.toMatchObject({ response: { status: 403, data: { error: { code: "INSUFFICIENT_SCOPE" } } } });
  }
  const verify = await fetch(`${baseURL}/api/v1/keys/verify`, {
    method: "POST",
    body: JSON.stringify({ key, resource: "endpoint", endpointId, access: "read" }),
  });
  expect(await verify.json()).toMatchObject({ valid: true, code: "VALID" });
  const madeAt = Date.now();

  // Columns: Allowed, INSUFFICIENT_SCOPE, Total; the footer row sums them.
  await expect(hours.locator("tfoot").getByRole("cell")).toHaveText(["4", "2", "6"], { timeout: APPEARS_WITHIN_MS });
  console.log(`usage appeared on the open page ${Date.now() - madeAt} ms after the last request (bound ${APPEARS_WITHIN_MS} ms)`);
  await expect(hours.getByRole("columnheader")).toHaveText(["Hour", "Allowed", "INSUFFICIENT_SCOPE", "Total"]);
  await expect(page.getByRole("list", { name: "Legend" }).getByRole("listitem")).toHaveText(["Allowed", "INSUFFICIENT_SCOPE"]);
  await expect.poll(() => page.locator('svg[role="img"] rect').count()).toBeGreaterThanOrEqual(2);
  // Latest first: the verify check, the refused writes, the reads.
  await expect(resources.locator("tbody").getByRole("row")).toHaveText([
    /^Verify API: alpha\s*Read\s*1\s*0\s*just now$/,
    /^alpha\s*Read \/ Write\s*0\s*2\s*just now$/,
    /^alpha\s*Read\s*3\s*0\s*just now$/,
  ]);
  expect(await page.evaluate(() => (window as unknown as { usageSpecMarker?: string }).usageSpecMarker)).toBe("not reloaded");
  expect(consoleErrors.filter((text) => /hydrat|#418|#423|#425/i.test(text))).toEqual([]);

  // The same requests over 30 days, by day.
  await page.getByRole("radio", { name: "30 days" }).check();
  const days = requestsTable(page, "30 days");
  await expect(days.getByRole("columnheader").first()).toHaveText("Day");
  await expect(days.locator("tbody").getByRole("row")).toHaveCount(30);
  await expect(days.locator("tfoot").getByRole("cell")).toHaveText(["4", "2", "6"]);
  await expect(resources.locator("tbody").getByRole("row")).toHaveCount(3);

  // Download usage: the daily counts as CSV.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download usage" }).click()]);
  expect(download.suggestedFilename()).toBe("usage-key-usage.csv");
  const lines = (await readFile(await download.path(), "utf8")).trimEnd().split("\r\n");
  expect(lines[0]).toBe("day,resource,endpoint,via,access,outcome,requests,last_seen");
  const counts = new Map<string, number>();
  for (const line of lines.slice(1)) {
    const [day, resource, name, via, access, outcome, requests, lastSeen] = line.split(",");
    expect(day).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(lastSeen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect([resource, name]).toEqual([endpointId, "alpha"]);
    const id = `${via} ${access} ${outcome}`;
    counts.set(id, (counts.get(id) ?? 0) + Number(requests));
  }
  expect(Object.fromEntries(counts)).toEqual({ "api read VALID": 3, "api read_write INSUFFICIENT_SCOPE": 2, "verify read VALID": 1 });

  // The list: every decision of the last 7 days, and the scopes in words under the name.
  await page.goto("/settings/api-keys");
  await expect(page.getByRole("columnheader", { name: "Requests (7 d)" })).toBeVisible();
  const row = keyRow(page, "usage-key");
  await expect(row.getByRole("cell").nth(6)).toHaveText("6", { useInnerText: true });
  await expect(row.getByRole("cell").first()).toContainText("GraphQL: None \u00b7 All endpoints: None \u00b7 alpha: Read");

  // Without JavaScript the server's HTML already holds the chart.
  const noScript = await browser.newContext({ baseURL, javaScriptEnabled: false, storageState: await page.context().storageState() });
  try {
    const bare = await noScript.newPage();
    await bare.goto(keyPage);
    await expect(bare.locator('svg[role="img"]')).toHaveAttribute("aria-label", /6 in all, 4 allowed, 2 refused/);
    expect(await bare.locator('svg[role="img"] rect').count()).toBeGreaterThanOrEqual(2);
  } finally {
    await noScript.close();
  }

  // Another account reaches none of it: both routes answer as for an id that never existed.
  const stranger = await browser.newContext({ baseURL });
  try {
    const other = await stranger.newPage();
    await signUp(other);
    for (const path of [`/settings/api-keys/${keyId}/usage`, `/settings/api-keys/${keyId}/usage?range=30d`, `/settings/api-keys/${keyId}/usage.csv`]) {
      const response = await other.request.get(path);
      expect(response.status(), path).toBe(404);
      expect(response.headers()["content-disposition"], path).toBeUndefined();
    }
    expect((await other.request.get(`/settings/api-keys/key_nosuchkey/usage`)).status()).toBe(404);
  } finally {
    await stranger.close();
  }
  // The owner's own session gets them; a range outside the choices is a 400.
  const own = await page.request.get(`/settings/api-keys/${keyId}/usage?range=30d`);
  expect(own.status()).toBe(200);
  expect(own.headers()["cache-control"]).toBe("no-store");
  expect((await page.request.get(`/settings/api-keys/${keyId}/usage?range=7d`)).status()).toBe(400);

  // A phone: the section fits the screen, the list's row is a card with the count labelled.
  const phone = await browser.newContext({ baseURL, viewport: { width: 375, height: 740 } });
  try {
    const small = await phone.newPage();
    await signIn(small, email);
    await expect(small).toHaveURL(/\/settings\/api-keys$/);
    await expect(keyRow(small, "usage-key").getByRole("cell").nth(6)).toHaveText("Requests (7 d)6", { useInnerText: false });
    await expect(keyRow(small, "usage-key").getByText("Requests (7 d)")).toBeVisible();
    await small.goto(keyPage);
    const chart = small.locator('svg[role="img"]');
    await expect.poll(() => chart.locator("rect").count()).toBeGreaterThanOrEqual(2);
    const box = await chart.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(375);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  } finally {
    await phone.close();
  }
});
