import { countRows, rawRows, removeTestDatabase, uniqueEmail, type RawRow, runJustBeforeNextBatch } from "@/testing/test-database";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/handle";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { createEmptyScopes, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { createAccount } from "./accounts";
import {
  createScopedApiKey,
  deleteApiKey,
  getApiKey,
  importLegacyApiKeys,
  setApiKeyEnabled,
  updateApiKeyScopes,
  type LegacyKeyImport,
} from "./api-keys";
import { listAuditLog, type AuditActor, type AuditLogEntryDto } from "./audit-log";
import { createEndpoint, deleteEndpoint, getEndpoint, renameEndpoint } from "./endpoints";

afterAll(removeTestDatabase);

// Every secret this file creates: plaintext keys, and their hashes. None may reach the audit log.
const secrets: string[] = [];

async function newAccount(label: string): Promise<string> {
  const result = await createAccount(uniqueEmail(label), `password-${label}-123`);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

async function newEndpoint(accountId: string, name: string, now?: Date): Promise<string> {
  const result = await createEndpoint(accountId, name, { type: "dashboard" }, now);
  if (!result.ok) throw new Error("setup failed");
  return result.value.id;
}

async function newKey(accountId: string, name: string, scopes: unknown = createEmptyScopes(), now?: Date) {
  const result = await createScopedApiKey(accountId, { name, scopes }, { type: "dashboard" }, now);
  if (!result.ok) throw new Error(`createScopedApiKey failed: ${result.message}`);
  const { plaintext } = result.value;
  secrets.push(plaintext, hashKey(plaintext), plaintext.slice(4, 34));
  return result.value;
}

function legacyEntry(line: number, name: string, permission: LegacyKeyImport["permission"]): LegacyKeyImport {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const plaintext = Array.from({ length: 32 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join("");
  secrets.push(plaintext, hashKey(plaintext));
  return { line, name, permission, keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") };
}

/** Runs `change` and returns the audit rows it wrote for the account. */
async function auditedBy(accountId: string, change: () => Promise<unknown>): Promise<RawRow[]> {
  const [last] = await rawRows("SELECT coalesce(max(id), 0) AS id FROM audit_log");
  await change();
  const rows = await rawRows("SELECT * FROM audit_log WHERE id > ? ORDER BY id", [Number(last?.id)]);
  for (const row of rows) expect(row.account_id).toBe(accountId);
  return rows.map((row) => ({ ...row, details: JSON.parse(String(row.details)), actor: row.actor === null ? null : JSON.parse(String(row.actor)) }));
}

const allAuditRows = () => countRows("audit_log");

/** Makes every audit INSERT of `action` fail, as a full disk or a bug in the audit statement would. */
async function refuseAudit(action: string): Promise<() => Promise<void>> {
  const db = await getDb();
  await db.$client.execute(
    `CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log WHEN NEW.action = '${action}' BEGIN SELECT RAISE(ABORT, 'audit refused'); END`,
  );
  return async () => {
    await db.$client.execute("DROP TRIGGER audit_refuse");
  };
}

let accountA = "";
let accountB = "";
let whisper = "";
let llama = "";

beforeAll(async () => {
  [accountA, accountB] = await Promise.all([newAccount("a"), newAccount("b")]);
  whisper = await newEndpoint(accountA, "whisper");
  llama = await newEndpoint(accountA, "llama");
});

describe("each change writes exactly one entry, in the same batch", () => {
  it("createScopedApiKey: api_key.created, naming the key, with its scopes and endpoint names", async () => {
    const now = new Date("2025-01-02T03:04:05.678Z");
    let keyId = "";
    const rows = await auditedBy(accountA, async () => {
      keyId = (await newKey(accountA, "ci", { graphql: "read", endpointsAll: "none", endpoints: { [whisper]: "read_write", [llama]: "none" } }, now)).key.id;
    });
    expect(rows).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "api_key.created",
        target_type: "api_key",
        target_id: keyId,
        target_name: "ci",
        details: {
          kind: "scoped",
          scopes: {
            graphql: "read",
            endpointsAll: "none",
            // By name, sorted, so the entry still reads right after a rename or delete.
            endpoints: [
              { id: llama, name: "llama", level: "none" },
              { id: whisper, name: "whisper", level: "read_write" },
            ],
          },
          // No expiry was asked for.
          expiresAt: null,
        },
        actor: { type: "dashboard" },
      },
    ]);
  });

  it("setApiKeyEnabled: api_key.disabled and api_key.enabled; nothing when the state does not change", async () => {
    const { key } = await newKey(accountA, "toggled");
    const off = await auditedBy(accountA, () => setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" }));
    expect(off).toEqual([expect.objectContaining({ action: "api_key.disabled", target_type: "api_key", target_id: key.id, target_name: "toggled", details: { kind: "scoped" } })]);

    expect(await auditedBy(accountA, () => setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" }))).toEqual([]);
    expect((await getApiKey(accountA, key.id))?.enabled).toBe(false);

    const on = await auditedBy(accountA, () => setApiKeyEnabled(accountA, key.id, true, { type: "dashboard" }));
    expect(on).toEqual([expect.objectContaining({ action: "api_key.enabled", target_id: key.id, target_name: "toggled", details: { kind: "scoped" } })]);
    expect(await auditedBy(accountA, () => setApiKeyEnabled(accountA, key.id, true, { type: "dashboard" }))).toEqual([]);
  });

  it("updateApiKeyScopes: api_key.scopes_changed with before and after, by endpoint name", async () => {
    const { key } = await newKey(accountA, "scoped", { graphql: "none", endpointsAll: "read", endpoints: { [whisper]: "read" } });
    const next: KeyScopes = { graphql: "read", endpointsAll: "read", endpoints: { [whisper]: "read_write", [llama]: "none" } };
    const rows = await auditedBy(accountA, async () => expect((await updateApiKeyScopes(accountA, key.id, next, { type: "dashboard" })).ok).toBe(true));
    expect(rows).toEqual([
      expect.objectContaining({
        action: "api_key.scopes_changed",
        target_type: "api_key",
        target_id: key.id,
        target_name: "scoped",
        details: {
          before: { graphql: "none", endpointsAll: "read", endpoints: [{ id: whisper, name: "whisper", level: "read" }] },
          after: {
            graphql: "read",
            endpointsAll: "read",
            endpoints: [
              { id: llama, name: "llama", level: "none" },
              { id: whisper, name: "whisper", level: "read_write" },
            ],
          },
        },
      }),
    ]);
    expect((await getApiKey(accountA, key.id))?.scopes).toEqual(next);

    // Saving the same scopes again changes nothing and records nothing.
    expect(await auditedBy(accountA, () => updateApiKeyScopes(accountA, key.id, next, { type: "dashboard" }))).toEqual([]);

    // Unpinning an override is a change even when the level it inherits is the same.
    const unpinned = await auditedBy(accountA, () => updateApiKeyScopes(accountA, key.id, { ...next, endpoints: { [whisper]: "read_write" } }, { type: "dashboard" }));
    expect(unpinned).toHaveLength(1);
    expect(unpinned[0]?.details).toEqual({
      before: {
        graphql: "read",
        endpointsAll: "read",
        endpoints: [
          { id: llama, name: "llama", level: "none" },
          { id: whisper, name: "whisper", level: "read_write" },
        ],
      },
      after: { graphql: "read", endpointsAll: "read", endpoints: [{ id: whisper, name: "whisper", level: "read_write" }] },
    });
  });

  it("updateApiKeyScopes refused (bad scopes, legacy key) writes nothing", async () => {
    const { key } = await newKey(accountA, "refused");
    const imported = await importLegacyApiKeys(accountA, [legacyEntry(1, "old", "read")], { type: "dashboard" });
    if (!imported.ok || !imported.value.ids[0]) throw new Error("setup failed");
    const legacyId = imported.value.ids[0];
    const before = await allAuditRows();
    expect((await updateApiKeyScopes(accountA, key.id, { graphql: "admin", endpointsAll: "none", endpoints: {} }, { type: "dashboard" })).ok).toBe(false);
    expect((await updateApiKeyScopes(accountA, legacyId, { graphql: "read_write", endpointsAll: "read_write", endpoints: {} }, { type: "dashboard" })).ok).toBe(false);
    expect(await allAuditRows()).toBe(before);
  });

  it("deleteApiKey: api_key.deleted, and the entry outlives the key", async () => {
    const { key } = await newKey(accountA, "doomed");
    const rows = await auditedBy(accountA, () => deleteApiKey(accountA, key.id, { type: "dashboard" }));
    expect(rows).toEqual([expect.objectContaining({ action: "api_key.deleted", target_id: key.id, target_name: "doomed", details: { kind: "scoped" } })]);
    expect(await countRows("api_keys", "id = ?", [key.id])).toBe(0);
    expect(await countRows("audit_log", "target_id = ?", [key.id])).toBe(2); // created, deleted
    // A second delete is NOT_FOUND and records nothing.
    expect(await auditedBy(accountA, () => deleteApiKey(accountA, key.id, { type: "dashboard" }))).toEqual([]);
  });

  it("deleteApiKey of a legacy key says so", async () => {
    const imported = await importLegacyApiKeys(accountA, [legacyEntry(1, "legacy-doomed", "read_write")], { type: "dashboard" });
    if (!imported.ok || !imported.value.ids[0]) throw new Error("setup failed");
    const rows = await auditedBy(accountA, () => deleteApiKey(accountA, imported.value.ids[0] ?? "", { type: "dashboard" }));
    expect(rows).toEqual([expect.objectContaining({ action: "api_key.deleted", target_name: "legacy-doomed", details: { kind: "legacy" } })]);
  });

  it("importLegacyApiKeys: one api_key.legacy_imported entry naming the count and every key", async () => {
    const now = new Date("2025-02-03T00:00:00Z");
    const entries = [legacyEntry(1, "one", "read"), legacyEntry(2, "two", "read_write")];
    let ids: string[] = [];
    const rows = await auditedBy(accountA, async () => {
      const result = await importLegacyApiKeys(accountA, entries, { type: "cli", command: "keys:import-legacy" }, now);
      if (!result.ok) throw new Error(result.message);
      ids = result.value.ids;
    });
    expect(rows).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "api_key.legacy_imported",
        target_type: "api_key",
        target_id: null,
        target_name: null,
        details: {
          count: 2,
          keys: [
            { id: ids[0], name: "one", permission: "read" },
            { id: ids[1], name: "two", permission: "read_write" },
          ],
        },
        actor: { type: "cli", command: "keys:import-legacy" },
      },
    ]);
  });

  it("importLegacyApiKeys refused (CONFLICT) or empty writes nothing", async () => {
    const entry = legacyEntry(1, "first", "read");
    expect((await importLegacyApiKeys(accountA, [entry], { type: "dashboard" })).ok).toBe(true);
    const before = await allAuditRows();
    expect(await importLegacyApiKeys(accountA, [legacyEntry(1, "fresh", "read"), { ...entry, line: 2 }], { type: "dashboard" })).toMatchObject({ ok: false, code: "CONFLICT" });
    expect(await importLegacyApiKeys(accountA, [], { type: "dashboard" })).toEqual({ ok: true, value: { ids: [] } });
    expect(await allAuditRows()).toBe(before);
  });

  it("createEndpoint: endpoint.created", async () => {
    const now = new Date("2025-03-04T05:06:07.089Z");
    let id = "";
    const rows = await auditedBy(accountA, async () => {
      id = await newEndpoint(accountA, "sdxl", now);
    });
    expect(rows).toEqual([
      {
        id: expect.any(Number),
        account_id: accountA,
        created_at: now.getTime(),
        action: "endpoint.created",
        target_type: "endpoint",
        target_id: id,
        target_name: "sdxl",
        details: {},
        actor: { type: "dashboard" },
      },
    ]);
  });

  it("renameEndpoint: endpoint.renamed with before and after names; nothing for the same name", async () => {
    const id = await newEndpoint(accountA, "a");
    const rows = await auditedBy(accountA, () => renameEndpoint(accountA, id, "b", { type: "dashboard" }));
    expect(rows).toEqual([expect.objectContaining({ action: "endpoint.renamed", target_type: "endpoint", target_id: id, target_name: "b", details: { from: "a", to: "b" } })]);
    expect(await auditedBy(accountA, async () => expect((await renameEndpoint(accountA, id, "b", { type: "dashboard" })).ok).toBe(true))).toEqual([]);
  });

  it("deleteEndpoint: endpoint.deleted naming the keys that lose an override; the entry outlives the endpoint", async () => {
    const id = await newEndpoint(accountA, "gone");
    await newKey(accountA, "pinned-z", { graphql: "none", endpointsAll: "none", endpoints: { [id]: "read" } });
    await newKey(accountA, "pinned-a", { graphql: "none", endpointsAll: "none", endpoints: { [id]: "none" } });
    await newKey(accountA, "unrelated", { graphql: "none", endpointsAll: "read", endpoints: { [whisper]: "read" } });
    const rows = await auditedBy(accountA, () => deleteEndpoint(accountA, id, { type: "dashboard" }));
    expect(rows).toEqual([
      expect.objectContaining({ action: "endpoint.deleted", target_id: id, target_name: "gone", details: { keysWithOverride: ["pinned-a", "pinned-z"] } }),
    ]);
    expect(await getEndpoint(accountA, id)).toBeNull();
    expect(await countRows("audit_log", "target_id = ?", [id])).toBe(2);
    expect(await auditedBy(accountA, () => deleteEndpoint(accountA, id, { type: "dashboard" }))).toEqual([]);
  });
});

describe("a change that does not happen writes no entry", () => {
  it.each<[string, () => Promise<{ ok: boolean }>]>([
    ["setApiKeyEnabled", async () => setApiKeyEnabled(accountB, await ownKeyOfA(), false, { type: "dashboard" })],
    ["updateApiKeyScopes", async () => updateApiKeyScopes(accountB, await ownKeyOfA(), { graphql: "read_write", endpointsAll: "read_write", endpoints: {} }, { type: "dashboard" })],
    ["deleteApiKey", async () => deleteApiKey(accountB, await ownKeyOfA(), { type: "dashboard" })],
    ["renameEndpoint", async () => renameEndpoint(accountB, whisper, "hijacked", { type: "dashboard" })],
    ["deleteEndpoint", async () => deleteEndpoint(accountB, whisper, { type: "dashboard" })],
    ["createScopedApiKey with A's endpoint", async () => createScopedApiKey(accountB, { name: "sneaky", scopes: { graphql: "none", endpointsAll: "none", endpoints: { [whisper]: "read" } } }, { type: "dashboard" })],
  ])("cross-account: B's %s on A's resource is refused and writes nothing for anyone", async (_label, attempt) => {
    const keyOfA = await ownKeyOfA();
    const before = { total: await allAuditRows(), key: await getApiKey(accountA, keyOfA), endpoint: await getEndpoint(accountA, whisper) };
    const result = await attempt();
    expect(result.ok).toBe(false);
    expect(await allAuditRows()).toBe(before.total);
    expect(await getApiKey(accountA, keyOfA)).toEqual(before.key);
    expect(await getEndpoint(accountA, whisper)).toEqual(before.endpoint);
  });

  it.each<[string, () => Promise<{ ok: boolean }>]>([
    ["setApiKeyEnabled", () => setApiKeyEnabled(accountA, "key_nosuchkey00000", false, { type: "dashboard" })],
    ["updateApiKeyScopes", () => updateApiKeyScopes(accountA, "key_nosuchkey00000", createEmptyScopes(), { type: "dashboard" })],
    ["deleteApiKey", () => deleteApiKey(accountA, "key_nosuchkey00000", { type: "dashboard" })],
    ["renameEndpoint", () => renameEndpoint(accountA, "nosuchendpoint00", "x", { type: "dashboard" })],
    ["deleteEndpoint", () => deleteEndpoint(accountA, "nosuchendpoint00", { type: "dashboard" })],
  ])("an unknown id: %s is NOT_FOUND and writes nothing", async (_label, attempt) => {
    const before = await allAuditRows();
    expect(await attempt()).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await allAuditRows()).toBe(before);
  });

  it("a key deleted just before setApiKeyEnabled's batch: NOT_FOUND and no entry", async () => {
    const { key } = await newKey(accountA, "vanishing");
    const before = await allAuditRows();
    const restore = runJustBeforeNextBatch("DELETE FROM api_keys WHERE id = ?", [key.id]);
    try {
      expect(await setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" })).toMatchObject({ ok: false, code: "NOT_FOUND" });
    } finally {
      await restore();
    }
    expect(await allAuditRows()).toBe(before);
  });
});

let keyOfA = "";
async function ownKeyOfA(): Promise<string> {
  if (!keyOfA) keyOfA = (await newKey(accountA, "a's key", { graphql: "read", endpointsAll: "none", endpoints: { [whisper]: "read" } })).key.id;
  return keyOfA;
}

describe("atomicity: the change and its entry commit together or not at all", () => {
  it("the change fails inside the batch (an override's endpoint was deleted): no scopes_changed entry, key unchanged", async () => {
    const racing = await newEndpoint(accountA, "racing");
    const { key } = await newKey(accountA, "racer", { graphql: "read", endpointsAll: "none", endpoints: { [whisper]: "read" } });
    const before = { total: await allAuditRows(), key: await getApiKey(accountA, key.id) };
    // The audit INSERT … SELECT runs first in the batch and succeeds; the override INSERT after it
    // fails on the foreign key, and takes the entry down with it.
    const restore = runJustBeforeNextBatch("DELETE FROM endpoints WHERE id = ?", [racing]);
    try {
      const result = await updateApiKeyScopes(accountA, key.id, { graphql: "read_write", endpointsAll: "read", endpoints: { [racing]: "read_write" } }, { type: "dashboard" });
      expect(result).toMatchObject({ ok: false, code: "NOT_FOUND" });
    } finally {
      await restore();
    }
    expect(await allAuditRows()).toBe(before.total);
    expect(await getApiKey(accountA, key.id)).toEqual(before.key);
  });

  it("the change fails inside the batch on create: no key, no api_key.created entry", async () => {
    const racing = await newEndpoint(accountA, "racing-create");
    const before = { total: await allAuditRows(), keys: await countRows("api_keys") };
    const restore = runJustBeforeNextBatch("DELETE FROM endpoints WHERE id = ?", [racing]);
    try {
      const result = await createScopedApiKey(accountA, { name: "never", scopes: { graphql: "none", endpointsAll: "none", endpoints: { [racing]: "read" } } }, { type: "dashboard" });
      expect(result).toMatchObject({ ok: false, code: "BAD_REQUEST" });
    } finally {
      await restore();
    }
    expect(await allAuditRows()).toBe(before.total);
    expect(await countRows("api_keys")).toBe(before.keys);
  });

  // Conversely: when the entry cannot be written, the change does not happen either, whether
  // the audit statement comes before the change in the batch or after it.
  it.each<[string, string, () => Promise<() => Promise<unknown>>]>([
    [
      "createScopedApiKey",
      "api_key.created",
      async () => {
        const keys = await countRows("api_keys", "account_id = ?", [accountA]);
        await expect(createScopedApiKey(accountA, { name: "unaudited", scopes: { graphql: "none", endpointsAll: "none", endpoints: { [whisper]: "read" } } }, { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => {
          expect(await countRows("api_keys", "account_id = ?", [accountA])).toBe(keys);
          expect(await countRows("api_keys", "name = 'unaudited'")).toBe(0);
        };
      },
    ],
    [
      "setApiKeyEnabled",
      "api_key.disabled",
      async () => {
        const { key } = await newKey(accountA, "stays-on");
        await expect(setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect((await getApiKey(accountA, key.id))?.enabled).toBe(true);
      },
    ],
    [
      "updateApiKeyScopes",
      "api_key.scopes_changed",
      async () => {
        const { key } = await newKey(accountA, "stays-scoped", { graphql: "none", endpointsAll: "none", endpoints: { [whisper]: "read" } });
        const before = await getApiKey(accountA, key.id);
        await expect(updateApiKeyScopes(accountA, key.id, { graphql: "read_write", endpointsAll: "read", endpoints: { [llama]: "read" } }, { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect(await getApiKey(accountA, key.id)).toEqual(before);
      },
    ],
    [
      "deleteApiKey",
      "api_key.deleted",
      async () => {
        const { key } = await newKey(accountA, "stays");
        await expect(deleteApiKey(accountA, key.id, { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect(await getApiKey(accountA, key.id)).not.toBeNull();
      },
    ],
    [
      "importLegacyApiKeys",
      "api_key.legacy_imported",
      async () => {
        const entry = legacyEntry(1, "not-imported", "read");
        await expect(importLegacyApiKeys(accountA, [entry], { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect(await countRows("api_keys", "key_hash = ?", [entry.keyHash])).toBe(0);
      },
    ],
    [
      "createEndpoint",
      "endpoint.created",
      async () => {
        await expect(createEndpoint(accountA, "unaudited-endpoint", { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect(await countRows("endpoints", "name = 'unaudited-endpoint'")).toBe(0);
      },
    ],
    [
      "renameEndpoint",
      "endpoint.renamed",
      async () => {
        await expect(renameEndpoint(accountA, llama, "renamed-unaudited", { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect((await getEndpoint(accountA, llama))?.name).toBe("llama");
      },
    ],
    [
      "deleteEndpoint",
      "endpoint.deleted",
      async () => {
        const id = await newEndpoint(accountA, "stays-put");
        await expect(deleteEndpoint(accountA, id, { type: "dashboard" })).rejects.toThrow(/audit refused/);
        return async () => expect(await getEndpoint(accountA, id)).not.toBeNull();
      },
    ],
  ])("the entry fails to write: %s rolls back whole", async (_label, action, attempt) => {
    // Setup inside `attempt` (a key or endpoint to act on) writes other actions only.
    const entriesBefore = await countRows("audit_log", "action = ?", [action]);
    const refused = await refuseAudit(action);
    let check: () => Promise<unknown>;
    try {
      check = await attempt();
    } finally {
      await refused();
    }
    await check();
    expect(await countRows("audit_log", "action = ?", [action])).toBe(entriesBefore);
  });
});

describe("actor: every entry records who made the change, as given", () => {
  it.each<[string, AuditActor, (actor: AuditActor) => Promise<unknown>]>([
    ["createScopedApiKey", { type: "dashboard" }, (actor) => createScopedApiKey(accountA, { name: "by-actor", scopes: createEmptyScopes() }, actor)],
    ["setApiKeyEnabled", { type: "cli", command: "keys:toggle" }, async (actor) => setApiKeyEnabled(accountA, (await newKey(accountA, "toggled")).key.id, false, actor)],
    [
      "updateApiKeyScopes",
      { type: "dashboard" },
      async (actor) => updateApiKeyScopes(accountA, (await newKey(accountA, "rescoped")).key.id, { graphql: "read", endpointsAll: "none", endpoints: {} }, actor),
    ],
    ["deleteApiKey", { type: "cli", command: "keys:delete" }, async (actor) => deleteApiKey(accountA, (await newKey(accountA, "deleted-by")).key.id, actor)],
    ["importLegacyApiKeys", { type: "cli", command: "keys:import-legacy" }, (actor) => importLegacyApiKeys(accountA, [legacyEntry(1, "imported-by", "read")], actor)],
    ["createEndpoint", { type: "cli", command: "endpoints:create" }, (actor) => createEndpoint(accountA, "created-by", actor)],
    ["renameEndpoint", { type: "dashboard" }, async (actor) => renameEndpoint(accountA, await newEndpoint(accountA, "rename-by"), "renamed-by", actor)],
    ["deleteEndpoint", { type: "cli", command: "endpoints:delete" }, async (actor) => deleteEndpoint(accountA, await newEndpoint(accountA, "delete-by"), actor)],
  ])("%s records %j", async (_name, actor, write) => {
    const rows = await auditedBy(accountA, () => write(actor));
    // Setup may write an entry first (by the dashboard); the change under test is the last one.
    expect(rows.at(-1)?.actor).toEqual(actor);
  });

  it.each<[string, (actor: AuditActor) => Promise<unknown>]>([
    ["setApiKeyEnabled", async (actor) => setApiKeyEnabled(accountA, (await newKey(accountA, "api-toggled")).key.id, false, actor)],
    ["createEndpoint", (actor) => createEndpoint(accountA, "api-created", actor)],
    ["renameEndpoint", async (actor) => renameEndpoint(accountA, await newEndpoint(accountA, "api-rename"), "api-renamed", actor)],
    ["deleteEndpoint", async (actor) => deleteEndpoint(accountA, await newEndpoint(accountA, "api-delete"), actor)],
  ])("%s by an API key records the key's id and its name at the time", async (_name, write) => {
    const { key } = await newKey(accountA, "ci-actor");
    const rows = await auditedBy(accountA, () => write({ type: "api_key", keyId: key.id }));
    expect(rows.at(-1)?.actor).toEqual({ type: "api_key", keyId: key.id, keyName: "ci-actor" });
  });

  it("a key deleting itself is still named; another account's key is not", async () => {
    const { key } = await newKey(accountA, "self-deleting");
    expect((await auditedBy(accountA, () => deleteApiKey(accountA, key.id, { type: "api_key", keyId: key.id })))[0]?.actor).toEqual({
      type: "api_key",
      keyId: key.id,
      keyName: "self-deleting",
    });
    const { key: ofB } = await newKey(accountB, "b-secret-name");
    expect((await auditedBy(accountA, () => createEndpoint(accountA, "cross-actor", { type: "api_key", keyId: ofB.id })))[0]?.actor).toEqual({
      type: "api_key",
      keyId: ofB.id,
      keyName: null,
    });
  });

  it("a member on the dashboard (SPEC §11) is named by id and by their email at the time, and listed so", async () => {
    const member = await createAccount(uniqueEmail("named-member"), "password-named-123");
    if (!member.ok) throw new Error("setup failed");
    const actor: AuditActor = { type: "dashboard", userId: member.value.userId };
    const named = { type: "dashboard", userId: member.value.userId, email: member.value.email };
    const writes: (() => Promise<unknown>)[] = [
      () => createScopedApiKey(accountA, { name: "by-member", scopes: createEmptyScopes() }, actor),
      async () => setApiKeyEnabled(accountA, (await newKey(accountA, "member-toggled")).key.id, false, actor),
      () => createEndpoint(accountA, "member-made", actor),
    ];
    for (const write of writes) expect((await auditedBy(accountA, write)).at(-1)?.actor).toEqual(named);
    const { entries } = await listAuditLog(accountA, { page: 1 });
    expect(entries[0]?.actor).toEqual(named);
    // The entry keeps the email after the user is gone.
    await rawRows("DELETE FROM users WHERE id = ?", [member.value.userId]);
    expect((await listAuditLog(accountA, { page: 1 })).entries[0]?.actor).toEqual(named);
  });

  it("an entry without an actor (written before actors were recorded) or with one this version cannot read lists actor null", async () => {
    const account = await newAccount("actorless");
    const id = await newEndpoint(account, "old");
    await rawRows("UPDATE audit_log SET actor = NULL WHERE account_id = ?", [account]);
    await renameEndpoint(account, id, "newer", { type: "dashboard" });
    await rawRows("UPDATE audit_log SET actor = ? WHERE account_id = ? AND action = 'endpoint.renamed'", ['{"type":"robot"}', account]);
    await renameEndpoint(account, id, "newest", { type: "dashboard" });
    const { entries } = await listAuditLog(account, { page: 1 });
    expect(entries.map((entry) => entry.actor)).toEqual([{ type: "dashboard" }, null, null]);
  });
});

describe("listAuditLog", () => {
  it("lists only the account's own entries, newest first, as DTOs", async () => {
    const account = await newAccount("list");
    const endpoint = await newEndpoint(account, "first", new Date("2025-01-01T00:00:00Z"));
    const { key } = await newKey(account, "k", createEmptyScopes(), new Date("2025-01-02T00:00:00Z"));
    await renameEndpoint(account, endpoint, "second", { type: "api_key", keyId: key.id }, new Date("2025-01-03T00:00:00Z"));
    // Someone else's change in between must not appear.
    await newEndpoint(accountB, "b's", new Date("2025-01-02T12:00:00Z"));

    const page = await listAuditLog(account, { page: 1 });
    expect(page).toEqual({
      page: 1,
      pageSize: 50,
      total: 3,
      hasNext: false,
      entries: [
        {
          id: expect.any(String),
          createdAt: new Date("2025-01-03T00:00:00Z"),
          action: "endpoint.renamed",
          target: { type: "endpoint", id: endpoint, name: "second" },
          details: { from: "first", to: "second" },
          actor: { type: "api_key", keyId: key.id, keyName: "k" },
        },
        {
          id: expect.any(String),
          createdAt: new Date("2025-01-02T00:00:00Z"),
          action: "api_key.created",
          target: { type: "api_key", id: key.id, name: "k" },
          details: { kind: "scoped", scopes: { graphql: "none", endpointsAll: "none", endpoints: [] }, expiresAt: null },
          actor: { type: "dashboard" },
        },
        {
          id: expect.any(String),
          createdAt: new Date("2025-01-01T00:00:00Z"),
          action: "endpoint.created",
          target: { type: "endpoint", id: endpoint, name: "first" },
          details: {},
          actor: { type: "dashboard" },
        },
      ],
    });
  });

  it("B never sees A's entries; an account without changes, or an unknown one, has none", async () => {
    const idsOfA = new Set((await rawRows("SELECT id FROM audit_log WHERE account_id = ?", [accountA])).map((row) => String(row.id)));
    expect(idsOfA.size).toBeGreaterThan(10);
    const ofB = await listAuditLog(accountB, { page: 1, pageSize: 200 });
    expect(ofB.entries.length).toBeGreaterThan(0);
    expect(ofB.entries.filter((entry) => idsOfA.has(entry.id))).toEqual([]);
    expect(ofB.total).toBe(await countRows("audit_log", "account_id = ?", [accountB]));

    expect(await listAuditLog(await newAccount("quiet"), { page: 1 })).toEqual({ entries: [], page: 1, pageSize: 50, total: 0, hasNext: false });
    expect((await listAuditLog("nosuchaccount000", { page: 1 })).entries).toEqual([]);
  });

  it("entries of the same millisecond list in the order they were written, newest first", async () => {
    const account = await newAccount("same-ms");
    const at = new Date("2025-05-05T05:05:05.005Z");
    const id = await newEndpoint(account, "n0", at);
    for (let i = 1; i <= 4; i++) await renameEndpoint(account, id, `n${i}`, { type: "dashboard" }, at);
    const { entries } = await listAuditLog(account, { page: 1 });
    expect(entries.map((entry) => entry.target.name)).toEqual(["n4", "n3", "n2", "n1", "n0"]);
  });

  it("paginates: pages of pageSize, hasNext, total; junk pages read as page 1; past the end is empty", async () => {
    const account = await newAccount("pages");
    const id = await newEndpoint(account, "p0", new Date(Date.UTC(2025, 0, 1)));
    for (let i = 1; i <= 6; i++) await renameEndpoint(account, id, `p${i}`, { type: "dashboard" }, new Date(Date.UTC(2025, 0, 1 + i)));
    const names = async (page: number) => (await listAuditLog(account, { page, pageSize: 3 })).entries.map((entry) => entry.target.name);

    expect(await names(1)).toEqual(["p6", "p5", "p4"]);
    expect(await names(2)).toEqual(["p3", "p2", "p1"]);
    expect(await names(3)).toEqual(["p0"]);
    expect(await names(4)).toEqual([]);
    expect(await listAuditLog(account, { page: 2, pageSize: 3 })).toMatchObject({ page: 2, pageSize: 3, total: 7, hasNext: true });
    expect(await listAuditLog(account, { page: 3, pageSize: 3 })).toMatchObject({ page: 3, total: 7, hasNext: false });
    // Exactly a full last page: no next page.
    expect(await listAuditLog(account, { page: 1, pageSize: 7 })).toMatchObject({ hasNext: false });

    for (const junk of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await listAuditLog(account, { page: junk, pageSize: 3 })).toMatchObject({ page: 1, total: 7 });
    }
    expect(await listAuditLog(account, { page: Number.MAX_SAFE_INTEGER, pageSize: 3 })).toMatchObject({ entries: [], hasNext: false, total: 7 });
    // A junk page size falls back to the default; a huge one is capped.
    expect(await listAuditLog(account, { page: 1, pageSize: 0 })).toMatchObject({ pageSize: 50 });
    expect(await listAuditLog(account, { page: 1, pageSize: 10_000 })).toMatchObject({ pageSize: 200 });
  });

  it("an entry this version cannot read is listed as unknown, with its target", async () => {
    const account = await newAccount("future");
    const db = await getDb();
    await db.$client.execute({
      sql: "INSERT INTO audit_log (account_id, created_at, action, target_type, target_id, target_name, details) VALUES (?, ?, 'api_key.renamed', 'api_key', 'key_x', 'x', '{\"to\":\"y\"}'), (?, ?, 'endpoint.renamed', 'endpoint', 'e', 'e', 'not json')",
      args: [account, 1, account, 2],
    });
    const { entries } = await listAuditLog(account, { page: 1 });
    expect(entries.map((entry) => [entry.action, entry.details, entry.target.name])).toEqual([
      ["unknown", null, "e"],
      ["unknown", null, "x"],
    ]);
  });
});

describe("what entries never contain", () => {
  it("no column of any entry holds a plaintext key, its sha256, a hint or a 9-character window of a key", async () => {
    // Make sure every kind of entry exists in this database.
    const { key, plaintext } = await newKey(accountA, "secretive", { graphql: "read", endpointsAll: "none", endpoints: { [whisper]: "read" } });
    await setApiKeyEnabled(accountA, key.id, false, { type: "dashboard" });
    await updateApiKeyScopes(accountA, key.id, { graphql: "read_write", endpointsAll: "read", endpoints: {} }, { type: "dashboard" });
    await deleteApiKey(accountA, key.id, { type: "dashboard" });
    const actions = (await rawRows("SELECT DISTINCT action FROM audit_log ORDER BY action")).map((row) => row.action);
    expect(actions).toEqual(expect.arrayContaining([
      "api_key.created",
      "api_key.deleted",
      "api_key.disabled",
      "api_key.enabled",
      "api_key.legacy_imported",
      "api_key.scopes_changed",
      "endpoint.created",
      "endpoint.deleted",
      "endpoint.renamed",
    ]));

    const hints = (await rawRows("SELECT hint FROM api_keys")).map((row) => String(row.hint));
    const needles = [...secrets, ...hints, formatDisplayHint(plaintext, "scoped")];
    const windows = secrets.filter((secret) => secret.length >= 32).flatMap((secret) => Array.from({ length: secret.length - 8 }, (_, i) => secret.slice(i, i + 9)));
    expect(secrets.length).toBeGreaterThan(30);
    const rows = await rawRows("SELECT * FROM audit_log");
    expect(rows.length).toBeGreaterThan(30);
    const found: string[] = [];
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        const text = String(value);
        for (const needle of [...needles, ...windows]) if (text.includes(needle)) found.push(`${column}: ${needle}`);
      }
    }
    expect(found).toEqual([]);
  });

  it("a DTO carries only id, time, action, target, details and actor", async () => {
    const { entries } = await listAuditLog(accountA, { page: 1, pageSize: 200 });
    for (const entry of entries as AuditLogEntryDto[]) {
      expect(Object.keys(entry).sort()).toEqual(["action", "actor", "createdAt", "details", "id", "target"]);
      expect(Object.keys(entry.target).sort()).toEqual(["id", "name", "type"]);
      if (entry.actor?.type === "api_key") expect(Object.keys(entry.actor).sort()).toEqual(["keyId", "keyName", "type"]);
    }
  });
});

describe("lifetime", () => {
  it("entries go with their account (cascade), and only with it", async () => {
    const account = await newAccount("leaving");
    const id = await newEndpoint(account, "e");
    await deleteEndpoint(account, id, { type: "dashboard" });
    expect(await countRows("audit_log", "account_id = ?", [account])).toBe(2);
    const others = await countRows("audit_log", "account_id <> ?", [account]);
    const db = await getDb();
    await db.$client.execute({ sql: "DELETE FROM accounts WHERE id = ?", args: [account] });
    expect(await countRows("audit_log", "account_id = ?", [account])).toBe(0);
    expect(await countRows("audit_log", "account_id <> ?", [account])).toBe(others);
  });

  it("nothing in this file left a dangling reference", async () => {
    expect(await rawRows("PRAGMA foreign_key_check")).toEqual([]);
  });
});
