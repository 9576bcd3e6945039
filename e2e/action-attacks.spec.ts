import type { APIRequestContext, Page } from "@playwright/test";
import { captureAction, createEndpoint, createKey, openE2eDatabase, expect, keyRow, scopeRow, signUp, test, type CapturedAction } from "./fixtures";

// Server actions are public POST endpoints. Capture each real action call the dashboard makes,
// then replay it the way an attacker would, and prove the victim's rows are byte-for-byte
// unchanged.

type Captured = CapturedAction & { name: string };

async function capture(page: Page, name: string, act: () => Promise<void>): Promise<Captured> {
  return { name, ...(await captureAction(page, act)) };
}

async function snapshot(accountId: string): Promise<string> {
  const db = openE2eDatabase();
  try {
    const tables = ["api_keys", "api_key_endpoint_scopes", "endpoints", "pods", "jobs"];
    const rows = await Promise.all(tables.map((t) => db.execute({ sql: `SELECT * FROM ${t} WHERE account_id = ? ORDER BY rowid`, args: [accountId] })));
    return JSON.stringify(rows.map((r) => r.rows));
  } finally {
    db.close();
  }
}

async function accountIdOf(email: string): Promise<string> {
  const db = openE2eDatabase();
  try {
    const result = await db.execute({ sql: "SELECT id FROM accounts WHERE email = ?", args: [email] });
    return String(result.rows[0]!.id);
  } finally {
    db.close();
  }
}

/** SPEC §11: every row of the team, in every table a dashboard action can write. */
async function teamSnapshot(accountId: string): Promise<string> {
  const db = openE2eDatabase();
  try {
    const tables = ["api_keys", "api_key_endpoint_scopes", "api_key_elevations", "endpoints", "audit_log", "webhooks", "memberships"];
    const rows = await Promise.all(tables.map((t) => db.execute({ sql: `SELECT * FROM ${t} WHERE account_id = ? ORDER BY rowid`, args: [accountId] })));
    return JSON.stringify(rows.map((r) => r.rows));
  } finally {
    db.close();
  }
}

async function replay(request: APIRequestContext, action: Captured, options: { body?: string; headers?: Record<string, string> } = {}) {
  const response = await request.post(action.url, {
    headers: { ...action.headers, ...options.headers },
    data: options.body ?? action.body,
    maxRedirects: 0,
  });
  return { status: response.status(), text: await response.text() };
}

