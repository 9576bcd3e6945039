import type { Page } from "@playwright/test";
import runpodSdk from "runpod-sdk";
import { captureAction, createEndpoint, createKey, expect, keyRow, openE2eDatabase, scopeRow, signUp, test } from "./fixtures";

// SPEC §10 from the dashboard: `Suggestions` from the key's real requests (counted by the server
// and flushed every LAST_USED_FLUSH_MS), the impact preview in `Edit scopes`, `Apply suggestion`,
// and `Check access` answering as real requests are answered.

type Answer = { status: number; code: string; message?: string };

async function send(baseURL: string, key: string, method: "GET" | "POST", route: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${baseURL}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as { error?: { code: string; message: string } };
  return { status: response.status, code: json.error?.code ?? "OK", message: json.error?.message };
}

const graphqlRead = (baseURL: string, key: string) => send(baseURL, key, "POST", "/graphql", { query: "{ myself { id } }" });
const health = (baseURL: string, key: string, endpointId: string) => send(baseURL, key, "GET", `/v2/${endpointId}/health`);
const run = (baseURL: string, key: string, endpointId: string) => send(baseURL, key, "POST", `/v2/${endpointId}/run`, { input: {} });

async function openKeyPage(page: Page, name: string): Promise<string> {
  await page.goto("/settings/api-keys");
  await keyRow(page, name).getByRole("link", { name, exact: true }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys\/key_[^/?]+$/);
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return new URL(page.url()).pathname.split("/").pop()!;
}

/** Makes a key look `days` old (a suggestion's Disable needs a key that existed for the whole window). */
async function backdate(keyId: string, days: number) {
  const db = openE2eDatabase();
  try {
    await db.execute({ sql: "UPDATE api_keys SET created_at = created_at - ? WHERE id = ?", args: [days * 86_400_000, keyId] });
  } finally {
    db.close();
  }
}

const suggestions = (page: Page) => page.getByRole("region", { name: "Suggestions" });
const checkAccess = (page: Page) => page.getByRole("region", { name: "Check access" });

/**
 * Reloads the page until `check` passes: requests reach the page after the server's next usage
 * flush (LAST_USED_FLUSH_MS, 5 s in e2e), not at once.
 */
async function afterFlush(page: Page, check: () => Promise<void>): Promise<void> {
  await expect(async () => {
    await page.reload();
    await check();
  }).toPass({ timeout: 30_000 });
}

/** `Check access` for one question; answers what its status line says. */
async function check(page: Page, resource: string, access: string, ip = ""): Promise<string> {
  const section = checkAccess(page);
  await section.getByLabel("Resource").selectOption({ label: resource });
  await section.getByLabel("Access").selectOption({ label: access });
  await section.getByLabel("IP address").fill(ip);
  const status = section.getByRole("status");
  // The answer is cleared when the question is sent; wait for the action's own response.
  const answered = page.waitForResponse((response) => response.request().method() === "POST" && !!response.request().headers()["next-action"]);
  await section.getByRole("button", { name: "Check", exact: true }).click();
  await answered;
  await expect(status).not.toHaveText("");
  // The code's line and the reason's, one line break apart.
  return (await status.innerText()).trim().replace(/\n+/g, "\n");
}

