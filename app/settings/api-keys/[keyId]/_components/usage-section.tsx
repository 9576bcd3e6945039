"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useId, useState, useSyncExternalStore } from "react";
import { buttonClass } from "@/components/ui/button";
import type { UsageRange } from "@/lib/dal/usage";
import { Timestamp } from "../../key-times";
import { OUTCOME_COLORS, UsageChart } from "./usage-chart";
import { USAGE_RANGE_CHOICES, bucketLabel, formatCount, outcomeLabel, usageTable, type UsageView } from "./usage-model";

// SPEC §10 on the key's page: `Requests` (chart, and the same numbers as a table), `Usage by
// resource` and `Download usage`. The server renders the first paint from `initial`; from then on
// the browser asks the usage route every few seconds, so requests counted at the data plane's next
// flush show without a reload.

/** How often the page asks for new counts. With the flush interval (5 s by default) a request shows within about 10 s. */
export const USAGE_POLL_MS = 5_000;

const noSubscription = () => () => {};

/** False on the server and in the render that hydrates its HTML, true after: local time only where it cannot mismatch. */
function useHydrated(): boolean {
  return useSyncExternalStore(
    noSubscription,
    () => true,
    () => false,
  );
}

async function fetchUsage(keyId: string, range: UsageRange): Promise<UsageView> {
  const response = await fetch(`/settings/api-keys/${encodeURIComponent(keyId)}/usage?range=${range}`, {
    cache: "no-store",
    headers: { accept: "application/json" },
  });
  if (response.status === 401) throw new Error("You are signed out: sign in again to see new requests.");
  if (!response.ok) throw new Error("The latest counts could not be loaded; retrying.");
  return (await response.json()) as UsageView;
}

const sectionClass = "rounded-lg border border-zinc-200 bg-white p-4 sm:p-5";
const th = "whitespace-nowrap px-3 py-2 text-xs font-medium text-zinc-500";
const td = "whitespace-nowrap px-3 py-1.5 text-right tabular-nums";

