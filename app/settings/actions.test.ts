import { rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAccount, type AccountDto } from "@/lib/dal/accounts";
import { createScopedApiKey } from "@/lib/dal/api-keys";
import { createEndpoint } from "@/lib/dal/endpoints";
import * as apiKeyActions from "./api-keys/actions";
import * as keyPageActions from "./api-keys/[keyId]/actions";
import * as endpointActions from "./endpoints/actions";
import * as webhookActions from "./webhooks/actions";
import { addWebhook } from "@/lib/dal/webhooks";

// Every dashboard action, as Next.js runs it, with the session stubbed: each goes through
// accountAction (session, then the input, once) and answers the same ActionResult shapes.
const session = vi.hoisted(() => ({ account: null as AccountDto | null }));
const revalidated = vi.hoisted(() => [] as string[]);
vi.mock("@/lib/auth/session", () => ({ getCurrentAccount: async () => session.account }));
vi.mock("next/cache", () => ({ revalidatePath: (path: string) => void revalidated.push(path) }));
// Elevation reads the client address for the password limiter.
vi.mock("next/headers", () => ({ headers: async () => new Headers() }));

type AnyAction = (input: unknown) => Promise<unknown>;
const actions = { ...apiKeyActions, ...keyPageActions, ...endpointActions, ...webhookActions } as unknown as Record<string, AnyAction>;

let owner: AccountDto;
let other: AccountDto;
let endpointId = "";
let keyId = "";
let webhookId = "";

// Both accounts' password: an attacker who knows its own password still reaches nothing of the owner's.
const PASSWORD = "password-actions-123";
let elevationId: string | undefined;

async function account(label: string): Promise<AccountDto> {
  const created = await createAccount(uniqueEmail(label), PASSWORD);
  if (!created.ok) throw new Error("setup: account");
  return created.value;
}

/** Every row of both accounts, to prove a refused action changed nothing. */
async function snapshot(): Promise<string> {
  const tables = ["api_keys", "api_key_endpoint_scopes", "api_key_elevations", "endpoints", "audit_log", "webhooks", "webhook_deliveries"];
  const rows = await Promise.all(tables.map((table) => rawRows(`SELECT * FROM ${table} ORDER BY rowid`)));
  return JSON.stringify(rows);
}

beforeAll(async () => {
  owner = await account("actions-owner");
  other = await account("actions-other");
  const endpoint = await createEndpoint(owner.id, "alpha", { type: "dashboard" });
  if (!endpoint.ok) throw new Error("setup: endpoint");
  endpointId = endpoint.value.id;
  const key = await createScopedApiKey(owner.id, { name: "ci", scopes: { graphql: "none", endpointsAll: "read", endpoints: {} } }, { type: "dashboard" });
  if (!key.ok) throw new Error("setup: key");
  keyId = key.value.key.id;
  const webhook = await addWebhook(owner.id, "https://owner.example.com/hook", { type: "dashboard" });
  if (!webhook.ok) throw new Error("setup: webhook");
  webhookId = webhook.value.webhook.id;
});

afterAll(async () => {
  await removeTestDatabase();
});

beforeEach(() => {
  session.account = null;
  revalidated.length = 0;
});

