import "server-only";
import { listEndpoints } from "@/lib/dal/endpoints";
import { getUsageByResource, getUsageSeries, type UsageRange } from "@/lib/dal/usage";
import { accessLabel, resourceName, type UsageView } from "./usage-model";

/**
 * The key's usage over `range` for its page and for the polling route alike. The caller has
 * checked that the key is the account's; every query here carries the account id too.
 * `Usage by resource` covers the chart's buckets exactly, so the two tables add up alike.
 */
export async function loadUsageView(
  accountId: string,
  keyId: string,
  range: UsageRange,
  /** The account's endpoints, to name resources: the key page has them already; null reads them. */
  knownEndpoints: readonly { id: string; name: string }[] | null = null,
  now = Date.now(),
): Promise<UsageView> {
  const series = await getUsageSeries(accountId, keyId, range, now);
  const since = series.buckets[0]?.start ?? now;
  const [byResource, endpoints] = await Promise.all([getUsageByResource(accountId, keyId, since, now), knownEndpoints ?? listEndpoints(accountId)]);
  const names = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint.name]));
  return {
    range,
    now,
    bucketMs: series.bucketMs,
    buckets: series.buckets,
    resources: byResource.map((row) => ({
      id: `${row.via}:${row.access}:${row.resource}`,
      name: resourceName(row.resource, row.via, names),
      access: accessLabel(row.access),
      allowed: row.allowed,
      denied: row.denied,
      lastAt: row.lastAt,
    })),
  };
}
