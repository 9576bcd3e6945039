import "server-only";
import { and, eq, gt, inArray, or, sql } from "drizzle-orm";
import { getDb } from "@/db/handle";
import { apiKeys, auditLog } from "@/db/schema";
import { actorJson, auditSelection, type AuditActor } from "./audit-log";
import { fail, ok, type DalResult } from "./result";
import { runWriteBatch, runWriteBatchResults } from "./write-batch";

// SPEC §9 leak reports. A scanner is not an account: a report names tokens, and a token's hash
// finds its key in whichever account holds it, as a verification does. Every write below still
// names the key's account beside its id.

/** One finding as the route hands it over: the token's SHA-256 (never the token) and where it was found. */
export type LeakReport = { hash: string; url: string; source: string; type: string };

const SCANNER: AuditActor = { type: "scanner" };
const NOT_FOUND = "API key not found.";

/**
 * Disables every key one of `reports` names, records the leak on it (when, the url and source;
 * the dashboard's banner shows again even if an earlier one was dismissed) and writes its audit
 * entry `api_key.leaked` — all in one write batch, so no key is disabled without its entry, nor
 * the other way round. A key already disabled is still marked and audited: it was leaked all the
 * same. A key named several times (the same token twice, or both its secrets) is changed and
 * audited once, for its first report. Answers the hashes that named a key.
 */
export async function reportLeaks(reports: LeakReport[], now = new Date()): Promise<Set<string>> {
  const hashes = [...new Set(reports.map((report) => report.hash))];
  if (hashes.length === 0) return new Set();
  const db = await getDb();
  const keys = await db
    .select({
      id: apiKeys.id,
      accountId: apiKeys.accountId,
      keyHash: apiKeys.keyHash,
      previousKeyHash: apiKeys.previousKeyHash,
      previousValidUntil: apiKeys.previousValidUntil,
    })
    .from(apiKeys)
    .where(or(inArray(apiKeys.keyHash, hashes), and(inArray(apiKeys.previousKeyHash, hashes), gt(apiKeys.previousValidUntil, now))));
  if (keys.length === 0) return new Set();

  const byHash = new Map<string, (typeof keys)[number]>();
  for (const key of keys) {
    byHash.set(key.keyHash, key);
    // A previous secret whose grace period is over verifies nothing: it is no key any more.
    if (key.previousKeyHash !== null && (key.previousValidUntil?.getTime() ?? 0) > now.getTime()) byHash.set(key.previousKeyHash, key);
  }
  // Each key with its first report, in the reports' order.
  const changes = new Map<string, [keyId: string, accountId: string, hash: string, url: string, source: string, type: string]>();
  for (const report of reports) {
    const key = byHash.get(report.hash);
    if (key && !changes.has(key.id)) changes.set(key.id, [key.id, key.accountId, report.hash, report.url, report.source, report.type]);
  }

  // Two statements however many keys (one per key took ~1 ms each, holding the write lock): the
  // changes as a table, joined to each key by id and account. The secret is matched again inside
  // the batch, so a key deleted or rolled past its grace period since the read is left alone.
  const leak = sql`(SELECT key AS ord, value ->> '$[0]' AS key_id, value ->> '$[1]' AS account_id, value ->> '$[2]' AS hash,
    value ->> '$[3]' AS url, value ->> '$[4]' AS source, value ->> '$[5]' AS type FROM json_each(${JSON.stringify([...changes.values()])})) AS leak`;
  const joined = sql`${apiKeys.id} = leak.key_id AND ${apiKeys.accountId} = leak.account_id
    AND (${apiKeys.keyHash} = leak.hash OR (${apiKeys.previousKeyHash} = leak.hash AND ${apiKeys.previousValidUntil} > ${now.getTime()}))`;
  const [, updated] = await runWriteBatchResults(db, [
    // Before the update, to record whether each key was enabled.
    db.insert(auditLog).select(
      db
        .select(
          auditSelection(now, "api_key.leaked", "api_key", {
            accountId: apiKeys.accountId,
            targetId: apiKeys.id,
            targetName: apiKeys.name,
            details: sql<string>`json_object(
              'kind', ${apiKeys.kind},
              'secret', CASE WHEN ${apiKeys.keyHash} = leak.hash THEN 'current' ELSE 'previous' END,
              'url', leak.url, 'source', leak.source, 'type', leak.type,
              'previouslyEnabled', json(CASE WHEN ${apiKeys.enabled} THEN 'true' ELSE 'false' END))`,
            actor: actorJson("", SCANNER),
          }),
        )
        .from(apiKeys)
        .innerJoin(leak, joined)
        .orderBy(sql`leak.ord`),
    ),
    db
      .update(apiKeys)
      .set({ enabled: false, leakedAt: now, leakUrl: sql`leak.url`, leakSource: sql`leak.source`, leakDismissedAt: null })
      .from(leak)
      .where(joined)
      .returning({ id: apiKeys.id }),
  ]);
  const disabled = new Set(updated?.rows.map((row) => String(row.id)));
  return new Set(hashes.filter((hash) => disabled.has(byHash.get(hash)?.id ?? "")));
}

/**
 * Hides the dashboard's banner about the key's leak until the key is reported again. The key stays
 * marked leaked (its row still says so). Succeeds, changing nothing, for a key never reported.
 */
export async function dismissLeakBanner(accountId: string, keyId: string, now = new Date()): Promise<DalResult<{ id: string }>> {
  const db = await getDb();
  const [updated] = await runWriteBatch(db, [
    db
      .update(apiKeys)
      .set({ leakDismissedAt: sql`CASE WHEN ${apiKeys.leakedAt} IS NULL THEN NULL ELSE coalesce(${apiKeys.leakDismissedAt}, ${now.getTime()}) END` })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId))),
  ]);
  return updated ? ok({ id: keyId }) : fail("NOT_FOUND", NOT_FOUND);
}