test("a key's real requests: suggestion, impact preview, Apply suggestion and Check access agree with the API", async ({ page, baseURL }) => {
  // Two waits for the usage flush (5 s each) and a dozen round trips.
  test.setTimeout(90_000);
  await signUp(page);
  const alpha = await createEndpoint(page, "alpha");
  const beta = await createEndpoint(page, "beta");
  const key = await createKey(page, "wide", async () => {
    await scopeRow(page, "GraphQL").getByRole("radio", { name: "Read / Write" }).click();
    await page.getByRole("button", { name: "Grant read / write" }).click();
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read / Write" }).click();
  });

  // alpha read only, through the SDK, and one GraphQL read query.
  const sdk = runpodSdk(key, { baseUrl: `${baseURL}/v2` }).endpoint(alpha)!;
  const ALPHA_REQUESTS = 3;
  for (let i = 0; i < ALPHA_REQUESTS; i++) expect((await sdk.health()).workers).toHaveProperty("idle");
  expect(await graphqlRead(baseURL!, key)).toEqual({ status: 200, code: "OK", message: undefined });

  await openKeyPage(page, "wide");
  await expect(suggestions(page).getByLabel("Based on")).toHaveValue("30d");
  const changes = suggestions(page).getByRole("list", { name: "Suggested changes" }).getByRole("listitem");
  await afterFlush(page, async () => {
    await expect(changes).toHaveText([
      "GraphQL: Read / Write \u2192 Read",
      "All endpoints: Read / Write \u2192 None",
      "alpha: Read / Write (inherits All endpoints) \u2192 Read",
    ]);
  });
  await expect(suggestions(page)).toContainText("No request was refused for missing scope in the last 30 days.");

  // Another window re-renders the suggestion for it; one outside the choices says so, never a 500.
  await suggestions(page).getByLabel("Based on").selectOption({ label: "7 days" });
  await expect(page).toHaveURL(/\?basedOn=7d$/);
  await expect(suggestions(page)).toContainText("every request this key made in the last 7 days");
  await expect(changes).toHaveCount(3);
  const keyPath = new URL(page.url()).pathname;
  const odd = await page.goto(`${keyPath}?basedOn=1y`);
  expect(odd?.status()).toBe(200);
  await expect(suggestions(page)).toContainText("That window is not one of the choices (7 days, 30 days or 90 days); showing 30 days.");
  await expect(suggestions(page).getByLabel("Based on")).toHaveValue("30d");
  await page.goto(keyPath);

  // Impact preview: alpha at None would have refused exactly the requests made on alpha.
  await page.getByRole("button", { name: "Edit scopes" }).click();
  const dialog = page.getByRole("dialog");
  const preview = dialog.getByRole("status");
  await expect(preview).toHaveText("No request of the last 7 days would have been refused.");
  await scopeRow(page, "alpha").getByRole("radio", { name: "None" }).click();
  await expect(preview).toContainText(`With these scopes, ${ALPHA_REQUESTS} of the last 7 days' requests would have been refused:`);
  await expect(preview.getByRole("listitem")).toHaveText([`alpha: ${ALPHA_REQUESTS} requests`]);
  await scopeRow(page, "GraphQL").getByRole("radio", { name: "None" }).click();
  await expect(preview).toContainText(`${ALPHA_REQUESTS + 1} of the last 7 days' requests`);
  await expect(preview.getByRole("listitem")).toHaveText([`alpha: ${ALPHA_REQUESTS} requests`, "GraphQL: 1 request"]);
  // beta was never used: taking it away refuses nothing more.
  await scopeRow(page, "beta").getByRole("radio", { name: "None" }).click();
  await expect(preview).toContainText(`${ALPHA_REQUESTS + 1} of the last 7 days' requests`);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();

  // The list's Edit scopes previews from the same numbers (all keys' tallies in one query).
  await page.goto("/settings/api-keys");
  await keyRow(page, "wide").getByRole("button", { name: "Edit scopes" }).click();
  await scopeRow(page, "All endpoints").getByRole("radio", { name: "None" }).click();
  await expect(page.getByRole("dialog").getByRole("status").getByRole("listitem")).toHaveText([`alpha: ${ALPHA_REQUESTS} requests`]);
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  await openKeyPage(page, "wide");

  // Apply suggestion: the scopes are narrowed, and say so in the audit log.
  await suggestions(page).getByRole("button", { name: "Apply suggestion" }).click();
  await expect(suggestions(page)).toContainText("The scopes are already the narrowest for what this key used in the last 30 days.");
  await expect(page.getByRole("list", { name: "Scopes" }).getByRole("listitem")).toHaveText(["GraphQL: Read", "All endpoints: None", "alpha: Read"]);

  // A previously allowed request is still allowed; beta, used never, is now refused.
  expect((await sdk.health()).workers).toHaveProperty("idle");
  expect(await graphqlRead(baseURL!, key)).toMatchObject({ status: 200, code: "OK" });
  const betaAnswer = await health(baseURL!, key, beta);
  expect(betaAnswer).toMatchObject({ status: 403, code: "INSUFFICIENT_SCOPE" });

  // Check access answers what those requests got, with the API's own reason.
  expect(await check(page, "GraphQL", "Read")).toBe("Allowed");
  const alphaWrite = await run(baseURL!, key, alpha);
  expect(alphaWrite).toMatchObject({ status: 403, code: "INSUFFICIENT_SCOPE" });
  expect(await check(page, "alpha", "Read / Write")).toBe(`Refused: INSUFFICIENT_SCOPE\n${alphaWrite.message}`);
  expect(await check(page, "alpha", "Read")).toBe("Allowed");
  expect(await check(page, "beta", "Read")).toBe(`Refused: INSUFFICIENT_SCOPE\n${betaAnswer.message}`);
  // A bad address is refused on its field.
  await checkAccess(page).getByLabel("IP address").fill("999.1.1.1");
  await checkAccess(page).getByRole("button", { name: "Check", exact: true }).click();
  await expect(checkAccess(page).getByRole("alert")).toHaveText("Enter an IP address, such as 203.0.113.7 or 2001:db8::1, or leave it empty.");
  await expect(checkAccess(page).getByLabel("IP address")).toHaveAttribute("aria-invalid", "true");

  // The refusals the narrowed key got are listed after the next flush, and never granted.
  await afterFlush(page, async () => {
    await expect(suggestions(page).getByRole("list", { name: "Refused for missing scope" }).getByRole("listitem")).toHaveText([
      // As many of each: by name.
      'Refused 1 time: needs Read / Write on "alpha"',
      'Refused 1 time: needs Read on "beta"',
    ]);
  });
  await expect(page.getByRole("list", { name: "Scopes" }).getByRole("listitem")).toHaveText(["GraphQL: Read", "All endpoints: None", "alpha: Read"]);

  await page.goto("/settings/audit-log");
  await expect(page.getByText(/Changed scopes of .wide. \(from a suggestion based on 30 days\): GraphQL Read \/ Write → Read/)).toBeVisible();
});