/** A valid input per action, aimed at the owner's rows. */
const validInputs: Record<string, () => unknown> = {
  createApiKeyAction: () => ({ name: "new", scopes: { graphql: "none", endpointsAll: "none", endpoints: {} } }),
  setApiKeyEnabledAction: () => ({ keyId, enabled: false }),
  updateApiKeyScopesAction: () => ({ keyId, scopes: { graphql: "read", endpointsAll: "none", endpoints: { [endpointId]: "read_write" } } }),
  setApiKeyExpirationAction: () => ({ keyId, expiration: "30d" }),
  rollApiKeyAction: () => ({ keyId, grace: "1h" }),
  expirePreviousKeyAction: () => ({ keyId }),
  elevateApiKeyAction: () => ({ keyId, target: "graphql", level: "read_write", duration: "15m", reason: "deploy", password: PASSWORD }),
  // The elevation the owner's elevateApiKeyAction made, when it has run; any id otherwise.
  endElevationAction: () => ({ keyId, elevationId: elevationId ?? "elv_missing" }),
  dismissLeakBannerAction: () => ({ keyId }),
  setApiKeyRestrictionsAction: () => ({ keyId, allowedIps: "10.0.0.0/8\n::1", rateLimit: 100, per: "minute" }),
  // What the key (disabled, GraphQL Read and the endpoint at Read / Write by then, never used) is suggested when it runs.
  applyScopeSuggestionAction: () => ({ keyId, basedOn: "30d", after: { graphql: "none", endpointsAll: "none", endpoints: {} } }),
  checkAccessAction: () => ({ keyId, resource: "graphql", access: "read", ip: "10.0.0.1" }),
  deleteApiKeyAction: () => ({ keyId }),
  createEndpointAction: () => ({ name: "beta" }),
  renameEndpointAction: () => ({ endpointId, name: "alpha-renamed" }),
  deleteEndpointAction: () => ({ endpointId }),
  addWebhookAction: () => ({ url: "https://hooks.example.com/keyscope" }),
  deleteWebhookAction: () => ({ webhookId }),
};

/** A key action revalidates the list and the key's own page. */
const keyPages = () => ["/settings/api-keys", `/settings/api-keys/${keyId}`];

