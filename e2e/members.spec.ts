import type { Page } from "@playwright/test";
import { captureAction, confirmInDialog, createKey, expect, invite, joinBySigningUp, keyRow, openE2eDatabase, PASSWORD, signUp, test, uniqueEmail } from "./fixtures";

// SPEC §11 members: invitation links (shown once, single use, 7 days), joining by signing up or in
// with the invited email, roles, removal (the member's keys disabled, audited), the `Team` switcher,
// and the links that must not work.

const LAST_OWNER = "A team needs at least one owner: make another member an owner first.";

function memberRow(page: Page, email: string) {
  return page.getByRole("table", { name: "Members" }).getByRole("row", { name: email, exact: true });
}

/** The sentence of each entry on the audit log page, top to bottom. */
function sentences(page: Page) {
  return page.getByRole("list", { name: "Audit log entries" }).getByRole("listitem").locator("p");
}

async function invitationCount(email: string): Promise<number> {
  const db = openE2eDatabase();
  try {
    const result = await db.execute({ sql: "SELECT count(*) AS n FROM invitations WHERE email = ?", args: [email] });
    return Number(result.rows[0]!.n);
  } finally {
    db.close();
  }
}

test.describe("members", () => {
  test("an owner invites a member and a viewer, changes a role, and removing the member disables their keys", async ({ page, browser }) => {
    test.setTimeout(120_000);
    const owner = await signUp(page);
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "Members" }).click();
    await expect(page).toHaveURL(/\/settings\/members$/);
    await expect(memberRow(page, owner)).toBeVisible();
    // A single user's header has no `Team`.
    await expect(page.getByLabel("Team")).toHaveCount(0);

    const memberEmail = uniqueEmail("member");
    const viewerEmail = uniqueEmail("viewer");
    const memberLink = await invite(page, memberEmail, "Member");
    const viewerLink = await invite(page, viewerEmail, "Viewer");
    const pending = page.getByRole("list", { name: "Pending invitations" });
    await expect(pending.getByRole("listitem")).toHaveText([new RegExp(`^${viewerEmail}\\s*Viewer`), new RegExp(`^${memberEmail}\\s*Member`)]);

    // Both join by signing up through their links, and land in the owner's team.
    const member = await joinBySigningUp(browser, memberLink, memberEmail);
    const viewer = await joinBySigningUp(browser, viewerLink, viewerEmail);
    for (const joined of [member, viewer]) {
      await expect(joined.getByLabel("Team").locator("option:checked")).toHaveText(`${owner} (current)`);
      await joined.goto("/settings/members");
      for (const [email, role] of [
        [owner, "Owner"],
        [memberEmail, "Member"],
        [viewerEmail, "Viewer"],
      ]) {
        await expect(memberRow(joined, email!)).toContainText(role!);
      }
    }
    await page.reload();
    await expect(page.getByRole("list", { name: "Pending invitations" })).toHaveCount(0);

    // The member makes a key in the team.
    await createKey(member, "m-key");
    await createKey(page, "o-key");

    // The viewer sees the members but has no control over them...
    await expect(viewer.getByText("Your role (Viewer) cannot manage members.")).toBeVisible();
    await expect(viewer.getByRole("button", { name: "Invite member" })).toHaveCount(0);
    await expect(viewer.getByRole("combobox", { name: /^Role of / })).toHaveCount(0);
    await expect(viewer.getByRole("button", { name: /^Remove / })).toHaveCount(0);
    // ...and the owner's own invite call, replayed with the viewer's session, is refused and changes nothing.
    const probeEmail = uniqueEmail("probe");
    await page.goto("/settings/members");
    const captured = await captureAction(page, async () => {
      await page.getByRole("button", { name: "Invite member" }).click();
      await page.getByRole("dialog").getByLabel("Email").fill(probeEmail);
      await page.getByRole("dialog").getByRole("button", { name: "Invite", exact: true }).click();
    });
    await expect(page.getByRole("dialog").getByLabel("Invitation link", { exact: true })).toBeVisible();
    await page.getByRole("dialog").getByRole("button", { name: "Done" }).click();
    const before = await invitationCount(probeEmail);
    expect(before).toBe(1);
    const replayed = await viewer.request.post(captured.url, { headers: captured.headers, data: captured.body, maxRedirects: 0 });
    expect(await replayed.text()).toContain("Your role (Viewer) cannot manage members.");
    expect(await invitationCount(probeEmail)).toBe(before);

    // The owner changes the viewer's role; the last owner cannot demote themselves.
    await page.goto("/settings/members");
    await page.getByRole("combobox", { name: `Role of ${viewerEmail}` }).selectOption({ label: "Admin" });
    await expect(page.getByRole("combobox", { name: `Role of ${viewerEmail}` })).toBeEnabled();
    await page.reload();
    await expect(page.getByRole("combobox", { name: `Role of ${viewerEmail}` })).toHaveValue("admin");
    await page.getByRole("combobox", { name: `Role of ${owner}` }).selectOption({ label: "Member" });
    await expect(memberRow(page, owner).getByRole("alert").filter({ hasText: LAST_OWNER })).toBeVisible();
    await expect(page.getByRole("combobox", { name: `Role of ${owner}` })).toHaveValue("owner");
    // Nor remove themselves.
    await memberRow(page, owner).getByRole("button", { name: `Remove ${owner}` }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Leave team" }).click();
    await expect(page.getByRole("alertdialog").getByRole("alert").filter({ hasText: LAST_OWNER })).toBeVisible();
    await page.getByRole("alertdialog").getByRole("button", { name: "Cancel" }).click();

    // Removing the member disables their key (only theirs), and the audit log says why.
    await memberRow(page, memberEmail).getByRole("button", { name: `Remove ${memberEmail}` }).click();
    await confirmInDialog(page, "Remove member");
    await expect(memberRow(page, memberEmail)).toHaveCount(0);
    await page.goto("/settings/api-keys");
    await expect(keyRow(page, "m-key").getByRole("switch", { name: "Enable m-key" })).not.toBeChecked();
    await expect(keyRow(page, "o-key").getByRole("switch", { name: "Enable o-key" })).toBeChecked();
    await page.goto("/settings/audit-log");
    await expect(sentences(page).nth(0)).toHaveText(`Disabled key \u201cm-key\u201d (member removed: ${memberEmail})`);
    await expect(sentences(page).nth(1)).toHaveText(`Removed member \u201c${memberEmail}\u201d (Member); their key was disabled`);
    await expect(sentences(page).filter({ hasText: "Changed the role of" })).toHaveText([`Changed the role of \u201c${viewerEmail}\u201d from Viewer to Admin`]);
    await expect(sentences(page).filter({ hasText: "joined as" })).toHaveText([`\u201c${viewerEmail}\u201d joined as Viewer`, `\u201c${memberEmail}\u201d joined as Member`]);

    // The removed member is back in their own team only: no `Team`, and none of the team's keys.
    await member.goto("/settings/api-keys");
    await expect(member.getByLabel("Team")).toHaveCount(0);
    await expect(keyRow(member, "m-key")).toHaveCount(0);
    await expect(keyRow(member, "o-key")).toHaveCount(0);

    // A user in two teams switches with `Team`, and back.
    await viewer.goto("/settings/api-keys");
    await expect(keyRow(viewer, "o-key")).toBeVisible();
    await viewer.getByLabel("Team").selectOption({ label: viewerEmail });
    await expect(viewer.getByLabel("Team").locator("option:checked")).toHaveText(`${viewerEmail} (current)`);
    await expect(viewer).toHaveURL(/\/settings\/api-keys$/);
    await expect(viewer.getByText("No API keys yet")).toBeVisible();
    await expect(keyRow(viewer, "o-key")).toHaveCount(0);
    await viewer.goto("/settings/members");
    await expect(viewer.getByRole("combobox", { name: `Role of ${viewerEmail}` })).toHaveValue("owner");
    await expect(viewer.getByRole("button", { name: "Invite member" })).toBeVisible();
    await viewer.getByLabel("Team").selectOption({ label: owner });
    await expect(viewer).toHaveURL(/\/settings\/api-keys$/);
    await expect(viewer.getByLabel("Team").locator("option:checked")).toHaveText(`${owner} (current)`);
    await expect(keyRow(viewer, "o-key")).toBeVisible();
  });

  test("an existing user joins by signing in through the link, or with `Join team` when signed in", async ({ page, browser }) => {
    test.setTimeout(90_000);
    const owner = await signUp(page);
    // Two people with accounts of their own already.
    const signedOut = await (await browser.newContext()).newPage();
    const signedOutEmail = await signUp(signedOut);
    await signedOut.context().clearCookies();
    const signedIn = await (await browser.newContext()).newPage();
    const signedInEmail = await signUp(signedIn);

    const first = await invite(page, signedOutEmail, "Admin");
    await signedOut.goto(first);
    await signedOut.getByRole("link", { name: "Sign in" }).click();
    await expect(signedOut).toHaveURL(/\/signin\?invite=/);
    await expect(signedOut.getByLabel("Email")).toHaveValue(signedOutEmail);
    await signedOut.getByLabel("Password").fill(PASSWORD);
    await signedOut.getByRole("button", { name: "Sign in" }).click();
    await expect(signedOut).toHaveURL(/\/settings\/api-keys$/);
    await expect(signedOut.getByLabel("Team").locator("option:checked")).toHaveText(`${owner} (current)`);

    const second = await invite(page, signedInEmail, "Member");
    await signedIn.goto(second);
    await expect(signedIn.getByText(`You are invited to join the team ${owner} as Member.`)).toBeVisible();
    await signedIn.getByRole("button", { name: "Join team" }).click();
    await expect(signedIn).toHaveURL(/\/settings\/api-keys$/);
    await expect(signedIn.getByLabel("Team").locator("option:checked")).toHaveText(`${owner} (current)`);

    await page.goto("/settings/members");
    await expect(memberRow(page, signedOutEmail)).toBeVisible();
    await expect(page.getByRole("combobox", { name: `Role of ${signedOutEmail}` })).toHaveValue("admin");
    await expect(page.getByRole("combobox", { name: `Role of ${signedInEmail}` })).toHaveValue("member");
  });

  test("expired, used, unknown and someone else's links show an error and change nothing", async ({ page, browser }) => {
    test.setTimeout(90_000);
    const owner = await signUp(page);
    const stranger = await (await browser.newContext()).newPage();

    // Unknown.
    await stranger.goto(`/invite/${"A".repeat(43)}`);
    await expect(stranger.getByRole("heading", { name: "Invitation not valid" })).toBeVisible();
    await stranger.goto("/invite/garbage");
    await expect(stranger.getByRole("heading", { name: "Invitation not valid" })).toBeVisible();

    // Expired: seven days have passed.
    const lateEmail = uniqueEmail("late");
    const late = await invite(page, lateEmail, "Member");
    const db = openE2eDatabase();
    await db.execute({ sql: "UPDATE invitations SET expires_at = ? WHERE email = ?", args: [Date.now() - 1, lateEmail] });
    db.close();
    await stranger.goto(late);
    await expect(stranger.getByRole("heading", { name: "Invitation expired" })).toBeVisible();
    await expect(stranger.getByRole("alert").filter({ hasText: "This invitation link has expired. Ask a team owner for a new one." })).toBeVisible();
    await expect(stranger.getByRole("link", { name: "Create account" })).toHaveCount(0);

    // Someone else's: the owner, signed in, opens a link meant for another email.
    const otherEmail = uniqueEmail("other");
    const other = await invite(page, otherEmail, "Viewer");
    await page.goto(other);
    await expect(page.getByRole("heading", { name: "This invitation is for someone else" })).toBeVisible();
    await expect(page.getByRole("alert").filter({ hasText: `This invitation is for ${otherEmail}, but you are signed in as ${owner}.` })).toBeVisible();
    await expect(page.getByRole("button", { name: "Join team" })).toHaveCount(0);
    // Signing up through it with another email is refused before any account is made.
    await stranger.goto(other);
    await stranger.getByRole("link", { name: "Create account" }).click();
    const wrongEmail = uniqueEmail("wrong");
    await stranger.getByLabel("Email").fill(wrongEmail);
    await stranger.getByLabel("Password").fill(PASSWORD);
    await stranger.getByRole("button", { name: "Create account" }).click();
    await expect(stranger.getByText(`This invitation is for ${otherEmail}. Use that email to join the team.`)).toBeVisible();
    await expect(stranger).toHaveURL(/\/signup\?invite=/);
    const check = openE2eDatabase();
    expect((await check.execute({ sql: "SELECT count(*) AS n FROM users WHERE email = ?", args: [wrongEmail] })).rows[0]!.n).toBe(0);
    check.close();

    // Used: the invited person joins; the same link then works for nobody, them included.
    const joined = await joinBySigningUp(browser, other, otherEmail);
    await joined.goto(other);
    await expect(joined.getByRole("heading", { name: "Invitation already used" })).toBeVisible();
    const fresh = await (await browser.newContext()).newPage();
    await fresh.goto(other);
    await expect(fresh.getByRole("heading", { name: "Invitation already used" })).toBeVisible();
    await expect(fresh.getByRole("alert").filter({ hasText: "This invitation link has already been used. Ask a team owner for a new one." })).toBeVisible();

    await page.goto("/settings/members");
    // The owner and the one who joined; nobody else.
    await expect(page.getByRole("table", { name: "Members" }).getByRole("rowgroup").nth(1).getByRole("row")).toHaveCount(2);
    await expect(memberRow(page, otherEmail)).toContainText("Viewer");
    await expect(memberRow(page, lateEmail)).toHaveCount(0);
  });
});
