import { countRows, rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDatabaseHandle } from "@/db/handle";
import { createEmptyScopes } from "@/lib/core/scopes/evaluate";
import { createAccount } from "./accounts";
import { createScopedApiKey, deleteApiKey, setApiKeyEnabled, updateApiKeyScopes } from "./api-keys";
import { listAuditLog, type AuditActor } from "./audit-log";
import { createEndpoint } from "./endpoints";
import { elevateApiKey, endElevation, rollApiKey } from "./key-lifecycle";
import type { DalResult } from "./result";
import { createWebhookOutbox } from "./webhook-outbox";
import { addWebhook, deleteWebhook, DELIVERIES_PAGE_SIZE, listDeliveries, listWebhooks, MAX_WEBHOOKS_PER_ACCOUNT } from "./webhooks";

afterAll(removeTestDatabase);

const DASHBOARD: AuditActor = { type: "dashboard" };
const T0 = new Date("2026-03-01T12:00:00.000Z");

function unwrap<T>(result: DalResult<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value;
}

async function newAccount(label: string): Promise<string> {
  return unwrap(await createAccount(uniqueEmail(label), `password-${label}-123`)).id;
}

async function newKey(accountId: string, name = "ci") {
  return unwrap(await createScopedApiKey(accountId, { name, scopes: createEmptyScopes() }, DASHBOARD)).key;
}

/** Everything stored for an account about webhooks, to compare before and after a refused call. */
async function webhookState(accountId: string) {
  const of = (table: string) => rawRows(`SELECT * FROM ${table} WHERE account_id = ? ORDER BY rowid`, [accountId]);
  return { webhooks: await of("webhooks"), deliveries: await of("webhook_deliveries"), audit: await of("audit_log") };
}

const deliveriesOf = (accountId: string) => rawRows("SELECT * FROM webhook_deliveries WHERE account_id = ? ORDER BY rowid", [accountId]);

/** Claims are across accounts (the worker serves them all): other accounts' deliveries are put far in the future. */
async function onlyDue(accountId: string) {
  await rawRows("UPDATE webhook_deliveries SET next_attempt_at = 9000000000000000 WHERE account_id <> ? AND status = 'pending'", [accountId]);
}

let accountA = "";
let accountB = "";

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
});

