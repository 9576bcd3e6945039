import { countRows, rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAME_MESSAGES } from "@/lib/core/names";
import { createAccount } from "./accounts";
import { createScopedApiKey, importLegacyApiKeys } from "./api-keys";
import { createEndpoint, renameEndpoint } from "./endpoints";
import { createPod } from "./pods";
import type { DalResult } from "./result";

// The DAL applies lib/core/names.ts itself, so a caller that forgets to (a script, a future route)
// still cannot store a name that breaks the rule, and every name is stored normalised.

afterAll(removeTestDatabase);

let accountId = "";
let endpointId = "";

beforeAll(async () => {
  const account = await createAccount(uniqueEmail("names"), "password-names-123");
  if (!account.ok) throw new Error("setup failed");
  accountId = account.value.id;
  const endpoint = await createEndpoint(accountId, "keep-this-name", { type: "dashboard" });
  if (!endpoint.ok) throw new Error("setup failed");
  endpointId = endpoint.value.id;
});

const ACTOR = { type: "dashboard" } as const;
const NO_ACCESS = { graphql: "none", endpointsAll: "none", endpoints: {} };

/** Each writer of a name, and the stored name it produced (or null when it wrote nothing). */
const writers: [string, (name: string) => Promise<DalResult<unknown>>, (result: DalResult<unknown>) => Promise<unknown>][] = [
  [
    "createScopedApiKey",
    (name) => createScopedApiKey(accountId, { name, scopes: NO_ACCESS }, ACTOR),
    async (result) => (result.ok ? (await rawRows("SELECT name FROM api_keys WHERE id = ?", [(result.value as { key: { id: string } }).key.id]))[0]?.name : null),
  ],
  [
    "importLegacyApiKeys",
    (name) => importLegacyApiKeys(accountId, [{ line: 7, name, permission: "read", keyHash: randomBytes(32).toString("hex"), hint: "(hash only)" }], { type: "cli", command: "test" }),
    async (result) => (result.ok ? (await rawRows("SELECT name FROM api_keys WHERE id = ?", [(result.value as { ids: string[] }).ids[0] ?? ""]))[0]?.name : null),
  ],
  [
    "createEndpoint",
    (name) => createEndpoint(accountId, name, ACTOR),
    async (result) => (result.ok ? (await rawRows("SELECT name FROM endpoints WHERE id = ?", [(result.value as { id: string }).id]))[0]?.name : null),
  ],
  [
    "renameEndpoint",
    (name) => renameEndpoint(accountId, endpointId, name, ACTOR),
    async () => (await rawRows("SELECT name FROM endpoints WHERE id = ?", [endpointId]))[0]?.name,
  ],
  [
    "createPod",
    (name) => createPod(accountId, name),
    async (result) => (result.ok ? (await rawRows("SELECT name FROM pods WHERE id = ?", [(result.value as { id: string }).id]))[0]?.name : null),
  ],
];

const counts = async () => ({
  apiKeys: await countRows("api_keys"),
  endpoints: await countRows("endpoints"),
  pods: await countRows("pods"),
  auditLog: await countRows("audit_log"),
  endpointName: (await rawRows("SELECT name FROM endpoints WHERE id = ?", [endpointId]))[0]?.name,
});

describe.each(writers)("%s applies the name rule itself", (writer, write, storedName) => {
  it.each([
    ["a bidi override", "invoice\u202Egpj.exe", NAME_MESSAGES.bidi],
    ["zero-width and no-break spaces only", "\u200B\u00A0\u200B", NAME_MESSAGES.invisible],
    ["a control character", "billing\u0000admin", NAME_MESSAGES.control],
    ["a newline", "a\nb", NAME_MESSAGES.control],
    ["a line separator", "a\u2028b", NAME_MESSAGES.lineBreak],
    ["nothing", "", NAME_MESSAGES.required],
    ["65 characters", "n".repeat(65), NAME_MESSAGES.tooLong],
  ])("refuses %s (BAD_REQUEST), writing nothing", async (_label, name, message) => {
    const before = await counts();
    const result = await write(name);
    expect(result).toEqual({ ok: false, code: "BAD_REQUEST", message: writer === "importLegacyApiKeys" ? `line 7: ${message}` : message });
    expect(await counts()).toEqual(before);
  });

  it("stores the normalised name: NFC, trimmed of white space and zero-width characters", async () => {
    const result = await write(`\u00A0 Cafe\u0301-${writer}\u200B\u3000`);
    expect(result.ok).toBe(true);
    expect(await storedName(result)).toBe(`Caf\u00E9-${writer}`);
  });
});

describe("the normalised name is the one in the result and in the audit entry", () => {
  it("createEndpoint and renameEndpoint", async () => {
    const created = await createEndpoint(accountId, " e\u0301cho ", ACTOR);
    expect(created.ok && created.value.name).toBe("\u00E9cho");
    const renamed = created.ok ? await renameEndpoint(accountId, created.value.id, "\u200Be\u0301cho-2\u00A0", ACTOR) : null;
    expect(renamed?.ok && renamed.value.name).toBe("\u00E9cho-2");
    const entries = await rawRows("SELECT action, target_name, details FROM audit_log WHERE target_id = ? ORDER BY id", [created.ok ? created.value.id : ""]);
    expect(entries).toEqual([
      { action: "endpoint.created", target_name: "\u00E9cho", details: "{}" },
      { action: "endpoint.renamed", target_name: "\u00E9cho-2", details: JSON.stringify({ from: "\u00E9cho", to: "\u00E9cho-2" }) },
    ]);
  });

  it("renaming to the decomposed form of the current name changes nothing and records nothing", async () => {
    const created = await createEndpoint(accountId, "\u00E9t\u00E9", ACTOR);
    if (!created.ok) throw new Error("setup failed");
    const before = await countRows("audit_log");
    const renamed = await renameEndpoint(accountId, created.value.id, "e\u0301te\u0301", ACTOR);
    expect(renamed.ok).toBe(true);
    expect(await countRows("audit_log")).toBe(before);
  });

  it("createScopedApiKey", async () => {
    const created = await createScopedApiKey(accountId, { name: "\uFEFFcle\u0301 ", scopes: NO_ACCESS }, ACTOR);
    expect(created.ok && created.value.key.name).toBe("cl\u00E9");
    const [entry] = await rawRows("SELECT target_name FROM audit_log WHERE target_id = ?", [created.ok ? created.value.key.id : ""]);
    expect(entry?.target_name).toBe("cl\u00E9");
  });

  it("importLegacyApiKeys refuses the whole batch for one bad name, naming its line", async () => {
    const before = await counts();
    const entry = (line: number, name: string) => ({ line, name, permission: "read" as const, keyHash: randomBytes(32).toString("hex"), hint: "(hash only)" });
    const result = await importLegacyApiKeys(accountId, [entry(1, "fine"), entry(2, "\u3164")], { type: "cli", command: "test" });
    expect(result).toEqual({ ok: false, code: "BAD_REQUEST", message: `line 2: ${NAME_MESSAGES.invisible}` });
    expect(await counts()).toEqual(before);
  });
});
