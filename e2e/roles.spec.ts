import type { Browser, Page } from "@playwright/test";
import { createEndpoint, createKey, expect, keyRow, openE2eDatabase, signUp, test } from "./fixtures";

// SPEC §11 on the pages: a Viewer sees every page of the team with nothing to change; a Member sees
// the controls of the keys they created only. Pages decide it with the same rules the actions
// apply (e2e/action-attacks.spec.ts replays the actions themselves). Members are added to the team
// directly in the database: the members page has its own spec.

async function teamIdOf(email: string): Promise<string> {
  const db = openE2eDatabase();
  try {
    return String((await db.execute({ sql: "SELECT account_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ?", args: [email] })).rows[0]!.account_id);
  } finally {
    db.close();
  }
}

/** A new user, added to `teamId` with `role`, working in it (the `Team` switcher's cookie). */
async function joinAs(browser: Browser, baseURL: string, teamId: string, role: "member" | "viewer"): Promise<{ page: Page; email: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = await signUp(page);
  const db = openE2eDatabase();
  try {
    const userId = String((await db.execute({ sql: "SELECT id FROM users WHERE email = ?", args: [email] })).rows[0]!.id);
    await db.execute({ sql: "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", args: [teamId, userId, role, Date.now()] });
  } finally {
    db.close();
  }
  await context.addCookies([{ name: "keyscope-team", value: teamId, url: baseURL }]);
  return { page, email };
}

test("a Viewer sees the team's pages read-only; a Member changes only the keys they created", async ({ browser, page, baseURL }) => {
  test.setTimeout(90_000);
  const ownerEmail = await signUp(page);
  const teamId = await teamIdOf(ownerEmail);
  await createEndpoint(page, "shared-endpoint");
  await createKey(page, "owners-key");
  await expect(keyRow(page, "owners-key")).toContainText(`Created by ${ownerEmail}`);

  const viewer = await joinAs(browser, baseURL!, teamId, "viewer");
  const v = viewer.page;
  await v.goto("/settings/api-keys");
  await expect(keyRow(v, "owners-key")).toContainText(`Created by ${ownerEmail}`);
  await expect(v.getByRole("note").filter({ hasText: "Your role" })).toHaveText("Your role (Viewer) cannot create keys.");
  await expect(v.getByRole("button", { name: "Create API key" })).toHaveCount(0);
  await expect(v.getByRole("switch", { name: "Enable owners-key" })).toBeDisabled();
  await expect(v.getByRole("switch", { name: "Enable owners-key" })).toBeChecked();
  await expect(keyRow(v, "owners-key").getByRole("button")).toHaveCount(0);
  await expect(keyRow(v, "owners-key")).toContainText("View only");

  await keyRow(v, "owners-key").getByRole("link", { name: "owners-key" }).click();
  await expect(v.getByRole("heading", { name: "owners-key", level: 1 })).toBeVisible();
  await expect(v.getByRole("note").filter({ hasText: "Your role" })).toHaveText("Your role (Viewer) cannot change keys.");
  for (const name of ["Change expiration", "Roll key", "Elevate access", "Restrictions", "Edit scopes"]) {
    await expect(v.getByRole("button", { name })).toHaveCount(0);
  }
  await expect(v.getByRole("switch", { name: "Enable owners-key" })).toBeDisabled();
  await expect(v.getByRole("definition").filter({ hasText: ownerEmail })).toBeVisible();
  // Seeing is allowed: Check access changes nothing.
  await expect(v.getByRole("button", { name: "Check", exact: true })).toBeVisible();

  await v.goto("/settings/endpoints");
  await expect(v.getByRole("listitem", { name: "shared-endpoint" })).toBeVisible();
  await expect(v.getByRole("note").filter({ hasText: "Your role" })).toHaveText("Your role (Viewer) cannot change endpoints.");
  await expect(v.getByRole("button", { name: "Create endpoint" })).toHaveCount(0);
  await expect(v.getByRole("listitem", { name: "shared-endpoint" }).getByRole("button", { name: /Rename|Delete/ })).toHaveCount(0);

  await v.goto("/settings/webhooks");
  await expect(v.getByRole("note").filter({ hasText: "Your role" })).toHaveText("Your role (Viewer) cannot change webhooks.");
  await expect(v.getByRole("button", { name: "Add webhook" })).toHaveCount(0);

  // The audit log names who acted.
  await v.goto("/settings/audit-log");
  await expect(v.getByRole("list", { name: "Audit log entries" }).getByRole("listitem").first()).toContainText(`by ${ownerEmail} via dashboard`);

  const member = await joinAs(browser, baseURL!, teamId, "member");
  const m = member.page;
  await createKey(m, "members-key");
  await expect(keyRow(m, "members-key")).toContainText(`Created by ${member.email}`);
  await expect(keyRow(m, "members-key").getByRole("button", { name: "Edit scopes" })).toBeVisible();
  await expect(keyRow(m, "members-key").getByRole("button", { name: "Delete" })).toBeVisible();
  await expect(m.getByRole("switch", { name: "Enable members-key" })).toBeEnabled();
  await expect(keyRow(m, "owners-key").getByRole("button")).toHaveCount(0);
  await expect(m.getByRole("switch", { name: "Enable owners-key" })).toBeDisabled();

  await keyRow(m, "owners-key").getByRole("link", { name: "owners-key" }).click();
  await expect(m.getByRole("note").filter({ hasText: "Your role" })).toHaveText("Your role (Member) can only change keys you created.");
  await expect(m.getByRole("button", { name: "Roll key" })).toHaveCount(0);
  await m.goto("/settings/api-keys");
  await keyRow(m, "members-key").getByRole("link", { name: "members-key" }).click();
  await expect(m.getByRole("button", { name: "Roll key" })).toBeVisible();
  await expect(m.getByRole("note").filter({ hasText: "Your role" })).toHaveCount(0);

  // The Member's own change is named in the audit log, which the Viewer reads.
  await m.getByRole("switch", { name: "Enable members-key" }).click();
  await expect(m.getByRole("switch", { name: "Enable members-key" })).not.toBeChecked();
  await v.goto("/settings/audit-log");
  await expect(v.getByRole("list", { name: "Audit log entries" }).getByRole("listitem").first()).toContainText(`by ${member.email} via dashboard`);

  // And the owner, who manages every key, sees the Member's key with its controls.
  await page.goto("/settings/api-keys");
  await expect(keyRow(page, "members-key")).toContainText(`Created by ${member.email}`);
  await expect(keyRow(page, "members-key").getByRole("button", { name: "Delete" })).toBeVisible();
  await expect(page.getByRole("note").filter({ hasText: "Your role" })).toHaveCount(0);
});