describe("addWebhook", () => {
  it("stores the URL as normalised, shows the whsec_ secret once, and audits it by origin only", async () => {
    const account = await newAccount("add");
    const result = unwrap(await addWebhook(account, " HTTPS://Hooks.Example.com:8443/services/T000/B000/sl4ck-t0ken?x=1 ", DASHBOARD, { now: T0 }));
    expect(result.secret).toMatch(/^whsec_[0-9A-Za-z]{32}$/);
    expect(result.webhook).toEqual({ id: expect.stringMatching(/^whk_[0-9a-z]{16}$/), url: "https://hooks.example.com:8443/services/T000/B000/sl4ck-t0ken?x=1", createdAt: T0 });
    expect(await rawRows("SELECT id, account_id, url, secret, created_at FROM webhooks WHERE account_id = ?", [account])).toEqual([
      { id: result.webhook.id, account_id: account, url: result.webhook.url, secret: result.secret, created_at: T0.getTime() },
    ]);
    const [entry] = (await listAuditLog(account, { page: 1 })).entries;
    expect(entry).toMatchObject({
      action: "webhook.added",
      details: {},
      createdAt: T0,
      target: { type: "webhook", id: result.webhook.id, name: "https://hooks.example.com:8443" },
      actor: { type: "dashboard" },
    });
    // Neither the path's token nor the secret reaches the log.
    const raw = JSON.stringify(await rawRows("SELECT * FROM audit_log WHERE account_id = ?", [account]));
    expect(raw).not.toContain("sl4ck-t0ken");
    expect(raw).not.toContain(result.secret);
  });

  it("gives every webhook its own secret", async () => {
    const account = await newAccount("secrets");
    const secrets = new Set<string>();
    for (let i = 0; i < 5; i++) secrets.add(unwrap(await addWebhook(account, `https://hooks.example.com/${i}`, DASHBOARD)).secret);
    expect(secrets.size).toBe(5);
  });

  it.each<[string, string]>([
    ["", "URL is required."],
    ["not a url", "Enter an absolute URL, starting with https:// or http://."],
    ["ftp://hooks.example.com/", "The URL must start with https:// or http://."],
    ["https://u:p@hooks.example.com/", "The URL must not contain a user name or password: deliveries are signed instead."],
    [`https://hooks.example.com/${"x".repeat(2_048)}`, "URL must be at most 2,048 characters."],
    ["http://127.0.0.1:9000/", "Webhooks cannot be sent to loopback addresses."],
    ["http://[fd00::5]/", "Webhooks cannot be sent to private addresses."],
    ["http://169.254.169.254/", "Webhooks cannot be sent to link-local addresses."],
  ])("refuses %j with a clear message and writes nothing", async (url, message) => {
    const before = await webhookState(accountA);
    expect(await addWebhook(accountA, url, DASHBOARD)).toEqual({ ok: false, code: "BAD_REQUEST", message });
    expect(await webhookState(accountA)).toEqual(before);
  });

  it("allows a literal private target when the operator does", async () => {
    const account = await newAccount("private");
    expect(unwrap(await addWebhook(account, "http://127.0.0.1:9000/hook", DASHBOARD, { allowPrivate: true })).webhook.url).toBe("http://127.0.0.1:9000/hook");
  });

  it("refuses a URL the account already has (CONFLICT), but another account may register it", async () => {
    const account = await newAccount("dupe");
    unwrap(await addWebhook(account, "https://dupe.example.com/hook", DASHBOARD));
    const before = await webhookState(account);
    expect(await addWebhook(account, "https://DUPE.example.com/hook", DASHBOARD)).toEqual({ ok: false, code: "CONFLICT", message: "This URL is already registered." });
    expect(await webhookState(account)).toEqual(before);
    expect((await addWebhook(accountB, "https://dupe.example.com/hook", DASHBOARD)).ok).toBe(true);
  });

  it(`allows at most ${MAX_WEBHOOKS_PER_ACCOUNT} per account, counted inside the insert (concurrent adds cannot both take the last place)`, async () => {
    const account = await newAccount("cap");
    for (let i = 0; i < MAX_WEBHOOKS_PER_ACCOUNT - 1; i++) unwrap(await addWebhook(account, `https://cap.example.com/${i}`, DASHBOARD));
    const results = await Promise.all([0, 1, 2].map((i) => addWebhook(account, `https://cap.example.com/last-${i}`, DASHBOARD)));
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results.filter((result) => !result.ok)).toEqual([
      { ok: false, code: "BAD_REQUEST", message: "An account can have at most 20 webhooks." },
      { ok: false, code: "BAD_REQUEST", message: "An account can have at most 20 webhooks." },
    ]);
    expect(await countRows("webhooks", "account_id = ?", [account])).toBe(MAX_WEBHOOKS_PER_ACCOUNT);
    expect(await countRows("audit_log", "account_id = ? AND action = 'webhook.added'", [account])).toBe(MAX_WEBHOOKS_PER_ACCOUNT);
    // Another account is not affected by this one's count.
    expect((await addWebhook(await newAccount("cap-other"), "https://cap.example.com/0", DASHBOARD)).ok).toBe(true);
  });

  it("refuses an account that does not exist", async () => {
    expect(await addWebhook("acc_missing", "https://hooks.example.com/", DASHBOARD)).toEqual({ ok: false, code: "NOT_FOUND", message: "Account not found." });
    expect(await countRows("webhooks", "account_id = 'acc_missing'")).toBe(0);
  });
});

describe("listWebhooks", () => {
  it("lists the account's own webhooks, newest first, never with a secret", async () => {
    const account = await newAccount("list");
    const first = unwrap(await addWebhook(account, "https://one.example.com/", DASHBOARD, { now: new Date(T0.getTime() + 1) }));
    const second = unwrap(await addWebhook(account, "https://two.example.com/", DASHBOARD, { now: new Date(T0.getTime() + 2) }));
    await addWebhook(accountB, "https://other.example.com/", DASHBOARD);
    const listed = await listWebhooks(account);
    expect(listed).toEqual([second.webhook, first.webhook]);
    for (const webhook of listed) expect(Object.keys(webhook).sort()).toEqual(["createdAt", "id", "url"]);
    const text = JSON.stringify(listed);
    for (const secret of [first.secret, second.secret]) expect(text).not.toContain(secret);
    expect(text).not.toContain("whsec_");
  });
});

