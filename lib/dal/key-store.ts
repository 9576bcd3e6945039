import "server-only";
import type { AccessLevel } from "@/lib/core/scopes/levels";
import type { KeyStore, StoredKey } from "@/lib/core/verify/verifier";
import type { LastUsedRecorder } from "./last-used";
import type { SqlRunner } from "./sql-runner";

// One statement by the unique hash index: the key, its override for the endpoint asked about,
// and whether that endpoint is the key's own account's.
const FIND_KEY = `
  SELECT k.id AS id, k.account_id AS accountId, k.enabled AS enabled,
         k.graphql_level AS graphqlLevel, k.endpoints_all_level AS endpointsAllLevel,
         (SELECT s.level FROM api_key_endpoint_scopes s WHERE s.key_id = k.id AND s.endpoint_id = ?2) AS endpointOverride,
         EXISTS (SELECT 1 FROM endpoints e WHERE e.id = ?2 AND e.account_id = k.account_id) AS endpointInAccount
  FROM api_keys k WHERE k.key_hash = ?1`;

type Row = {
  id: string;
  accountId: string;
  enabled: number;
  graphqlLevel: AccessLevel;
  endpointsAllLevel: AccessLevel;
  endpointOverride: AccessLevel | null;
  endpointInAccount: number;
};

/**
 * No cache: every request reads the committed row, so disabling, deleting or narrowing a key
 * takes effect on the very next request in every process serving the database.
 */
export function createKeyStore(sql: SqlRunner, lastUsed: LastUsedRecorder): KeyStore {
  return {
    async findKeyByHash(keyHash, endpointId): Promise<StoredKey | null> {
      const row = await sql.get<Row>(FIND_KEY, [keyHash, endpointId]);
      if (!row) return null;
      return {
        id: row.id,
        accountId: row.accountId,
        enabled: Boolean(row.enabled),
        graphqlLevel: row.graphqlLevel,
        endpointsAllLevel: row.endpointsAllLevel,
        endpointOverride: row.endpointOverride,
        endpointInAccount: Boolean(row.endpointInAccount),
      };
    },
    recordUse: (keyId, at) => lastUsed.record(keyId, at),
  };
}
