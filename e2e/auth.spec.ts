import { createKey, openE2eDatabase, expect, PASSWORD, signIn, signUp, test, uniqueEmail } from "./fixtures";

test.describe("accounts", () => {
  test("signing up signs the new user in and lands on the API keys page", async ({ page }) => {
    const email = await signUp(page);
    await expect(page.getByRole("heading", { name: "API keys" })).toBeVisible();
    await expect(page.getByText(email)).toBeVisible();
    await expect(page.getByText("No API keys yet")).toBeVisible();
  });

  test("signs out and back in; a wrong password gets a clear message", async ({ page }) => {
    const email = await signUp(page);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/signin$/);
    await page.goto("/settings/api-keys");
    await expect(page).toHaveURL(/\/signin$/);

    await signIn(page, email, "not the password");
    await expect(page.getByRole("alert").filter({ hasText: "Wrong email or password." })).toBeVisible();
    await expect(page.getByLabel("Email")).toHaveValue(email);

    await signIn(page, email.toUpperCase(), PASSWORD);
    await expect(page).toHaveURL(/\/settings\/api-keys$/);
  });

  test("sign-up refuses a taken email and a short password with inline messages", async ({ page }) => {
    const email = await signUp(page);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/signin$/);

    await page.goto("/signup");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByText("Use at least 8 characters.")).toBeVisible();

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByText("An account with this email already exists.")).toBeVisible();

    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByText("Enter a valid email address.")).toBeVisible();
    await expect(page).toHaveURL(/\/signup$/);
  });

  test("unknown email signs in to nothing", async ({ page }) => {
    await signIn(page, uniqueEmail("ghost"), PASSWORD);
    await expect(page.getByRole("alert").filter({ hasText: "Wrong email or password." })).toBeVisible();
  });

  test("settings pages redirect to sign-in when signed out", async ({ page }) => {
    for (const path of ["/settings/api-keys", "/settings/endpoints", "/"]) {
      await page.goto(path);
      await expect(page).toHaveURL(/\/signin$/);
    }
  });

  test("every action re-checks the session: a page left open after sign-out changes nothing", async ({ page, context }) => {
    const email = await signUp(page);
    await createKey(page, "still-on");
    await context.clearCookies();
    const toggle = page.getByRole("switch", { name: "Enable still-on" });
    await toggle.click();
    await expect(page.getByRole("alert").filter({ hasText: "Your session has ended. Sign in again." })).toBeVisible();
    await expect(toggle).toBeChecked();

    await signIn(page, email);
    await expect(page.getByRole("switch", { name: "Enable still-on" })).toBeChecked();
  });

  test("a deleted account's session cookie does nothing", async ({ page }) => {
    const email = await signUp(page);
    await createKey(page, "orphan");
    const db = openE2eDatabase();
    await db.execute({ sql: "DELETE FROM accounts WHERE email = ?", args: [email] });
    db.close();

    await page.getByRole("switch", { name: "Enable orphan" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Your session has ended. Sign in again." })).toBeVisible();
    await page.goto("/settings/api-keys");
    await expect(page).toHaveURL(/\/signin$/);
  });
});
