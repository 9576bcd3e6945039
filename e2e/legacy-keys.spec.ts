import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { confirmInDialog, createEndpoint, expect, importLegacyKeys, keyRow, scopeRow, signUp, test } from "./fixtures";

function legacyKey(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
}

test.describe("legacy keys", () => {
  test("imported keys are listed as Legacy, read-only in the scope editor, and can be switched and deleted", async ({ page }) => {
    const email = await signUp(page);
    await createEndpoint(page, "legacy-target");
    const reader = legacyKey();
    const writer = legacyKey();
    const file = path.join(mkdtempSync(path.join(tmpdir(), "keyscope-legacy-")), "keys.csv");
    writeFileSync(file, `old reader,read,${reader}\nold writer,read_write,${writer}\n`);
    const { stdout } = await importLegacyKeys(email, file);
    expect(stdout).toContain("Imported 2 legacy keys");

    await page.goto("/settings/api-keys");
    const row = keyRow(page, "old reader");
    await expect(row).toContainText("Legacy");
    await expect(row).toContainText(`…${reader.slice(-4)}`);
    await expect(row).toContainText("Never");
    expect(await page.content()).not.toContain(reader);

    await row.getByRole("button", { name: "Edit scopes" }).click();
    await expect(scopeRow(page, "GraphQL").getByRole("radio", { name: "Read", exact: true })).toBeChecked();
    await expect(scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true })).toBeChecked();
    await expect(scopeRow(page, "legacy-target").getByRole("radio", { name: "Read", exact: true })).toBeChecked();
    for (const label of ["GraphQL", "All endpoints", "legacy-target"]) {
      for (const radio of await scopeRow(page, label).getByRole("radio").all()) await expect(radio).toBeDisabled();
    }
    await expect(page.getByRole("button", { name: "Save scopes" })).toHaveCount(0);
    await page.getByRole("button", { name: "Close" }).first().click();

    await keyRow(page, "old writer").getByRole("button", { name: "Edit scopes" }).click();
    await expect(scopeRow(page, "GraphQL").getByRole("radio", { name: "Read / Write" })).toBeChecked();
    await expect(scopeRow(page, "All endpoints").getByRole("radio", { name: "Read / Write" })).toBeChecked();
    await page.keyboard.press("Escape");

    const toggle = page.getByRole("switch", { name: "Enable old reader" });
    await toggle.click();
    await expect(toggle).not.toBeChecked();
    await expect(toggle).toBeEnabled();
    await page.reload();
    await expect(toggle).not.toBeChecked();

    await keyRow(page, "old writer").getByRole("button", { name: "Delete" }).click();
    await confirmInDialog(page, "Delete key");
    await expect(keyRow(page, "old writer")).toHaveCount(0);
    await page.reload();
    await expect(keyRow(page, "old writer")).toHaveCount(0);
    await expect(keyRow(page, "old reader")).toHaveCount(1);
  });
});
