import "server-only";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import { DecisionCache, type DecisionCacheStats } from "@/lib/core/verify/decision-cache";
import type { KeyStore, StoredKey } from "@/lib/core/verify/verifier";
import type { LastUsedRecorder } from "./last-used";
import type { SqlRunner } from "./sql-runner";

// One statement by the unique hash index: the key, its override for the endpoint asked about, and
// whether that endpoint is the key's own account's — and, from the same snapshot, the revision
// they were read at (one row even for an unknown hash, so "unknown" can be cached as well).
const FIND_KEY = `
  SELECT r.revision AS revision,
         k.id AS id, k.account_id AS accountId, k.enabled AS enabled,
         k.graphql_level AS graphqlLevel, k.endpoints_all_level AS endpointsAllLevel,
         (SELECT s.level FROM api_key_endpoint_scopes s WHERE s.key_id = k.id AND s.endpoint_id = ?2) AS endpointOverride,
         EXISTS (SELECT 1 FROM endpoints e WHERE e.id = ?2 AND e.account_id = k.account_id) AS endpointInAccount
  FROM decision_revision r LEFT JOIN api_keys k ON k.key_hash = ?1
  WHERE r.id = 1`;

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
  endpointInAccount: number;
};

export type KeyStoreCacheOptions = {
  /** Per kind (known keys, unknown hashes); 0 turns the cache off. */
  maxEntries: number;
  /** How often the revision is read for changes committed by other processes. */
  pollMs: number;
  /** This process's own commits (db/commit-signal.ts), on every path that writes. */
  commits: { listen(listener: () => void): () => void };
};

export type DalKeyStore = KeyStore & {
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
    endpointInAccount: Boolean(row.endpointInAccount),
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
export function createKeyStore(sql: SqlRunner, lastUsed: LastUsedRecorder, options: { cache?: KeyStoreCacheOptions } = {}): DalKeyStore {
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
    const row = await sql.get<Row>(FIND_KEY, [keyHash, endpointId]);
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
    recordUse: (keyId, at) => lastUsed.record(keyId, at),
    get cacheStats() {
      return cache ? cache.stats : null;
    },
    close: () => stop(),
  };
}