test("every dashboard action refuses attackers and leaves the victim's rows unchanged", async ({ browser, playwright, baseURL }) => {
  // 35 attacks, 14 replays by A's Member and Viewer, and four accounts' worth of setup: ~25 s on an
  // idle machine, more on a busy one.
  test.setTimeout(150_000);
  // Victim A: real session, real data, and the action calls the dashboard makes.
  const contextA = await browser.newContext();
  const a = await contextA.newPage();
  const emailA = await signUp(a);
  const endpointA = await createEndpoint(a, "victim-endpoint");
  const keyA = await createKey(a, "victim-key", async () => {
    await scopeRow(a, "All endpoints").getByRole("radio", { name: "Read", exact: true }).click();
  });
  const actions: Captured[] = [];
  actions.push(await capture(a, "setApiKeyEnabled", () => a.getByRole("switch", { name: "Enable victim-key" }).click()));
  await expect(a.getByRole("switch", { name: "Enable victim-key" })).toBeEnabled();
  await a.reload();
  await keyRow(a, "victim-key").getByRole("button", { name: "Edit scopes" }).click();
  await scopeRow(a, "victim-endpoint").getByRole("radio", { name: "Read / Write" }).click();
  actions.push(await capture(a, "updateApiKeyScopes", () => a.getByRole("button", { name: "Save scopes" }).click()));
  await expect(a.getByRole("dialog")).toBeHidden();
  await createKey(a, "throwaway");
  await keyRow(a, "throwaway").getByRole("button", { name: "Delete" }).click();
  actions.push(await capture(a, "deleteApiKey(throwaway)", () => a.getByRole("button", { name: "Delete key" }).click()));
  await expect(keyRow(a, "throwaway")).toHaveCount(0);
  await a.getByRole("button", { name: "Create API key" }).click();
  await a.getByRole("dialog").getByLabel("Name", { exact: true }).fill("captured");
  actions.push(await capture(a, "createApiKey", () => a.getByRole("button", { name: "Create", exact: true }).click()));
  await a.getByRole("button", { name: "Done" }).click();
  await a.goto("/settings/endpoints");
  await a.getByLabel("Name", { exact: true }).fill("captured-endpoint");
  actions.push(await capture(a, "createEndpoint", () => a.getByRole("button", { name: "Create endpoint" }).click()));
  await a.getByRole("listitem", { name: "victim-endpoint" }).getByRole("button", { name: "Rename" }).click();
  await a.getByRole("dialog").getByLabel("Name", { exact: true }).fill("victim-endpoint");
  actions.push(await capture(a, "renameEndpoint", () => a.getByRole("button", { name: "Save" }).click()));
  await expect(a.getByRole("dialog")).toBeHidden();
  await a.getByRole("listitem", { name: "captured-endpoint" }).getByRole("button", { name: "Delete" }).click();
  actions.push(await capture(a, "deleteEndpoint(captured)", () => a.getByRole("button", { name: "Delete endpoint" }).click()));
  await expect(a.getByRole("listitem", { name: "captured-endpoint" })).toHaveCount(0);

  // Make the replayed bodies point at A's live rows: the key and endpoint that still exist.
  const keyIdA = String(
    (await (async () => {
      const db = openE2eDatabase();
      const r = await db.execute({ sql: "SELECT id FROM api_keys WHERE name = 'victim-key' AND account_id = ?", args: [await accountIdOf(emailA)] });
      db.close();
      return r.rows[0]!.id;
    })()),
  );
  const retarget = (body: string) =>
    body.replace(/"keyId":"[^"]+"/g, `"keyId":"${keyIdA}"`).replace(/"endpointId":"[^"]+"/g, `"endpointId":"${endpointA}"`);
  for (const action of actions) action.body = retarget(action.body);
  // The delete actions now aim at A's live key and endpoint: the worst case.

  // Attacker B: a real account of its own.
  const contextB = await browser.newContext();
  const b = await contextB.newPage();
  const emailB = await signUp(b);
  const accountA = await accountIdOf(emailA);
  const accountB = await accountIdOf(emailB);
  const cookiesB = (await contextB.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const cookiesA = (await contextA.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");

  const attackers: { label: string; headers: Record<string, string>; forge?: (body: string) => string }[] = [
    { label: "signed out", headers: {} },
    { label: "account B on A's ids", headers: { cookie: cookiesB } },
    {
      label: "account B with forged account ids and extra fields",
      headers: { cookie: cookiesB },
      forge: (body) => body.replace(/^\[\{/, `[{"accountId":"${accountA}","account":{"id":"${accountA}"},"userId":"${accountA}",`),
    },
    { label: "A's own cookie from a cross-origin page", headers: { cookie: cookiesA, origin: "https://evil.example" } },
    { label: "only a Bearer API key, no session", headers: { authorization: `Bearer ${keyA}` } },
  ];

  const request = await playwright.request.newContext({ baseURL });
  let tried = 0;
  for (const attacker of attackers) {
    for (const action of actions) {
      const beforeA = await snapshot(accountA);
      const beforeB = await snapshot(accountB);
      const body = attacker.forge ? attacker.forge(action.body) : action.body;
      const response = await replay(request, action, { body, headers: attacker.headers });
      // Next refuses a cross-origin action before running it; every other refusal is the action's own answer.
      if (!attacker.headers.origin) expect(response.status, `${attacker.label} → ${action.name}`).toBe(200);
      expect(await snapshot(accountA), `${attacker.label} → ${action.name} changed A's rows`).toBe(beforeA);
      // B may create things in its own account (that is allowed); it must not change anything else of B's.
      if (!action.name.startsWith("create")) expect(await snapshot(accountB), `${attacker.label} → ${action.name} changed B's rows`).toBe(beforeB);
      expect(response.text).not.toContain(keyA);
      tried += 1;
    }
  }
  console.log(`${tried} attacks (${actions.length} actions × ${attackers.length} attackers) refused; A's rows unchanged`);

  // SPEC §11: a Member and a Viewer of A's team replay the same calls. Each signs up (and so has a
  // team of their own), is added to A's team directly in the database (the members page has its own
  // spec), and works in A's team by the `Team` switcher's cookie. A Viewer changes nothing; a Member
  // creates keys but changes no key someone else created, and no endpoint.
  async function joinTeamA(role: "member" | "viewer") {
    const context = await browser.newContext();
    const email = await signUp(await context.newPage());
    const db = openE2eDatabase();
    try {
      const userId = String((await db.execute({ sql: "SELECT id FROM users WHERE email = ?", args: [email] })).rows[0]!.id);
      await db.execute({ sql: "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)", args: [accountA, userId, role, Date.now()] });
      const cookies = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
      return { context, userId, headers: { cookie: `${cookies}; keyscope-team=${accountA}` } };
    } finally {
      db.close();
    }
  }
  const viewer = await joinTeamA("viewer");
  const member = await joinTeamA("member");
  const teamCases = [
    { label: "a Viewer of A's team", who: viewer, allowed: new Set<string>() },
    { label: "a Member of A's team", who: member, allowed: new Set(["createApiKey"]) },
  ];
  let refused = 0;
  for (const { label, who, allowed } of teamCases) {
    for (const action of actions) {
      const beforeTeam = await teamSnapshot(accountA);
      const response = await replay(request, action, { headers: who.headers });
      expect(response.status, `${label} → ${action.name}`).toBe(200);
      expect(response.text).not.toContain(keyA);
      if (allowed.has(action.name)) {
        expect(await teamSnapshot(accountA), `${label} → ${action.name} changed nothing`).not.toBe(beforeTeam);
        continue;
      }
      expect(response.text, `${label} → ${action.name}`).toContain("FORBIDDEN");
      expect(await teamSnapshot(accountA), `${label} → ${action.name} changed A's rows`).toBe(beforeTeam);
      refused += 1;
    }
  }
  console.log(`${refused} replays by a Viewer and a Member of A's team refused; A's rows unchanged`);
  // The key the Member created is theirs (`Created by`), and the same captured toggle, aimed at it, works.
  const db = openE2eDatabase();
  const memberKeys = await db.execute({ sql: "SELECT id, enabled FROM api_keys WHERE account_id = ? AND created_by = ?", args: [accountA, member.userId] });
  db.close();
  expect(memberKeys.rows).toHaveLength(1);
  const memberKeyId = String(memberKeys.rows[0]!.id);
  const toggleOwn = actions.find((x) => x.name === "setApiKeyEnabled")!;
  const beforeOwn = await teamSnapshot(accountA);
  const ownResponse = await replay(request, toggleOwn, { body: toggleOwn.body.replace(/"keyId":"[^"]+"/, `"keyId":"${memberKeyId}"`), headers: member.headers });
  expect(ownResponse.text).not.toContain("FORBIDDEN");
  expect(await teamSnapshot(accountA)).not.toBe(beforeOwn);
  await viewer.context.close();
  await member.context.close();

  // Sanity: the captured calls are real. A, with its own cookie, switching its key back on works.
  const before = await snapshot(accountA);
  const toggle = actions.find((x) => x.name === "setApiKeyEnabled")!;
  expect(toggle.body).toContain('"enabled":false');
  await replay(request, toggle, { body: toggle.body.replace('"enabled":false', '"enabled":true'), headers: { cookie: cookiesA } });
  expect(await snapshot(accountA)).not.toBe(before);

  await request.dispose();
  await contextA.close();
  await contextB.close();
});
