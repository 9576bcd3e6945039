import { confirmInDialog, createEndpoint, expect, signUp, test } from "./fixtures";

test.describe("endpoints", () => {
  test("create, copy the id, rename and delete an endpoint", async ({ page, context }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await signUp(page);
    const id = await createEndpoint(page, "whisper-large");
    expect(id).toMatch(/^[a-z0-9]{16}$/);

    const item = page.getByRole("listitem", { name: "whisper-large", exact: true });
    await item.getByRole("button", { name: "Copy id of whisper-large" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(id);

    await item.getByRole("button", { name: "Rename" }).click();
    await page.getByRole("dialog").getByLabel("Name", { exact: true }).fill("whisper-v3");
    await page.getByRole("button", { name: "Save" }).click();
    const renamed = page.getByRole("listitem", { name: "whisper-v3", exact: true });
    await expect(renamed).toBeVisible();
    await expect(renamed.locator("code")).toHaveText(id);

    await page.reload();
    await renamed.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("alertdialog")).toContainText("Delete whisper-v3?");
    await confirmInDialog(page, "Delete endpoint");
    await expect(renamed).toHaveCount(0);
    await page.reload();
    await expect(page.getByText("No endpoints yet.")).toBeVisible();
  });

  test("names must be 1–64 characters after trimming", async ({ page }) => {
    await signUp(page);
    await page.goto("/settings/endpoints");
    const create = page.getByRole("button", { name: "Create endpoint" });

    await page.getByLabel("Name", { exact: true }).fill("   ");
    await create.click();
    await expect(page.getByText("Name is required.")).toBeVisible();

    await page.getByLabel("Name", { exact: true }).fill("x".repeat(65));
    await create.click();
    await expect(page.getByText("Name must be at most 64 characters.")).toBeVisible();

    await page.getByLabel("Name", { exact: true }).fill(`  ${"y".repeat(64)}  `);
    await create.click();
    await expect(page.getByRole("listitem", { name: "y".repeat(64), exact: true })).toBeVisible();
  });

  test("a name of only zero-width and no-break spaces is refused, creating nothing", async ({ page }) => {
    await signUp(page);
    await page.goto("/settings/endpoints");
    await page.getByLabel("Name", { exact: true }).fill("\u200B\u00A0\u200B\u00A0\u200D");
    await page.getByRole("button", { name: "Create endpoint" }).click();
    await expect(page.getByText("Name can't be blank or invisible.")).toBeVisible();
    await page.reload();
    await expect(page.getByText("No endpoints yet.")).toBeVisible();
  });

  test("cancelling a delete keeps the endpoint", async ({ page }) => {
    await signUp(page);
    await createEndpoint(page, "keep-me");
    await page.getByRole("listitem", { name: "keep-me" }).getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.reload();
    await expect(page.getByRole("listitem", { name: "keep-me" })).toBeVisible();
  });
});
