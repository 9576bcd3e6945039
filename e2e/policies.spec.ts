import { hash } from "@node-rs/argon2";
import type { APIRequestContext, Page } from "@playwright/test";
import { expect, openE2eDatabase, PASSWORD, scopeRow, signIn, signUp, test, uniqueEmail } from "./fixtures";

// SPEC §11 policies and approvals: the owner caps key lifetime at 90 days and turns on `GraphQL
// Read / Write needs approval`; a Member's new key asking for GraphQL Read / Write works for
// everything else, while GraphQL refuses (403 INSUFFICIENT_SCOPE) until the owner approves it at
// /settings/approvals — then the same mutation goes through.

/**
 * A user who is a Member of the owner's team and of no other, written straight into the e2e
 * database (as the invitation flow would leave it), so that signing in lands in that team.
 */
async function addMember(ownerEmail: string, role: "member" | "admin" | "viewer" = "member"): Promise<string> {
  const db = openE2eDatabase();
  try {
    const team = await db.execute({ sql: "SELECT m.account_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ? AND m.role = 'owner'", args: [ownerEmail] });
    const teamId = String(team.rows[0]?.[0]);
    const email = uniqueEmail(role);
    const userId = `usr_e2e_${Math.random().toString(36).slice(2, 12)}`;
    await db.execute({
      sql: "INSERT INTO users (id, email, password_hash, session_version, created_at) VALUES (?, ?, ?, 0, ?)",
      args: [userId, email, await hash(PASSWORD), Date.now()],
    });
    await db.execute({ sql: "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", args: [teamId, userId, role, Date.now()] });
    return email;
  } finally {
    db.close();
  }
}

async function graphql(request: APIRequestContext, key: string, query: string) {
  const response = await request.post("/graphql", { headers: { Authorization: `Bearer ${key}` }, data: { query } });
  return { status: response.status(), body: await response.json() };
}

const MUTATION = 'mutation { saveEndpoint(input: { name: "made-by-bot" }) { id name } }';

async function expirationOptions(page: Page): Promise<string[]> {
  return page.getByRole("dialog").getByLabel("Expiration").locator("option").allTextContents();
}

