import "server-only";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { DecisionCache, type DecisionCacheStats } from "@/lib/core/verify/decision-cache";
import type { KeyStore, StoredElevation, StoredKey } from "@/lib/core/verify/verifier";
import { compileAllowlist, type AddressMatcher } from "@/lib/core/restrictions/addresses";
import { ShareLimiter, type RateWindow } from "@/lib/core/restrictions/rate-limit";
import type { UsageRecorder } from "./usage-recorder";
import type { SqlRunner } from "./sql-runner";

// One statement by the unique hash indexes (the current secret, or the previous one after a
// roll): the key, its override for the endpoint asked about, that endpoint's name if it is the key's
// own account's, the elevations that may still be in force for the request (whether they are is
// decided against the decision's clock; the common case, none at all, costs one index probe and no
// JSON) — and, from the same snapshot, the revision they were read
// at (one row even for an unknown hash, so "unknown" can be cached as well).
function findKeySql(presentedPrevious: string, keyRowid: string): string {
  return `
  SELECT r.revision AS revision,
         k.id AS id, k.account_id AS accountId, k.enabled AS enabled,
         k.graphql_level AS graphqlLevel, k.endpoints_all_level AS endpointsAllLevel,
         (SELECT s.level FROM api_key_endpoint_scopes s WHERE s.key_id = k.id AND s.endpoint_id = ?2) AS endpointOverride,
         (SELECT e.name FROM endpoints e WHERE e.id = ?2 AND e.account_id = k.account_id) AS endpointName,
         k.expires_at AS expiresAt,
         ${presentedPrevious} AS presentedPrevious,
         k.previous_valid_until AS previousValidUntil,
         k.previous_until_first_use AS graceEndsOnFirstUse,
         k.allowed_ips AS allowedIps, k.rate_limit AS rateLimit, k.rate_limit_per AS rateLimitPer,
         CASE WHEN EXISTS (SELECT 1 FROM api_key_elevations x WHERE x.key_id = k.id AND x.ends_at > ?3) THEN
           (SELECT json_group_array(json_array(v.target, v.level, v.ends_at)) FROM api_key_elevations v
            WHERE v.key_id = k.id AND v.ended_at IS NULL AND v.ends_at > ?3
              AND (v.target IN ('graphql', 'endpoints') OR v.target = 'endpoint:' || ?2))
         END AS elevations
  FROM decision_revision r
  LEFT JOIN api_keys k ON k.rowid = ${keyRowid}
  WHERE r.id = 1`;
}

const FIND_KEY = findKeySql(
  "k.key_hash IS NOT ?1",
  `coalesce(
    (SELECT c.rowid FROM api_keys c WHERE c.key_hash = ?1),
    (SELECT p.rowid FROM api_keys p WHERE p.previous_key_hash = ?1))`,
);

// Check access (SPEC §10): the same row by the key's id within its account, as its current secret.
const FIND_KEY_BY_ID = findKeySql("0", "(SELECT c.rowid FROM api_keys c WHERE c.id = ?1 AND c.account_id = ?4)");

// Bumped by triggers on every committed change that can change a decision (migration 0005).
const READ_REVISION = "SELECT revision FROM decision_revision WHERE id = 1";

type Row = {
  revision: number;
  id: string | null;
  accountId: string;
  enabled: number;
  graphqlLevel: AccessLevel;
  endpointsAllLevel: AccessLevel;
  endpointOverride: AccessLevel | null;
  endpointName: string | null;
  expiresAt: number | null;
  presentedPrevious: number;
  previousValidUntil: number | null;
  graceEndsOnFirstUse: number;
  elevations: string | null;
  allowedIps: string | null;
  rateLimit: number | null;
  rateLimitPer: RateWindow | null;
};