describe("the outbox trigger (migration 0007)", () => {
  it("makes one delivery per webhook of the account for each key event, in the change's transaction, with a payload of names and ids only", async () => {
    const account = await newAccount("trigger");
    const hooks = [
      unwrap(await addWebhook(account, "https://a.example.com/", DASHBOARD)).webhook,
      unwrap(await addWebhook(account, "https://b.example.com/", DASHBOARD)).webhook,
    ];
    // Another account's webhook hears nothing of this account.
    unwrap(await addWebhook(accountB, "https://b-only.example.com/", DASHBOARD));
    const bBefore = await deliveriesOf(accountB);
    const created = unwrap(await createScopedApiKey(account, { name: "deploy", scopes: createEmptyScopes() }, DASHBOARD));
    const rows = await deliveriesOf(account);
    const byHook = (x: unknown[], y: unknown[]) => String(x[0]).localeCompare(String(y[0]));
    expect(rows.map((row) => [row.webhook_id, row.event, row.status, row.attempts]).sort(byHook)).toEqual(hooks.map((hook) => [hook.id, "key.created", "pending", 0]).sort(byHook));
    const [entry] = await rawRows("SELECT id, created_at FROM audit_log WHERE account_id = ? AND action = 'api_key.created'", [account]);
    for (const row of rows) {
      expect(row.id).toMatch(/^dlv_[0-9a-f]{32}$/);
      expect(row.audit_id).toBe(entry!.id);
      expect(JSON.parse(String(row.payload))).toEqual({
        id: `evt_${entry!.id}`,
        type: "key.created",
        createdAt: new Date(Number(entry!.created_at)).toISOString(),
        key: { id: created.key.id, name: "deploy" },
        details: { kind: "scoped", scopes: { graphql: "none", endpointsAll: "none", endpoints: [] }, expiresAt: null },
        actor: { type: "dashboard" },
      });
      expect(String(row.payload)).not.toContain(created.plaintext);
      expect(String(row.payload)).not.toContain(created.key.hint);
    }
    expect(new Set(rows.map((row) => row.id)).size).toBe(2);
    expect(await deliveriesOf(accountB)).toEqual(bBefore);
  });

  it("names each SPEC §9 event, and only those", async () => {
    const account = await newAccount("events");
    unwrap(await addWebhook(account, "https://events.example.com/", DASHBOARD));
    const endpoint = unwrap(await createEndpoint(account, "alpha", DASHBOARD));
    const key = await newKey(account, "evented");
    unwrap(await setApiKeyEnabled(account, key.id, false, DASHBOARD));
    unwrap(await setApiKeyEnabled(account, key.id, true, DASHBOARD));
    // Not an event: scope changes.
    unwrap(await updateApiKeyScopes(account, key.id, { graphql: "read", endpointsAll: "none", endpoints: { [endpoint.id]: "read" } }, DASHBOARD));
    unwrap(await rollApiKey(account, key.id, "1h", DASHBOARD));
    const elevated = unwrap(await elevateApiKey(account, key.id, { target: { resource: "graphql" }, level: "read_write", duration: "1h", reason: "incident" }, DASHBOARD));
    unwrap(await endElevation(account, key.id, elevated.elevations[0]!.id, DASHBOARD));
    unwrap(await deleteApiKey(account, key.id, DASHBOARD));
    // The events other code writes (the expiry sweep, leak reports), straight into the log.
    const db = (await getDatabaseHandle()).db;
    for (const action of ["api_key.expiring", "api_key.expired", "api_key.leaked", "api_key.previous_expired", "webhook.deleted"]) {
      await db.$client.execute({
        sql: "INSERT INTO audit_log (account_id, created_at, action, target_type, target_id, target_name, details) VALUES (?, 0, ?, 'api_key', ?, 'evented', '{}')",
        args: [account, action, key.id],
      });
    }
    expect((await deliveriesOf(account)).map((row) => row.event)).toEqual([
      "key.created",
      "key.disabled",
      "key.enabled",
      "key.rolled",
      "key.elevation_started",
      "key.elevation_ended",
      "key.deleted",
      "key.expiring",
      "key.expired",
      "key.leaked",
    ]);
  });

  it("makes nothing for an account without webhooks", async () => {
    const account = await newAccount("silent");
    await newKey(account);
    expect(await countRows("webhook_deliveries", "account_id = ?", [account])).toBe(0);
  });
});

