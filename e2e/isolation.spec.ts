import { createEndpoint, createKey, expect, keyRow, signUp, test } from "./fixtures";

test.describe("accounts are isolated", () => {
  test("a second account sees none of the first's keys or endpoints", async ({ browser }) => {
    const first = await browser.newContext();
    const a = await first.newPage();
    await signUp(a);
    await createEndpoint(a, "secret-endpoint-of-a");
    await createKey(a, "secret-key-of-a");
    await expect(keyRow(a, "secret-key-of-a")).toBeVisible();

    const second = await browser.newContext();
    const b = await second.newPage();
    await signUp(b);
    await expect(b.getByText("No API keys yet")).toBeVisible();
    expect(await b.content()).not.toContain("secret-key-of-a");
    await b.goto("/settings/endpoints");
    await expect(b.getByText("No endpoints yet.")).toBeVisible();
    await b.goto("/settings/api-keys");
    await b.getByRole("button", { name: "Create API key" }).click();
    // B's scope editor lists no endpoint of A's.
    await expect(b.getByRole("dialog").getByRole("radiogroup")).toHaveCount(2);
    expect(await b.content()).not.toContain("secret-endpoint-of-a");

    await first.close();
    await second.close();
  });
});