/** A stored allowlist, compiled once per distinct list (many cache entries share one key's). */
const matchers = new Map<string, AddressMatcher>();
function allowlistOf(json: string | null): AddressMatcher | null {
  if (json === null) return null;
  let matcher = matchers.get(json);
  if (!matcher) {
    let ranges: unknown;
    try {
      ranges = JSON.parse(json);
    } catch {
      ranges = [];
    }
    // Unreadable stored data allows no address rather than every address.
    matcher = compileAllowlist(Array.isArray(ranges) ? ranges.filter((range): range is string => typeof range === "string") : []);
    if (matchers.size >= 10_000) matchers.clear();
    matchers.set(json, matcher);
  }
  return matcher;
}

const NO_ELEVATIONS: readonly StoredElevation[] = Object.freeze([]);

function parseElevations(json: string | null): readonly StoredElevation[] {
  if (json === null || json === "[]") return NO_ELEVATIONS;
  return (JSON.parse(json) as [string, AccessLevel, number][]).map(([target, level, endsAt]) => ({ target, level, endsAt }));
}

export type KeyStoreCacheOptions = {
  /** Per kind (known keys, unknown hashes); 0 turns the cache off. */
  maxEntries: number;
  /** How often the revision is read for changes committed by other processes. */
  pollMs: number;
  /** This process's own commits (db/commit-signal.ts), on every path that writes. */
  commits: { listen(listener: () => void): () => void };
};

export type DalKeyStore = KeyStore & {
  /** The key as a decision reads it, by id within the account (Check access); never cached. */
  findKeyById(accountId: string, keyId: string, endpointId: string | null): Promise<StoredKey | null>;
  /** The cache's counters; null when there is no cache. */
  readonly cacheStats: DecisionCacheStats | null;
  /** Stops the revision poll and the commit listener. */
  close(): void;
};

function toStoredKey(row: Row & { id: string }): StoredKey {
  return {
    id: row.id,
    accountId: row.accountId,
    enabled: Boolean(row.enabled),
    graphqlLevel: row.graphqlLevel,
    endpointsAllLevel: row.endpointsAllLevel,
    endpointOverride: row.endpointOverride,
    endpointName: row.endpointName,
    expiresAt: row.expiresAt,
    presentedPrevious: Boolean(row.presentedPrevious),
    previousValidUntil: row.previousValidUntil,
    graceEndsOnFirstUse: Boolean(row.graceEndsOnFirstUse),
    elevations: parseElevations(row.elevations),
    allowedAddresses: allowlistOf(row.allowedIps),
    rateRule: row.rateLimit !== null && row.rateLimitPer !== null ? { limit: row.rateLimit, per: row.rateLimitPer } : null,
  };
}

/**
 * Without `cache`, every lookup reads the committed rows. With it, lookups are kept per (hash,
 * endpoint) for as long as the decision revision stays where it was when they were read — never
 * for a length of time:
 * - a write committed by this process marks the cache unconfirmed, and the next lookup reads the
 *   revision (one tiny read) before it answers, so this process's own change applies at once;
 * - a timer reads the revision every `pollMs` for other processes' changes;
 * - whenever the revision has moved, everything is dropped.
 * If the revision cannot be read, nothing is served from the cache until it can.
 */