describe("deleteWebhook", () => {
  it("removes the webhook and its deliveries, auditing how many were still pending", async () => {
    const account = await newAccount("delete");
    const { webhook } = unwrap(await addWebhook(account, "https://gone.example.com/path?token=abc", DASHBOARD));
    const kept = unwrap(await addWebhook(account, "https://kept.example.com/", DASHBOARD)).webhook;
    await newKey(account, "one");
    await newKey(account, "two");
    // One of the two deliveries to `gone` is done: only the other is dropped undelivered.
    await rawRows("UPDATE webhook_deliveries SET status = 'succeeded' WHERE rowid = (SELECT min(rowid) FROM webhook_deliveries WHERE webhook_id = ?)", [webhook.id]);
    const now = new Date(T0.getTime() + 5_000);
    expect(await deleteWebhook(account, webhook.id, DASHBOARD, now)).toEqual({ ok: true, value: { id: webhook.id } });
    expect(await listWebhooks(account)).toEqual([kept]);
    expect((await deliveriesOf(account)).map((row) => row.webhook_id)).toEqual([kept.id, kept.id]);
    const [entry] = (await listAuditLog(account, { page: 1 })).entries.filter((e) => e.action === "webhook.deleted");
    expect(entry).toMatchObject({ details: { pendingDropped: 1 }, createdAt: now, target: { type: "webhook", id: webhook.id, name: "https://gone.example.com" } });
    expect(JSON.stringify(await rawRows("SELECT * FROM audit_log WHERE account_id = ?", [account]))).not.toContain("token=abc");
    // Gone: a second delete finds nothing and records nothing.
    expect(await deleteWebhook(account, webhook.id, DASHBOARD)).toEqual({ ok: false, code: "NOT_FOUND", message: "Webhook not found." });
    expect(await countRows("audit_log", "account_id = ? AND action = 'webhook.deleted'", [account])).toBe(1);
  });

  it("cross-account: another account's webhook id is NOT_FOUND, and both accounts' rows stay byte-for-byte", async () => {
    const { webhook } = unwrap(await addWebhook(accountA, "https://victim.example.com/", DASHBOARD));
    await newKey(accountA, "victim-key");
    const before = [await webhookState(accountA), await webhookState(accountB)];
    expect(await deleteWebhook(accountB, webhook.id, DASHBOARD)).toEqual({ ok: false, code: "NOT_FOUND", message: "Webhook not found." });
    expect(await deleteWebhook(accountB, "whk_missing", DASHBOARD)).toEqual({ ok: false, code: "NOT_FOUND", message: "Webhook not found." });
    expect([await webhookState(accountA), await webhookState(accountB)]).toEqual(before);
  });
});

describe("listDeliveries", () => {
  let account = "";
  let hookOne = "";
  let hookTwo = "";

  beforeAll(async () => {
    account = await newAccount("deliveries");
    hookOne = unwrap(await addWebhook(account, "https://one.example.com/hook", DASHBOARD)).webhook.id;
    hookTwo = unwrap(await addWebhook(account, "https://two.example.com/hook", DASHBOARD)).webhook.id;
    for (let i = 0; i < DELIVERIES_PAGE_SIZE; i++) await newKey(account, `k${i}`);
  });

  it("lists the account's deliveries newest first, a page at a time, with what the table shows", async () => {
    const total = 2 * DELIVERIES_PAGE_SIZE;
    const first = await listDeliveries(account, { page: 1 });
    expect(first).toMatchObject({ page: 1, pageSize: DELIVERIES_PAGE_SIZE, total, hasNext: true });
    expect(first.deliveries).toHaveLength(DELIVERIES_PAGE_SIZE);
    const second = await listDeliveries(account, { page: 2 });
    expect(second).toMatchObject({ page: 2, total, hasNext: false });
    const all = [...first.deliveries, ...second.deliveries];
    expect(new Set(all.map((d) => d.id)).size).toBe(total);
    const times = all.map((d) => d.createdAt.getTime());
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(all[0]).toEqual({
      id: expect.stringMatching(/^dlv_/),
      webhookId: expect.any(String),
      webhookUrl: expect.stringMatching(/^https:\/\/(one|two)\.example\.com\/hook$/),
      event: "key.created",
      status: "pending",
      attempts: 0,
      lastStatus: null,
      lastError: null,
      createdAt: expect.any(Date),
      completedAt: null,
      nextAttemptAt: expect.any(Date),
    });
    expect(JSON.stringify(all)).not.toMatch(/whsec_|secret|payload/);
    // Past the last page: empty, not an error; junk pages read as the first.
    expect(await listDeliveries(account, { page: 99 })).toMatchObject({ deliveries: [], total, hasNext: false });
    expect((await listDeliveries(account, { page: Number.NaN })).page).toBe(1);
  });

  it("filters by webhook, within the account only", async () => {
    const one = await listDeliveries(account, { webhookId: hookOne, page: 1, pageSize: 200 });
    expect(one.total).toBe(DELIVERIES_PAGE_SIZE);
    expect(new Set(one.deliveries.map((d) => d.webhookId))).toEqual(new Set([hookOne]));
    expect((await listDeliveries(accountB, { webhookId: hookTwo, page: 1 })).total).toBe(0);
    expect(await listDeliveries(accountB, { page: 1 })).toMatchObject({ total: (await deliveriesOf(accountB)).length });
    for (const delivery of (await listDeliveries(accountB, { page: 1, pageSize: 200 })).deliveries) expect([hookOne, hookTwo]).not.toContain(delivery.webhookId);
  });

  it("shows a settled delivery's outcome: status, attempts, response code, error, completion; no next try once it is over", async () => {
    await onlyDue(account);
    const outbox = createWebhookOutbox((await getDatabaseHandle()).sql);
    const now = Date.now() + 1_000;
    // One per webhook: one to each.
    const [ok, failed, retried] = await outbox.claimDue(now, 4, 30_000);
    expect([ok?.accountId, failed?.accountId, retried]).toEqual([account, account, undefined]);
    await outbox.settle(ok!, { outcome: "succeeded", status: 204 }, now + 5);
    await outbox.settle(failed!, { outcome: "failed", status: 500, error: "HTTP 500.", retryAt: null }, now + 6);
    const [again] = (await outbox.claimDue(now + 7, 1, 30_000)).filter((d) => d.webhookId === ok!.webhookId);
    await outbox.settle(again!, { outcome: "failed", status: null, error: "Timed out after 10 s.", retryAt: now + 10_000 }, now + 8);
    const listed = (await listDeliveries(account, { page: 1, pageSize: 200 })).deliveries;
    expect(listed.find((d) => d.id === ok!.id)).toMatchObject({ status: "succeeded", attempts: 1, lastStatus: 204, lastError: null, completedAt: new Date(now + 5), nextAttemptAt: null });
    expect(listed.find((d) => d.id === failed!.id)).toMatchObject({ status: "failed", attempts: 1, lastStatus: 500, lastError: "HTTP 500.", completedAt: new Date(now + 6), nextAttemptAt: null });
    expect(listed.find((d) => d.id === again!.id)).toMatchObject({
      status: "pending",
      attempts: 1,
      lastStatus: null,
      lastError: "Timed out after 10 s.",
      completedAt: null,
      nextAttemptAt: new Date(now + 10_000),
    });
  });
});

