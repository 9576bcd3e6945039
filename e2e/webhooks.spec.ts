import { createHmac } from "node:crypto";
import http from "node:http";
import type { Page } from "@playwright/test";
import { confirmInDialog, createKey, E2E_PORT, expect, openE2eDatabase, signUp, test } from "./fixtures";

// SPEC §9 events from the dashboard: add a webhook, see its secret once, change keys, and watch a
// receiver on 127.0.0.1 (the e2e server runs with WEBHOOK_ALLOW_PRIVATE=1, scripts/e2e-server.mjs)
// get signed deliveries that the deliveries table then shows.

const RECEIVER_PORT = E2E_PORT + 21;
const RECEIVER = `http://127.0.0.1:${RECEIVER_PORT}`;

type Delivery = { path: string; id: string; event: string; signature: string; body: string; status: number };

const received: Delivery[] = [];
let server: http.Server;

test.beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const id = String(request.headers["keyscope-delivery"]);
      const path = request.url ?? "/";
      // `/flaky…` answers 500 to each delivery's first attempt.
      const status = path.startsWith("/flaky") && !received.some((d) => d.id === id) ? 500 : 200;
      received.push({ path, id, event: String(request.headers["keyscope-event"]), signature: String(request.headers["keyscope-signature"]), body: Buffer.concat(chunks).toString("utf8"), status });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(RECEIVER_PORT, "127.0.0.1", resolve));
});

test.afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const signed = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
const at = (path: string) => received.filter((delivery) => delivery.path === path);

/** The deliveries table's row for an event, by its name. */
const deliveryRow = (page: Page, event: string) =>
  page.getByRole("table", { name: "Deliveries" }).getByRole("row").filter({ has: page.getByText(event, { exact: true }) });

/** `Add webhook` with `url`: answers the signing secret shown once. */
async function addWebhook(page: Page, url: string): Promise<string> {
  await page.getByRole("button", { name: "Add webhook" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("URL").fill(url);
  await dialog.getByRole("button", { name: "Add", exact: true }).click();
  const field = dialog.getByLabel("Signing secret");
  await expect(field).toHaveValue(/^whsec_[0-9A-Za-z]{32}$/);
  await expect(field).toHaveAttribute("readonly", "");
  await expect(dialog.getByRole("button", { name: "Copy webhook secret" })).toBeVisible();
  const secret = await field.inputValue();
  await dialog.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  return secret;
}

test("a webhook receives signed key events; its secret is shown once; deliveries show as Delivered; deleting it asks first", async ({ page }) => {
  const email = await signUp(page);
  await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Webhooks" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  await expect(page.getByText("No webhooks yet.")).toBeVisible();

  // A URL outside the rule is refused on its field, and nothing is added.
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.getByRole("dialog").getByLabel("URL").fill("https://user:pw@hooks.example.com/");
  await page.getByRole("dialog").getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.getByRole("dialog").getByRole("alert")).toHaveText("The URL must not contain a user name or password: deliveries are signed instead.");
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByText("No webhooks yet.")).toBeVisible();

  const url = `${RECEIVER}/main`;
  const secret = await addWebhook(page, url);
  await expect(page.getByRole("listitem", { name: url })).toBeVisible();
  // Once: not on the page after the dialog, nor after a reload.
  await page.reload();
  await expect(page.getByRole("listitem", { name: url })).toBeVisible();
  expect(await page.content()).not.toContain(secret);

  await createKey(page, "hooked");
  const toggle = page.getByRole("switch", { name: "Enable hooked" });
  await toggle.click();
  await expect(toggle).not.toBeChecked();
  await expect(toggle).toBeEnabled();

  await expect.poll(() => at("/main").map((d) => d.event)).toEqual(["key.created", "key.disabled"]);
  for (const delivery of at("/main")) {
    expect(delivery.signature).toBe(signed(secret, delivery.body));
    expect(JSON.parse(delivery.body)).toMatchObject({ type: delivery.event, key: { name: "hooked" }, actor: { type: "dashboard" } });
  }
  expect(new Set(at("/main").map((d) => d.id)).size).toBe(2);

  await page.goto("/settings/webhooks");
  for (const event of ["key.created", "key.disabled"]) {
    const row = deliveryRow(page, event);
    await expect(row.getByText("Delivered")).toBeVisible();
    await expect(row.getByRole("cell").nth(2)).toHaveText(/1/);
    await expect(row.getByRole("cell").nth(3)).toHaveText(/200/);
  }

  // Deleting asks first; Cancel keeps it.
  await page.getByRole("button", { name: `Delete webhook ${url}` }).click();
  const confirm = page.getByRole("alertdialog");
  await expect(confirm).toContainText("Delete this webhook?");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("listitem", { name: url })).toBeVisible();
  await page.getByRole("button", { name: `Delete webhook ${url}` }).click();
  await confirmInDialog(page, "Delete webhook");
  await expect(page.getByRole("listitem", { name: url })).toHaveCount(0);
  await expect(page.getByText("No webhooks yet.")).toBeVisible();

  // Gone with its deliveries; a later change makes none.
  await createKey(page, "after");
  const db = openE2eDatabase();
  try {
    const rows = await db.execute({
      sql: "SELECT count(*) AS n FROM webhook_deliveries WHERE account_id = (SELECT id FROM accounts WHERE email = ?)",
      args: [email.toLowerCase()],
    });
    expect(Number(rows.rows[0]!.n)).toBe(0);
  } finally {
    db.close();
  }
  await page.goto("/settings/audit-log");
  await expect(page.getByText(`Deleted webhook \u201c${RECEIVER}\u201d`)).toBeVisible();
  await expect(page.getByText(`Added webhook \u201c${RECEIVER}\u201d`)).toBeVisible();
});

