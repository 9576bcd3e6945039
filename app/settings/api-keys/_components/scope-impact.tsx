"use client";

import type { KeyScopes } from "@/lib/core/scopes/evaluate";
import { IMPACT_WINDOW_DAYS, impactOfScopes } from "@/lib/core/usage/impact";
import type { UsageEndpoint } from "@/lib/core/usage/suggest";
import type { UsageTally } from "@/lib/core/usage/tally";

function requests(count: number): string {
  return `${count.toLocaleString("en-US")} ${count === 1 ? "request" : "requests"}`;
}

/**
 * The impact preview in `Edit scopes` (SPEC §10): of the key's allowed requests over the last
 * 7 days, how many `scopes` would have refused, by resource, recomputed in the browser as the
 * radios change. With `current` (the key's scopes as saved), requests that passed only through
 * an elevation are left out: the edit would not be what refuses them.
 */
export function ScopeImpact({
  scopes,
  current,
  endpoints,
  tallies,
}: {
  scopes: KeyScopes;
  current: KeyScopes;
  endpoints: readonly UsageEndpoint[];
  tallies: readonly UsageTally[];
}) {
  const impact = impactOfScopes({ scopes, current, endpoints, tallies });
  return (
    <div role="status" aria-live="polite" aria-atomic="true" className={`rounded-md p-3 text-sm ${impact.total > 0 ? "bg-amber-50 text-amber-900" : "bg-zinc-50 text-zinc-700"}`}>
      {impact.total === 0 ? (
        <p>No request of the last {IMPACT_WINDOW_DAYS} days would have been refused.</p>
      ) : (
        <>
          <p>
            With these scopes, <span className="font-semibold">{impact.total.toLocaleString("en-US")}</span> of the last {IMPACT_WINDOW_DAYS} days&apos;
            requests would have been refused:
          </p>
          <ul aria-label="Refused by resource" className="mt-1 list-disc pl-5">
            {impact.byResource.map((line) => (
              <li key={line.resource} className="break-words">
                {line.name}: {requests(line.refused)}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