describe("the outbox's claims", () => {
  it("claim at most one delivery per webhook at a time, never one already claimed, and settle only under the claim taken", async () => {
    const account = await newAccount("claims");
    const hook = unwrap(await addWebhook(account, "https://claims.example.com/", DASHBOARD)).webhook;
    for (let i = 0; i < 3; i++) await newKey(account, `c${i}`);
    const outbox = createWebhookOutbox((await getDatabaseHandle()).sql);
    await onlyDue(account);
    const now = Date.now() + 1_000;
    const first = await outbox.claimDue(now, 10, 30_000);
    expect(first.map((d) => [d.webhookId, d.event, d.attempts, d.url, d.claimedUntil])).toEqual([[hook.id, "key.created", 1, hook.url, now + 30_000]]);
    expect(first[0]!.secret).toMatch(/^whsec_/);
    // The webhook has one in flight: nothing more until it settles, or its claim lapses.
    expect(await outbox.hasDue(now)).toBe(false);
    expect(await outbox.claimDue(now, 10, 30_000)).toEqual([]);
    const lapsed = await outbox.claimDue(now + 30_000, 10, 30_000);
    expect(lapsed.map((d) => [d.id, d.attempts])).toEqual([[first[0]!.id, 2]]);
    // The first claim is no longer the worker's: its late answer is not recorded.
    expect(await outbox.settle(first[0]!, { outcome: "succeeded", status: 200 }, now + 1)).toBe(0);
    expect(await outbox.settle(lapsed[0]!, { outcome: "failed", status: 503, error: "HTTP 503.", retryAt: now + 40_000 }, now + 30_001)).toBe(1);
    const [row] = await rawRows("SELECT status, attempts, last_status, last_error, claimed_until, next_attempt_at FROM webhook_deliveries WHERE id = ?", [first[0]!.id]);
    expect(row).toEqual({ status: "pending", attempts: 2, last_status: 503, last_error: "HTTP 503.", claimed_until: null, next_attempt_at: now + 40_000 });
    // Its webhook is free again: the next-earliest due delivery goes first (the retried one waits).
    const next = await outbox.claimDue(now + 30_002, 10, 30_000);
    expect(next).toHaveLength(1);
    expect(next[0]!.id).not.toBe(first[0]!.id);
  });
});