test("an unused key is suggested Disable; a stale Apply suggestion is refused; Check access follows the allowlist", async ({ page, browser, baseURL }) => {
  // Three waits for the usage flush.
  test.setTimeout(90_000);
  await signUp(page);
  const alpha = await createEndpoint(page, "alpha");
  const key = await createKey(page, "idle", async () => {
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
  });

  const idleId = await openKeyPage(page, "idle");
  // Created just now: too new to judge, so no Disable yet.
  await expect(suggestions(page)).toContainText("This key is younger than 30 days and has made no request yet");
  await backdate(idleId, 31);
  await page.reload();
  await expect(suggestions(page)).toContainText("This key made no request in the last 30 days. Suggestion: Disable");
  await expect(suggestions(page).getByRole("list", { name: "Suggested changes" })).toHaveCount(0);

  // The allowlist: requests from here (127.0.0.1) are refused, from inside 10.0.0.0/8 allowed.
  await page.getByRole("button", { name: "Restrictions", exact: true }).click();
  await page.getByRole("dialog").getByLabel("Allowed IP addresses").fill("10.0.0.0/8");
  await page.getByRole("button", { name: "Save restrictions" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  await page.reload();
  const fromHere = await health(baseURL!, key, alpha);
  expect(fromHere).toMatchObject({ status: 403, code: "IP_NOT_ALLOWED" });
  expect(await check(page, "alpha", "Read", "127.0.0.1")).toBe(`Refused: IP_NOT_ALLOWED\n${fromHere.message}`);
  expect(await check(page, "alpha", "Read", "10.1.2.3")).toBe("Allowed");
  expect(await check(page, "alpha", "Read")).toMatch(/^Refused: IP_NOT_ALLOWED\n.*enter an address/);
  expect(await check(page, "alpha", "Read / Write", "10.1.2.3")).toMatch(/^Refused: INSUFFICIENT_SCOPE\n/);

  // A suggestion captured from a second tab, made stale by usage in between, is refused.
  await page.getByRole("button", { name: "Restrictions", exact: true }).click();
  await page.getByRole("dialog").getByLabel("Allowed IP addresses").fill("");
  await page.getByRole("button", { name: "Save restrictions" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  expect(await health(baseURL!, key, alpha)).toMatchObject({ status: 200 });
  await afterFlush(page, async () => {
    await expect(suggestions(page).getByRole("list", { name: "Suggested changes" }).getByRole("listitem")).toHaveText([
      "All endpoints: Read \u2192 None",
      "alpha: Read (inherits All endpoints) \u2192 Read",
    ]);
  });
  const secondTab = await page.context().newPage();
  await secondTab.goto(page.url());
  // Meanwhile a new endpoint is used through All endpoints: the shown suggestion no longer holds.
  const gamma = await createEndpoint(page, "gamma");
  expect(await health(baseURL!, key, gamma)).toMatchObject({ status: 200 });
  await afterFlush(page, async () => {
    await page.goto(new URL(secondTab.url()).pathname);
    await expect(suggestions(page).getByRole("list", { name: "Suggested changes" }).getByRole("listitem")).toHaveCount(3);
  });
  const stale = await captureAction(secondTab, () => suggestions(secondTab).getByRole("button", { name: "Apply suggestion" }).click());
  expect(stale.body).toContain('"basedOn":"30d"');
  await expect(suggestions(secondTab).getByRole("alert")).toHaveText("The suggestion has changed; review it again.");
  // The tab now shows the suggestion as it stands (gamma pinned too), and it applies.
  await expect(suggestions(secondTab).getByRole("list", { name: "Suggested changes" }).getByRole("listitem")).toHaveCount(3);
  await suggestions(secondTab).getByRole("button", { name: "Apply suggestion" }).click();
  await expect(secondTab.getByRole("list", { name: "Scopes" }).getByRole("listitem")).toHaveText(["GraphQL: None", "All endpoints: None", "alpha: Read", "gamma: Read"]);
  await secondTab.close();

  // Another account replaying the owner's Apply suggestion learns nothing and changes nothing.
  const other = await browser.newContext();
  const attacker = await other.newPage();
  await signUp(attacker);
  const replayed = await attacker.request.post(stale.url, { headers: stale.headers, data: stale.body, maxRedirects: 0 });
  expect(replayed.status()).toBe(200);
  expect(await replayed.text()).toContain("API key not found.");
  await other.close();
  await page.reload();
  await expect(page.getByRole("list", { name: "Scopes" }).getByRole("listitem")).toHaveText(["GraphQL: None", "All endpoints: None", "alpha: Read", "gamma: Read"]);

  // A key never used: `Disable` switches it off, the normal audited way.
  await createKey(page, "never");
  await backdate(await openKeyPage(page, "never"), 31);
  await page.reload();
  await expect(suggestions(page)).toContainText("Suggestion: Disable");
  await suggestions(page).getByRole("button", { name: "Disable", exact: true }).click();
  await expect(page.getByRole("switch", { name: "Enable never" })).not.toBeChecked();
  await page.goto("/settings/audit-log");
  await expect(page.getByText("Disabled key \u201cnever\u201d")).toBeVisible();
});