export function createKeyStore(
  sql: SqlRunner,
  usage: UsageRecorder,
  options: { cache?: KeyStoreCacheOptions; endGrace?: (keyId: string, at: number) => Promise<unknown>; limiter?: ShareLimiter } = {},
): DalKeyStore {
  // Without a limiter shared with the rate-limit sync (lib/dal/rate-limit-sync.ts), this process
  // counts alone: exact for one process.
  const limiter = options.limiter ?? new ShareLimiter();
  // Keys whose grace period is being ended (SPEC §8, `Until the new key is first used`): one write
  // each, off the request path; the commit moves the revision, and the cache re-reads the key.
  const endingGrace = new Set<string>();
  const cacheOptions = options.cache && options.cache.maxEntries > 0 ? options.cache : undefined;
  const cache = cacheOptions ? new DecisionCache<StoredKey>({ maxEntries: cacheOptions.maxEntries }) : undefined;
  // Commits this process has made, and how many of them a revision read has covered since.
  let notified = 0;
  let confirmed = 0;
  let trusted = true;
  let issued = 0;
  let applied = 0;
  let pending: { target: number; done: Promise<void> } | undefined;

  async function load(keyHash: string, endpointId: string | null): Promise<StoredKey | null> {
    const row = await sql.get<Row>(FIND_KEY, [keyHash, endpointId, Date.now()]);
    if (!row) throw new Error("decision_revision has no row: the database is not migrated");
    const key = row.id === null ? null : toStoredKey(row as Row & { id: string });
    if (cache && trusted) cache.set(keyHash, endpointId, key, row.revision);
    return key;
  }

  /** Reads the revision; results are applied in the order the reads were issued. */
  async function check(): Promise<void> {
    const seq = ++issued;
    const target = notified;
    let revision: number | undefined;
    try {
      revision = (await sql.get<{ revision: number }>(READ_REVISION, []))?.revision;
    } catch {
      revision = undefined;
    }
    if (seq < applied) return; // a later read has answered already
    applied = seq;
    if (revision === undefined) {
      cache!.clear();
      trusted = false;
      return;
    }
    cache!.observe(revision);
    trusted = true;
    if (target > confirmed) confirmed = target;
  }

  /** One revision read shared by every lookup waiting for the same commits to be covered. */
  function refresh(): Promise<void> {
    if (!pending || pending.target < notified) {
      const done = check();
      const current = { target: notified, done };
      pending = current;
      void done.finally(() => {
        if (pending === current) pending = undefined;
      });
    }
    return pending.done;
  }

  async function lookupAfterRefresh(keyHash: string, endpointId: string | null): Promise<StoredKey | null> {
    const target = notified;
    await refresh();
    if (!trusted || confirmed < target) return load(keyHash, endpointId);
    const hit = cache!.get(keyHash, endpointId);
    return hit === undefined ? load(keyHash, endpointId) : hit;
  }

  let stop = () => {};
  if (cache && cacheOptions) {
    const unlisten = cacheOptions.commits.listen(() => {
      notified += 1;
    });
    let polling = false;
    const timer = setInterval(() => {
      if (polling) return;
      polling = true;
      void check().finally(() => (polling = false));
    }, cacheOptions.pollMs);
    timer.unref();
    stop = () => {
      clearInterval(timer);
      unlisten();
    };
  }

  return {
    findKeyByHash(keyHash, endpointId) {
      if (!cache || !trusted) return load(keyHash, endpointId);
      if (confirmed < notified) return lookupAfterRefresh(keyHash, endpointId);
      // A hit answers synchronously: no promise, no database.
      const hit = cache.get(keyHash, endpointId);
      return hit === undefined ? load(keyHash, endpointId) : hit;
    },
    async findKeyById(accountId, keyId, endpointId) {
      const row = await sql.get<Row>(FIND_KEY_BY_ID, [keyId, endpointId, Date.now(), accountId]);
      return row && row.id !== null ? toStoredKey(row as Row & { id: string }) : null;
    },
    recordDecision: (keyId, at, resource, via, access, code) => usage.count(keyId, at, resource, via, access, code),
    rateLimit: (keyId, rule, at, mode) =>
      mode === "take" ? limiter.take(keyId, rule, at) : mode === "peek" ? limiter.peek(keyId, rule, at) : limiter.inspect(keyId, rule, at),
    endGraceOnFirstUse(keyId, at) {
      if (!options.endGrace || endingGrace.has(keyId)) return;
      endingGrace.add(keyId);
      options
        .endGrace(keyId, at)
        .catch((error: unknown) => console.error(`grace end failed: ${error instanceof Error ? error.name : "unknown"}`))
        .finally(() => endingGrace.delete(keyId));
    },
    get cacheStats() {
      return cache ? cache.stats : null;
    },
    close: () => stop(),
  };
}