test("owner's cap and approval policy; a Member's GraphQL Read / Write waits until the owner approves it", async ({ page, browser }) => {
  test.setTimeout(90_000);
  const ownerEmail = await signUp(page);

  // The owner sets both policies.
  await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Policies" }).click();
  await expect(page.getByRole("heading", { name: "Policies" })).toBeVisible();
  const lifetime = page.getByLabel("Maximum key lifetime");
  await expect(lifetime.locator("option")).toHaveText(["No limit", "30 days", "90 days", "1 year"]);
  await expect(lifetime).toHaveValue("none");
  await lifetime.selectOption({ label: "90 days" });
  await page.getByLabel("GraphQL Read / Write needs approval").check();
  await page.getByRole("button", { name: "Save policies" }).click();
  await expect(page.getByRole("status")).toHaveText("Policies saved.");
  await page.reload();
  await expect(page.getByLabel("Maximum key lifetime")).toHaveValue("90d");
  await expect(page.getByLabel("GraphQL Read / Write needs approval")).toBeChecked();

  // `No expiration` and `1 year` are gone from the choices, on create and on change.
  await page.goto("/settings/api-keys");
  await page.getByRole("button", { name: "Create API key" }).click();
  expect(await expirationOptions(page)).toEqual(["7 days", "30 days", "90 days", "Custom"]);
  await expect(page.getByRole("dialog").getByLabel("Expiration")).toHaveValue("90d");
  await page.keyboard.press("Escape");

  // A Member of the team (added directly: see addMember) creates a key asking for GraphQL Read / Write.
  const memberEmail = await addMember(ownerEmail);
  const memberContext = await browser.newContext();
  const member = await memberContext.newPage();
  try {
    await signIn(member, memberEmail);
    await expect(member).toHaveURL(/\/settings\/api-keys$/);
    await member.getByRole("button", { name: "Create API key" }).click();
    expect(await expirationOptions(member)).toEqual(["7 days", "30 days", "90 days", "Custom"]);
    await member.getByRole("dialog").getByLabel("Name", { exact: true }).fill("deploy-bot");
    await scopeRow(member, "GraphQL").getByRole("radio", { name: "Read / Write" }).click();
    await member.getByRole("button", { name: "Grant read / write" }).click();
    await scopeRow(member, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
    await member.getByRole("button", { name: "Create", exact: true }).click();
    const field = member.getByLabel("New API key");
    await expect(field).toHaveValue(/^rpa_[0-9A-Za-z]{36}$/);
    const key = await field.inputValue();
    await expect(member.getByRole("dialog").getByRole("status")).toContainText("GraphQL Read / Write: waiting for approval");
    await member.getByRole("button", { name: "Done" }).click();

    // Until approved, the key acts with GraphQL None: mutations (and queries) are refused.
    expect(await graphql(member.request, key, MUTATION)).toMatchObject({ status: 403, body: { error: { code: "INSUFFICIENT_SCOPE", granted: "none" } } });
    expect((await graphql(member.request, key, "{ myself { id } }")).status).toBe(403);

    // The Member sees it waiting on the key's row, its page, and (read-only) at Approvals.
    const row = member.getByRole("row").filter({ hasText: "deploy-bot" });
    await expect(row).toContainText("GraphQL Read / Write: waiting for approval");
    await row.getByRole("link", { name: "deploy-bot" }).click();
    await expect(member.getByRole("list", { name: "Waiting for approval" })).toContainText("GraphQL Read / Write: waiting for approval");
    await expect(member.getByRole("list", { name: "Scopes" })).toContainText("GraphQL: None");
    await member.goto("/settings/approvals");
    const mine = member.getByRole("listitem", { name: "deploy-bot" });
    await expect(mine).toContainText("Waiting for approval");
    await expect(mine.getByRole("button", { name: "Approve" })).toHaveCount(0);

    // The owner approves it.
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Approvals" }).click();
    const request = page.getByRole("listitem", { name: "deploy-bot" });
    await expect(request).toContainText(`Asked by ${memberEmail}`);
    await expect(request).toContainText("GraphQL Read / Write (new key)");
    await request.getByRole("button", { name: "Approve" }).click();
    await expect(page.getByText("Nothing is waiting for approval.")).toBeVisible();

    // The same mutation now goes through.
    const after = await graphql(member.request, key, MUTATION);
    expect(after).toMatchObject({ status: 200, body: { data: { saveEndpoint: { name: "made-by-bot" } } } });

    await member.reload();
    await expect(member.getByText("Nothing is waiting for approval.")).toBeVisible();

    // Both steps are in the audit log, naming who acted.
    await page.goto("/settings/audit-log");
    const entries = page.getByRole("list", { name: "Audit log entries" });
    await expect(entries).toContainText(`Approved GraphQL Read / Write on new key “deploy-bot”, asked by ${memberEmail}`);
    await expect(entries).toContainText("Asked for GraphQL Read / Write on new key “deploy-bot”; waiting for approval");
    await expect(entries).toContainText("Changed policies: Maximum key lifetime No limit → 90 days; GraphQL Read / Write needs approval off → on");
  } finally {
    await memberContext.close();
  }
});

test("a Member sees the policies read-only and cannot save them", async ({ page, browser }) => {
  const ownerEmail = await signUp(page);
  const memberEmail = await addMember(ownerEmail);
  const context = await browser.newContext();
  const member = await context.newPage();
  try {
    await signIn(member, memberEmail);
    await expect(member).toHaveURL(/\/settings\/api-keys$/);
    await member.goto("/settings/policies");
    await expect(member.getByRole("note")).toHaveText("Your role (Member) cannot change policies.");
    await expect(member.getByLabel("Maximum key lifetime")).toBeDisabled();
    await expect(member.getByLabel("GraphQL Read / Write needs approval")).toBeDisabled();
    await expect(member.getByRole("button", { name: "Save policies" })).toHaveCount(0);
  } finally {
    await context.close();
  }
});
