import type { APIRequestContext } from "@playwright/test";
import { confirmInDialog, expect, invite, joinBySigningUp, keyRow, scopeRow, signUp, test, uniqueEmail } from "./fixtures";

// Issue 12's flow end to end, through the real invitation links: the owner invites a member and a
// viewer; under `GraphQL Read / Write needs approval` the member's new key asking for GraphQL
// Read / Write is refused GraphQL mutations until the owner approves, then allowed; the viewer sees
// but cannot change; removing the member disables their key.

const MUTATION = 'mutation { saveEndpoint(input: { name: "made-by-member" }) { id name } }';

async function graphql(request: APIRequestContext, key: string, query: string) {
  const response = await request.post("/graphql", { headers: { Authorization: `Bearer ${key}` }, data: { query } });
  return { status: response.status(), body: (await response.json()) as unknown };
}

test("a team: invitations, approval of a member's GraphQL Read / Write, a viewer who cannot change, removal disables keys", async ({ page, browser }) => {
  test.setTimeout(150_000);
  await signUp(page);

  // The owner turns on the approval policy.
  await page.goto("/settings/policies");
  await page.getByLabel("GraphQL Read / Write needs approval").check();
  await page.getByRole("button", { name: "Save policies" }).click();
  await expect(page.getByRole("status")).toHaveText("Policies saved.");

  // A member and a viewer join through their links.
  const memberEmail = uniqueEmail("member");
  const viewerEmail = uniqueEmail("viewer");
  const member = await joinBySigningUp(browser, await invite(page, memberEmail, "Member"), memberEmail);
  const viewer = await joinBySigningUp(browser, await invite(page, viewerEmail, "Viewer"), viewerEmail);

  // The member creates a key asking for GraphQL Read / Write.
  await member.getByRole("button", { name: "Create API key" }).click();
  await member.getByRole("dialog").getByLabel("Name", { exact: true }).fill("member-bot");
  await scopeRow(member, "GraphQL").getByRole("radio", { name: "Read / Write" }).click();
  await member.getByRole("button", { name: "Grant read / write" }).click();
  await member.getByRole("button", { name: "Create", exact: true }).click();
  const field = member.getByLabel("New API key");
  await expect(field).toHaveValue(/^rpa_[0-9A-Za-z]{36}$/);
  const key = await field.inputValue();
  await expect(member.getByRole("dialog").getByRole("status")).toContainText("GraphQL Read / Write: waiting for approval");
  await member.getByRole("button", { name: "Done" }).click();

  // Until approved, GraphQL mutations are refused.
  expect(await graphql(member.request, key, MUTATION)).toMatchObject({ status: 403, body: { error: { code: "INSUFFICIENT_SCOPE" } } });

  // The viewer sees the key but cannot change anything.
  await viewer.goto("/settings/api-keys");
  await expect(keyRow(viewer, "member-bot")).toBeVisible();
  await expect(viewer.getByRole("button", { name: "Create API key" })).toHaveCount(0);
  await expect(keyRow(viewer, "member-bot").getByRole("switch")).toBeDisabled();
  await expect(keyRow(viewer, "member-bot").getByRole("button")).toHaveCount(0);
  await viewer.goto("/settings/approvals");
  await expect(viewer.getByRole("button", { name: "Approve" })).toHaveCount(0);

  // The owner approves; the same mutation goes through.
  await page.goto("/settings/approvals");
  const request = page.getByRole("listitem", { name: "member-bot" });
  await expect(request).toContainText(`Asked by ${memberEmail}`);
  await request.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByText("Nothing is waiting for approval.")).toBeVisible();
  expect(await graphql(member.request, key, MUTATION)).toMatchObject({ status: 200, body: { data: { saveEndpoint: { name: "made-by-member" } } } });

  // Removing the member disables their key: the API refuses it, the list shows it off.
  await page.goto("/settings/members");
  await page.getByRole("table", { name: "Members" }).getByRole("button", { name: `Remove ${memberEmail}` }).click();
  await confirmInDialog(page, "Remove member");
  await expect(page.getByRole("table", { name: "Members" }).getByRole("row", { name: memberEmail, exact: true })).toHaveCount(0);
  expect(await graphql(page.request, key, "{ myself { id } }")).toMatchObject({ status: 401, body: { error: { code: "KEY_DISABLED" } } });
  await page.goto("/settings/api-keys");
  await expect(keyRow(page, "member-bot").getByRole("switch")).not.toBeChecked();

  await member.context().close();
  await viewer.context().close();
});
