import "server-only";
import { and, eq, or, sql } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { apiKeys } from "@/db/schema";
import { normalizeRestrictions, type RestrictionsInput } from "@/lib/core/restrictions/restrictions";
import { auditKey, getApiKey, type ApiKeyDto } from "./api-keys";
import { outer, type AuditActor } from "./audit-log";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch } from "./write-batch";

// SPEC §9: a key's allowlist and rate limit. The decision path reads these columns through the key
// store, whose cache follows the decision revision (a trigger moves it when they change).

const NOT_FOUND = "API key not found.";

/**
 * Replaces a key's restrictions as a whole (legacy keys included): the allowlist as
 * lib/core/restrictions/addresses.ts normalises it (null when empty: any address), and the rate
 * limit with its window (both null: none). A bad line or limit is refused and nothing is saved.
 * Saving what the key already has records nothing.
 */
export async function setApiKeyRestrictions(
  accountId: string,
  keyId: string,
  input: RestrictionsInput,
  actor: AuditActor,
  now = new Date(),
): Promise<DalResult<ApiKeyDto>> {
  const normalized = normalizeRestrictions(input);
  if (!normalized.ok) return fail("BAD_REQUEST", normalized.message);
  const { allowedIps, rateLimit } = normalized.restrictions;
  const stored = {
    allowedIps: allowedIps === null ? null : JSON.stringify(allowedIps),
    rateLimit: rateLimit?.limit ?? null,
    rateLimitPer: rateLimit?.per ?? null,
  };
  const db = await getDb();
  // Both sides in one shape; the driver binds a JS number as a real, hence the cast (100, not 100.0).
  const before = sql<string>`json_object('allowedIps', json(${outer(apiKeys.allowedIps)}), 'rateLimit', ${outer(apiKeys.rateLimit)}, 'per', ${outer(apiKeys.rateLimitPer)})`;
  const after = sql<string>`json_object('allowedIps', json(${stored.allowedIps}), 'rateLimit', CAST(${stored.rateLimit} AS INTEGER), 'per', ${stored.rateLimitPer})`;
  const changed = or(
    sql`${apiKeys.allowedIps} IS NOT ${stored.allowedIps}`,
    sql`${apiKeys.rateLimit} IS NOT ${stored.rateLimit}`,
    sql`${apiKeys.rateLimitPer} IS NOT ${stored.rateLimitPer}`,
  );
  const [, updated] = await runWriteBatch(db, [
    // Before the update, to read what it replaces.
    auditKey(db, now, actor, "api_key.restrictions_changed", accountId, keyId, sql<string>`json_object('before', json(${before}), 'after', json(${after}))`, changed),
    db
      .update(apiKeys)
      .set(stored)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId))),
  ]);
  if (!updated) return fail("NOT_FOUND", NOT_FOUND);
  const key = await getApiKey(accountId, keyId, now);
  return key ? ok(key) : fail("NOT_FOUND", NOT_FOUND);
}
