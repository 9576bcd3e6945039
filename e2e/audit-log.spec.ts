import { confirmInDialog, createEndpoint, createKey, expect, keyRow, scopeRow, signUp, test } from "./fixtures";
import type { Page } from "@playwright/test";

/** The sentence of each entry on the audit log page, top to bottom. */
function sentences(page: Page) {
  return page.getByRole("list", { name: "Audit log entries" }).getByRole("listitem").locator("p");
}

test.describe("audit log", () => {
  test("records every key and endpoint change, newest first, by name; another account sees none of it", async ({ page, browser }) => {
    await signUp(page);
    await createEndpoint(page, "whisper");
    await createEndpoint(page, "scratch");
    const plaintext = await createKey(page, "ci", async () => {
      await scopeRow(page, "whisper").getByRole("radio", { name: "Read", exact: true }).click();
    });

    const toggle = page.getByRole("switch", { name: "Enable ci" });
    await toggle.click();
    await expect(toggle).not.toBeChecked();
    await expect(toggle).toBeEnabled();
    await toggle.click();
    await expect(toggle).toBeChecked();
    await expect(toggle).toBeEnabled();

    await keyRow(page, "ci").getByRole("button", { name: "Edit scopes" }).click();
    await scopeRow(page, "GraphQL").getByRole("radio", { name: "Read", exact: true }).click();
    await scopeRow(page, "whisper").getByRole("radio", { name: "Read / Write" }).click();
    await page.getByRole("button", { name: "Save scopes" }).click();
    await expect(page.getByRole("dialog")).toBeHidden();

    await keyRow(page, "ci").getByRole("button", { name: "Delete" }).click();
    await confirmInDialog(page, "Delete key");
    await expect(keyRow(page, "ci")).toHaveCount(0);

    await page.goto("/settings/endpoints");
    await page.getByRole("listitem", { name: "scratch", exact: true }).getByRole("button", { name: "Rename" }).click();
    await page.getByRole("dialog").getByLabel("Name", { exact: true }).fill("scratch-2");
    await page.getByRole("button", { name: "Save" }).click();
    const renamed = page.getByRole("listitem", { name: "scratch-2", exact: true });
    await expect(renamed).toBeVisible();
    await renamed.getByRole("button", { name: "Delete" }).click();
    await confirmInDialog(page, "Delete endpoint");
    await expect(renamed).toHaveCount(0);

    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Audit log" }).click();
    await expect(page).toHaveURL(/\/settings\/audit-log$/);
    await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
    await expect(sentences(page)).toHaveText([
      "Deleted endpoint “scratch-2”",
      "Renamed endpoint “scratch” to “scratch-2”",
      "Deleted key “ci”",
      "Changed scopes of “ci”: GraphQL None → Read; whisper: Read → Read / Write",
      "Enabled key “ci”",
      "Disabled key “ci”",
      // Created with the default expiration, 90 days ahead (SPEC §8).
      /^Created key “ci” \(expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) with GraphQL None; All endpoints None; whisper: Read$/,
      "Created endpoint “scratch”",
      "Created endpoint “whisper”",
    ]);

    // Relative time, with the exact time in UTC on hover.
    const newest = page.getByRole("list", { name: "Audit log entries" }).getByRole("listitem").first().locator("time");
    await expect(newest).toHaveText("just now");
    await expect(newest).toHaveAttribute("title", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // Who made it: every change above was made in the dashboard.
    await expect(page.getByRole("list", { name: "Audit log entries" }).getByRole("listitem").first()).toContainText("via dashboard");

    // The full scopes before and after, one click away.
    const change = page.getByRole("listitem").filter({ hasText: "Changed scopes of “ci”" });
    await change.getByText("Before and after").click();
    await expect(change.locator("dt")).toHaveText(["Before", "After"]);
    await expect(change.locator("dd")).toHaveText(["GraphQL None; All endpoints None; whisper: Read", "GraphQL Read; All endpoints None; whisper: Read / Write"]);

    // Never the key, nor its hint.
    const html = await (await page.request.get("/settings/audit-log")).text();
    for (const text of [html, await page.content()]) {
      expect(text).not.toContain(plaintext);
      expect(text).not.toContain(plaintext.slice(4, 34));
      expect(text).not.toContain(`${plaintext.slice(0, 8)}…`);
    }
    // One page only: no pagination.
    await expect(page.getByRole("navigation", { name: "Audit log pages" })).toHaveCount(0);

    const other = await browser.newContext();
    const b = await other.newPage();
    await signUp(b);
    await b.goto("/settings/audit-log");
    await expect(b.getByText("No changes recorded yet.")).toBeVisible();
    await expect(sentences(b)).toHaveCount(0);
    const bHtml = await b.content();
    for (const name of ["whisper", "scratch", "“ci”"]) expect(bHtml).not.toContain(name);
    await other.close();
  });

  test("pages of 50, with Newer and Older links; junk or out-of-range pages never fail", async ({ page }) => {
    test.setTimeout(60_000);
    await signUp(page);
    const key = await createKey(page, "admin", async () => {
      await scopeRow(page, "GraphQL").getByRole("radio", { name: "Read / Write" }).click();
      await page.getByRole("button", { name: "Grant read / write" }).click();
    });
    // Changes made through the GraphQL API with a key are recorded too.
    for (let i = 1; i <= 55; i++) {
      const name = `ep-${String(i).padStart(2, "0")}`;
      const response = await page.request.post("/graphql", {
        headers: { Authorization: `Bearer ${key}` },
        data: { query: `mutation { saveEndpoint(input: { name: "${name}" }) { id name } }` },
      });
      expect(response.status()).toBe(200);
      expect((await response.json()).data.saveEndpoint.name).toBe(name);
    }

    await page.goto("/settings/audit-log");
    const expectedFirstPage = Array.from({ length: 50 }, (_, i) => `Created endpoint “ep-${String(55 - i).padStart(2, "0")}”`);
    await expect(sentences(page)).toHaveText(expectedFirstPage);
    const pages = page.getByRole("navigation", { name: "Audit log pages" });
    await expect(pages.getByRole("link", { name: "Newer" })).toHaveCount(0);
    await expect(pages).toContainText("Page 1 of 2");
    await expect(page.getByText("1–50 of 56")).toBeVisible();

    await pages.getByRole("link", { name: "Older" }).click();
    await expect(page).toHaveURL(/\/settings\/audit-log\?page=2$/);
    await expect(sentences(page)).toHaveText([
      "Created endpoint “ep-05”",
      "Created endpoint “ep-04”",
      "Created endpoint “ep-03”",
      "Created endpoint “ep-02”",
      "Created endpoint “ep-01”",
      /^Created key “admin” \(expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) with GraphQL Read \/ Write; All endpoints None$/,
    ]);
    await expect(page.getByText("51–56 of 56")).toBeVisible();
    await expect(pages.getByRole("link", { name: "Older" })).toHaveCount(0);

    await pages.getByRole("link", { name: "Newer" }).click();
    await expect(page).toHaveURL(/\/settings\/audit-log$/);
    await expect(sentences(page).first()).toHaveText("Created endpoint “ep-55”");

    for (const junk of ["abc", "0", "-1", "1.5", "99999999999999999999"]) {
      const response = await page.goto(`/settings/audit-log?page=${junk}`);
      expect(response?.status(), junk).toBe(200);
      await expect(sentences(page)).toHaveCount(50);
      await expect(sentences(page).first()).toHaveText("Created endpoint “ep-55”");
    }

    const beyond = await page.goto("/settings/audit-log?page=7");
    expect(beyond?.status()).toBe(200);
    await expect(page.getByText("No entries on this page.")).toBeVisible();
    await expect(sentences(page)).toHaveCount(0);
    // Newer leads back to the last page that has entries.
    await page.getByRole("navigation", { name: "Audit log pages" }).getByRole("link", { name: "Newer" }).click();
    await expect(page).toHaveURL(/\?page=2$/);
    await expect(sentences(page)).toHaveCount(6);
  });

  test("fits a phone-sized screen", async ({ page }) => {
    await page.setViewportSize({ width: 375, height: 740 });
    await signUp(page);
    await createEndpoint(page, "a-rather-long-endpoint-name-that-should-wrap-on-a-phone-screen-x");
    await page.goto("/settings/audit-log");
    await expect(sentences(page)).toHaveCount(1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