export function UsageSection({ keyId, initial }: { keyId: string; initial: UsageView }) {
  const id = useId();
  const hydrated = useHydrated();
  // Buckets are UTC; hours are named in the reader's own time once the page is live.
  const timeZone = hydrated ? undefined : "UTC";
  const [range, setRange] = useState<UsageRange>(initial.range);
  const query = useQuery({
    queryKey: ["key-usage", keyId, range],
    queryFn: () => fetchUsage(keyId, range),
    initialData: range === initial.range ? initial : undefined,
    initialDataUpdatedAt: initial.now,
    // The other range's numbers stay up while its own load.
    placeholderData: keepPreviousData,
    refetchInterval: USAGE_POLL_MS,
    staleTime: USAGE_POLL_MS - 1_000,
    retry: 1,
  });
  const view = query.data ?? initial;
  const table = usageTable(view.buckets);
  const byHour = view.range === "24h";
  const rangeWords = byHour ? "the last 24 hours, by hour" : "the last 30 days, by day (UTC)";
  const zoneWords = byHour ? (hydrated ? " (your local time)" : " (UTC)") : "";
  const refused = table.total - (table.totals[0] ?? 0);
  const chartLabel =
    `Requests over ${rangeWords}: ${formatCount(table.total)} in all, ${formatCount(table.totals[0] ?? 0)} allowed, ${formatCount(refused)} refused` +
    (table.total > 0 ? ". The table below has each bar's numbers." : ".");
  const now = new Date(view.now);

  return (
    <section aria-labelledby={`${id}-usage`} aria-busy={query.isPlaceholderData} className={sectionClass}>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h2 id={`${id}-usage`} className="text-base font-semibold">
          Usage
        </h2>
        <div className="flex flex-wrap items-center gap-2">
          {/* Native radios (arrow keys move between them), each laid invisibly over its label: a click anywhere on a segment is a click on the radio. */}
          <fieldset className="inline-flex overflow-hidden rounded-md border border-zinc-300 text-sm">
            <legend className="sr-only">Range</legend>
            {USAGE_RANGE_CHOICES.map((choice) => (
              <label
                key={choice.id}
                className="relative cursor-pointer px-3 py-1.5 font-medium text-zinc-700 hover:bg-zinc-100 has-checked:bg-zinc-900 has-checked:text-white has-focus-visible:outline-2 has-focus-visible:-outline-offset-2 has-focus-visible:outline-indigo-500"
              >
                <input
                  type="radio"
                  name={`${id}-range`}
                  value={choice.id}
                  checked={range === choice.id}
                  onChange={() => setRange(choice.id)}
                  className="absolute inset-0 cursor-pointer appearance-none opacity-0"
                />
                {choice.label}
              </label>
            ))}
          </fieldset>
          <a href={`/settings/api-keys/${encodeURIComponent(keyId)}/usage.csv`} download className={buttonClass("secondary")}>
            Download usage
          </a>
        </div>
      </div>

      <h3 id={`${id}-requests`} className="mt-4 text-sm font-semibold">
        Requests
      </h3>
      <p className="text-xs text-zinc-500">
        Over {rangeWords}
        {zoneWords}.
      </p>
      <div className="mt-2">
        <UsageChart view={view} codes={table.codes} timeZone={timeZone} label={chartLabel} />
      </div>
      <ul aria-label="Legend" className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs text-zinc-700">
        {table.codes.map((code) => (
          <li key={code} className="flex items-center gap-1.5">
            <span aria-hidden="true" className="inline-block size-3 rounded-sm" style={{ backgroundColor: OUTCOME_COLORS[code] }} />
            {outcomeLabel(code)}
          </li>
        ))}
      </ul>
      {query.isError ? (
        <p role="status" className="mt-2 text-xs text-amber-800">
          {query.error.message}
        </p>
      ) : null}

      <details className="mt-3">
        <summary className="cursor-pointer text-sm font-medium text-indigo-700">Show as table</summary>
        <div className="mt-2 max-h-96 overflow-auto rounded-md border border-zinc-200">
          <table className="w-full text-sm">
            <caption className="sr-only">
              Requests over {rangeWords}
              {zoneWords}
            </caption>
            <thead className="sticky top-0 bg-zinc-50">
              <tr>
                <th scope="col" className={`${th} text-left`}>
                  {byHour ? "Hour" : "Day"}
                </th>
                {table.codes.map((code) => (
                  <th key={code} scope="col" className={`${th} text-right`}>
                    {outcomeLabel(code)}
                  </th>
                ))}
                <th scope="col" className={`${th} text-right`}>
                  Total
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-100">
              {table.rows.map((row) => (
                <tr key={row.start}>
                  <th scope="row" className="whitespace-nowrap px-3 py-1.5 text-left font-normal text-zinc-700">
                    <time dateTime={new Date(row.start).toISOString()}>{bucketLabel(row.start, view.range, "row", timeZone)}</time>
                  </th>
                  {row.counts.map((count, i) => (
                    <td key={table.codes[i]} className={td}>
                      {formatCount(count)}
                    </td>
                  ))}
                  <td className={`${td} font-medium`}>{formatCount(row.total)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot className="border-t border-zinc-200 bg-zinc-50">
              <tr>
                <th scope="row" className="px-3 py-1.5 text-left font-medium">
                  Total
                </th>
                {table.totals.map((count, i) => (
                  <td key={table.codes[i]} className={`${td} font-medium`}>
                    {formatCount(count)}
                  </td>
                ))}
                <td className={`${td} font-semibold`}>{formatCount(table.total)}</td>
              </tr>
            </tfoot>
          </table>
        </div>
      </details>

      <h3 id={`${id}-resources`} className="mt-6 text-sm font-semibold">
        Usage by resource
      </h3>
      <div className="mt-2 overflow-x-auto rounded-md border border-zinc-200">
        <table aria-labelledby={`${id}-resources`} className="w-full text-sm">
          <thead className="bg-zinc-50">
            <tr>
              <th scope="col" className={`${th} text-left`}>
                Resource
              </th>
              <th scope="col" className={`${th} text-left`}>
                Access
              </th>
              <th scope="col" className={`${th} text-right`}>
                Allowed
              </th>
              <th scope="col" className={`${th} text-right`}>
                Denied
              </th>
              <th scope="col" className={`${th} text-left`}>
                Last seen
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-100">
            {view.resources.length === 0 ? (
              <tr>
                <td colSpan={5} className="px-3 py-3 text-zinc-600">
                  No requests in this range.
                </td>
              </tr>
            ) : (
              view.resources.map((row) => (
                <tr key={row.id}>
                  <th scope="row" className="max-w-64 break-words px-3 py-1.5 text-left font-medium">
                    {row.name}
                  </th>
                  <td className="whitespace-nowrap px-3 py-1.5">{row.access}</td>
                  <td className={td}>{formatCount(row.allowed)}</td>
                  <td className={td}>{formatCount(row.denied)}</td>
                  <td className="whitespace-nowrap px-3 py-1.5 text-zinc-700">
                    <Timestamp date={new Date(row.lastAt)} now={now} />
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