describe("the dashboard's server actions", () => {
  it("are exactly these, and every export is a function (a 'use server' file exports only actions)", () => {
    expect(Object.keys(actions).sort()).toEqual(Object.keys(validInputs).sort());
    for (const action of Object.values(actions)) expect(typeof action).toBe("function");
  });

  const names = Object.keys(validInputs);

  it.each(names)("%s: signed out, valid or not, is UNAUTHENTICATED and changes nothing", async (name) => {
    const before = await snapshot();
    for (const input of [validInputs[name]!(), undefined, "garbage", { keyId: 1 }]) {
      expect(await actions[name]!(input)).toEqual({ ok: false, code: "UNAUTHENTICATED", message: "Your session has ended. Sign in again." });
    }
    expect(await snapshot()).toBe(before);
    expect(revalidated).toEqual([]);
  });

  it.each(names)("%s: signed in, a malformed input is BAD_REQUEST with field errors and changes nothing", async (name) => {
    session.account = owner;
    const before = await snapshot();
    for (const input of [undefined, "garbage", [], { keyId: 1, endpointId: 1, name: 1, enabled: "yes" }]) {
      const result = await actions[name]!(input);
      expect(result).toMatchObject({ ok: false, code: "BAD_REQUEST", message: expect.any(String), fieldErrors: expect.any(Object) });
    }
    expect(await snapshot()).toBe(before);
    expect(revalidated).toEqual([]);
  });

  it.each(names.filter((name) => name !== "createApiKeyAction" && name !== "createEndpointAction" && name !== "addWebhookAction"))(
    "%s: another account aiming at the owner's rows is NOT_FOUND and changes nothing",
    async (name) => {
      session.account = other;
      const before = await snapshot();
      const result = await actions[name]!(validInputs[name]!());
      expect(result).toMatchObject({ ok: false, code: "NOT_FOUND" });
      expect(await snapshot()).toBe(before);
      expect(revalidated).toEqual([]);
    },
  );

  it("name errors keep their messages, as a field error on `name`", async () => {
    session.account = owner;
    for (const name of ["createEndpointAction", "createApiKeyAction"]) {
      expect(await actions[name]!({ name: "\u200B ", scopes: {} })).toEqual({
        ok: false,
        code: "BAD_REQUEST",
        message: "Name can't be blank or invisible.",
        fieldErrors: { name: "Name can't be blank or invisible." },
      });
    }
    expect(await actions.renameEndpointAction!({ endpointId, name: "a\u202Eb" })).toMatchObject({ fieldErrors: { name: "Name can't contain text-direction characters." } });
  });

  it("a DAL refusal of the parsed input comes back as the DAL said it", async () => {
    session.account = owner;
    expect(await actions.createApiKeyAction!({ name: "bad-scopes", scopes: { graphql: "admin", endpointsAll: "none", endpoints: {} } })).toMatchObject({
      ok: false,
      code: "BAD_REQUEST",
    });
    expect(await actions.setApiKeyEnabledAction!({ keyId: "key_missing", enabled: true })).toEqual({ ok: false, code: "NOT_FOUND", message: "API key not found." });
  });

  it("elevation checks the user's own password again: a wrong one changes nothing and says so on the field", async () => {
    session.account = owner;
    const before = await snapshot();
    const input = { keyId, target: "endpoints", level: "read_write", duration: "1h", reason: "deploy", password: "not-the-password" };
    expect(await actions.elevateApiKeyAction!(input)).toEqual({ ok: false, code: "BAD_REQUEST", message: "Wrong password.", fieldErrors: { password: "Wrong password." } });
    expect(await actions.elevateApiKeyAction!({ ...input, target: "pods" })).toMatchObject({ ok: false, code: "BAD_REQUEST", fieldErrors: { target: "Choose a resource." } });
    // A reason that cannot pass is refused on its field before the password is looked at.
    expect(await actions.elevateApiKeyAction!({ ...input, reason: "  " })).toEqual({
      ok: false,
      code: "BAD_REQUEST",
      message: "Reason is required.",
      fieldErrors: { reason: "Reason is required." },
    });
    expect(await snapshot()).toBe(before);
    expect(revalidated).toEqual([]);
  });

  it("restrictions: a bad line, limit or window is refused on its own field and changes nothing", async () => {
    session.account = owner;
    const before = await snapshot();
    const valid = { keyId, allowedIps: "10.0.0.1", rateLimit: 5, per: "minute" };
    const rateLimitMessage = "Rate limit must be a whole number from 1 to 1,000,000.";
    const cases: [unknown, string, string][] = [
      [{ ...valid, allowedIps: "10.0.0.1\n10.0.0.0/33" }, "allowedIps", "Line 2 is not an IP address or CIDR range."],
      [{ ...valid, allowedIps: "x".repeat(20_001) }, "allowedIps", "The list is too long: at most 100 addresses or ranges."],
      [{ ...valid, rateLimit: 0 }, "rateLimit", rateLimitMessage],
      [{ ...valid, rateLimit: 1_000_001 }, "rateLimit", rateLimitMessage],
      [{ ...valid, rateLimit: 1.5 }, "rateLimit", rateLimitMessage],
      [{ ...valid, rateLimit: "100" }, "rateLimit", rateLimitMessage],
      [{ ...valid, per: null }, "per", "Choose per second, minute or hour."],
      [{ ...valid, per: "day" }, "per", "Choose per second, minute or hour."],
    ];
    for (const [input, field, message] of cases) {
      expect(await actions.setApiKeyRestrictionsAction!(input)).toEqual({ ok: false, code: "BAD_REQUEST", message, fieldErrors: { [field]: message } });
    }
    expect(await snapshot()).toBe(before);
    expect(revalidated).toEqual([]);
  });

  it("a webhook URL outside the rule is refused on the `url` field and changes nothing", async () => {
    session.account = owner;
    const before = await snapshot();
    const cases: [string, string][] = [
      ["http://127.0.0.1:8080/hook", "Webhooks cannot be sent to loopback addresses."],
      ["http://169.254.169.254/latest/meta-data", "Webhooks cannot be sent to link-local addresses."],
      ["https://user:pw@hooks.example.com/", "The URL must not contain a user name or password: deliveries are signed instead."],
      ["ftp://hooks.example.com/", "The URL must start with https:// or http://."],
      ["https://owner.example.com/hook", "This URL is already registered."],
    ];
    for (const [url, message] of cases) {
      expect(await actions.addWebhookAction!({ url })).toEqual({ ok: false, code: expect.any(String), message, fieldErrors: { url: message } });
    }
    expect(await snapshot()).toBe(before);
    expect(revalidated).toEqual([]);
  });

  it("each succeeds for the owner with the same result shapes, and revalidates its pages", async () => {
    session.account = owner;
    const shapes: [string, unknown, string[]][] = [
      ["createEndpointAction", { ok: true, data: { id: expect.any(String) } }, ["/settings/endpoints", "/settings/api-keys"]],
      ["renameEndpointAction", { ok: true, data: undefined }, ["/settings/endpoints", "/settings/api-keys"]],
      ["createApiKeyAction", { ok: true, data: { plaintext: expect.stringMatching(/^rpa_/), name: "new" } }, ["/settings/api-keys"]],
      ["setApiKeyEnabledAction", { ok: true, data: { enabled: false } }, keyPages()],
      ["updateApiKeyScopesAction", { ok: true, data: undefined }, keyPages()],
      ["setApiKeyExpirationAction", { ok: true, data: { expiresAt: expect.any(String) } }, keyPages()],
      ["rollApiKeyAction", { ok: true, data: { plaintext: expect.stringMatching(/^rpa_/), name: "ci" } }, keyPages()],
      ["expirePreviousKeyAction", { ok: true, data: undefined }, keyPages()],
      ["elevateApiKeyAction", { ok: true, data: undefined }, keyPages()],
      ["endElevationAction", { ok: true, data: undefined }, keyPages()],
      ["dismissLeakBannerAction", { ok: true, data: undefined }, keyPages()],
      ["setApiKeyRestrictionsAction", { ok: true, data: undefined }, keyPages()],
      ["applyScopeSuggestionAction", { ok: true, data: undefined }, keyPages()],
      // Read-only: it revalidates nothing.
      ["checkAccessAction", { ok: true, data: { allowed: false, code: "KEY_DISABLED", reason: "This API key is disabled." } }, []],
      ["deleteApiKeyAction", { ok: true, data: undefined }, keyPages()],
      ["deleteEndpointAction", { ok: true, data: undefined }, ["/settings/endpoints", "/settings/api-keys"]],
      ["addWebhookAction", { ok: true, data: { url: "https://hooks.example.com/keyscope", secret: expect.stringMatching(/^whsec_[0-9A-Za-z]{32}$/) } }, ["/settings/webhooks"]],
      ["deleteWebhookAction", { ok: true, data: undefined }, ["/settings/webhooks"]],
    ];
    expect(shapes.map(([name]) => name).sort()).toEqual(names.sort());
    for (const [name, shape, pages] of shapes) {
      revalidated.length = 0;
      if (name === "endElevationAction") {
        elevationId = (await rawRows("SELECT id FROM api_key_elevations WHERE key_id = ? AND ended_at IS NULL", [keyId]))[0]?.id as string | undefined;
      }
      // A key younger than the window and never used gets no suggestion to apply: make it older.
      if (name === "applyScopeSuggestionAction") await rawRows("UPDATE api_keys SET created_at = created_at - 31 * 86400000 WHERE id = ?", [keyId]);
      expect(await actions[name]!(validInputs[name]!())).toEqual(shape);
      expect(revalidated).toEqual(pages);
    }
    expect(await rawRows("SELECT target_id, json_extract(details, '$.after') AS after FROM audit_log WHERE action = 'api_key.restrictions_changed'")).toEqual([
      { target_id: keyId, after: '{"allowedIps":["10.0.0.0/8","::1/128"],"rateLimit":100,"per":"minute"}' },
    ]);
    expect(await rawRows("SELECT name FROM endpoints WHERE account_id = ? ORDER BY name", [owner.id])).toEqual([{ name: "beta" }]);
    expect(await rawRows("SELECT name, enabled FROM api_keys WHERE account_id = ? ORDER BY name", [owner.id])).toEqual([{ name: "new", enabled: 1 }]);
  });
});