test("a receiver that fails is retried, and the table shows the outcome", async ({ page }) => {
  await signUp(page);
  await page.goto("/settings/webhooks");
  const secret = await addWebhook(page, `${RECEIVER}/flaky`);
  await createKey(page, "retried");
  await expect.poll(() => at("/flaky").map((d) => [d.event, d.status])).toEqual([
    ["key.created", 500],
    ["key.created", 200],
  ]);
  const [first, second] = at("/flaky");
  // A retry is the same delivery: same id, same signed body.
  expect(second!.id).toBe(first!.id);
  expect(second!.body).toBe(first!.body);
  expect(second!.signature).toBe(signed(secret, second!.body));
  await page.goto("/settings/webhooks");
  const row = deliveryRow(page, "key.created");
  await expect(row.getByText("Delivered")).toBeVisible();
  await expect(row.getByRole("cell").nth(2)).toHaveText(/2/);
});

test("on a phone, with the keyboard: add a webhook and read its secret", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(page);
  await page.goto("/settings/webhooks");
  const add = page.getByRole("button", { name: "Add webhook" });
  await add.focus();
  await page.keyboard.press("Enter");
  const field = page.getByRole("dialog").getByLabel("URL");
  await expect(field).toBeFocused();
  await page.keyboard.type(`${RECEIVER}/phone`);
  await page.keyboard.press("Enter");
  const secret = page.getByRole("dialog").getByLabel("Signing secret");
  await expect(secret).toHaveValue(/^whsec_/);
  await expect(secret).toBeInViewport();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog")).toBeHidden();
  const item = page.getByRole("listitem", { name: `${RECEIVER}/phone` });
  await expect(item).toBeInViewport();
  // Nothing wider than the screen.
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  // Delete from the keyboard: Enter opens the confirmation, Escape closes it.
  const remove = page.getByRole("button", { name: `Delete webhook ${RECEIVER}/phone` });
  await remove.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("alertdialog")).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("alertdialog")).toBeHidden();
  await expect(item).toBeVisible();
});
