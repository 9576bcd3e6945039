import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { HOUR_MS } from "@/lib/core/usage/tally";
import type { UsageView } from "./usage-model";
import { UsageSection } from "./usage-section";

// The first paint is the server's: the chart must be whole SVG in the HTML (no script needed to
// see it), with the table and `Usage by resource` beside it.

const T0 = Date.UTC(2026, 11, 1, 0);

function view(over: Partial<UsageView> = {}): UsageView {
  return {
    range: "24h",
    now: T0 + 23 * HOUR_MS + 10 * 60_000,
    bucketMs: HOUR_MS,
    buckets: Array.from({ length: 24 }, (_, i) => ({ start: T0 + i * HOUR_MS, counts: {} })),
    resources: [],
    ...over,
  };
}

function render(initial: UsageView): string {
  const client = new QueryClient();
  return renderToStaticMarkup(createElement(QueryClientProvider, { client }, createElement(UsageSection, { keyId: "key_1", initial })));
}

function cellsOf(row: string): string[] {
  return [...row.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((match) => match[1]!.replace(/<[^>]+>/g, ""));
}

describe("UsageSection on the server", () => {
  const buckets = view().buckets.map((bucket, i) =>
    i === 21 ? { ...bucket, counts: { VALID: 1500, INSUFFICIENT_SCOPE: 2 } } : i === 23 ? { ...bucket, counts: { VALID: 4 } } : bucket,
  );
  const markup = render(
    view({
      buckets,
      resources: [{ id: "api:read:graphql", name: "GraphQL", access: "Read", allowed: 1504, denied: 2, lastAt: T0 + 23 * HOUR_MS + 5 * 60_000 }],
    }),
  );

  it("draws the chart as SVG: one bar segment per non-zero outcome of a bucket, each in its outcome's colour", () => {
    const svg = /<svg[^>]*role="img"[^>]*>([\s\S]*?)<\/svg>/.exec(markup);
    expect(svg).not.toBeNull();
    const rects = [...svg![1]!.matchAll(/<rect [^>]*fill="([^"]+)"[^>]*><title>([^<]*)<\/title>/g)].map((match) => [match[1], match[2]]);
    expect(rects).toEqual([
      ["#059669", "Dec 1, 21:00: Allowed 1,500"],
      ["#059669", "Dec 1, 23:00: Allowed 4"],
      ["#e11d48", "Dec 1, 21:00: INSUFFICIENT_SCOPE 2"],
    ]);
    expect(svg![0]).toContain('aria-label="Requests over the last 24 hours, by hour: 1,506 in all, 1,504 allowed, 2 refused. The table below has each bar');
  });

  it("has the range choices, the table of the same numbers and the download link", () => {
    expect(markup).toMatch(/<input type="radio"(?=[^>]*checked="")[^>]*value="24h"[^>]*\/>24 hours<\/label>/);
    expect(markup).toMatch(/<input type="radio"(?![^>]*checked)[^>]*value="30d"[^>]*\/>30 days<\/label>/);
    expect(markup).toContain('<a href="/settings/api-keys/key_1/usage.csv" download=""');
    const table = /<table class="w-full text-sm"><caption[^>]*>([\s\S]*?)<\/caption>([\s\S]*?)<\/table>/.exec(markup);
    expect(table?.[1]).toBe("Requests over the last 24 hours, by hour (UTC)");
    const rows = [...table![2]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((match) => cellsOf(match[1]!));
    expect(rows[0]).toEqual(["Hour", "Allowed", "INSUFFICIENT_SCOPE", "Total"]);
    expect(rows).toHaveLength(1 + 24 + 1);
    expect(rows[1 + 21]).toEqual(["Dec 1, 21:00", "1,500", "2", "1,502"]);
    expect(rows[1 + 22]).toEqual(["Dec 1, 22:00", "0", "0", "0"]);
    expect(rows.at(-1)).toEqual(["Total", "1,504", "2", "1,506"]);
  });

  it("lists Usage by resource with its five columns", () => {
    const table = /<table aria-labelledby="[^"]+" class="w-full text-sm">([\s\S]*?)<\/table>/.exec(markup);
    const rows = [...table![1]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((match) => cellsOf(match[1]!));
    expect(rows).toEqual([
      ["Resource", "Access", "Allowed", "Denied", "Last seen"],
      ["GraphQL", "Read", "1,504", "2", "5 minutes ago"],
    ]);
  });

  it("says so when the range has no requests", () => {
    const empty = render(view());
    expect(empty).toContain("No requests in this range</text>");
    expect(empty).toContain("No requests in this range.</td>");
    expect(empty).not.toMatch(/<rect [^>]*fill=/);
  });

  it("names 30 days by their UTC dates", () => {
    const days = render(
      view({ range: "30d", bucketMs: 86_400_000, buckets: Array.from({ length: 30 }, (_, i) => ({ start: T0 + i * 86_400_000, counts: { VALID: 1 } })) }),
    );
    expect(days).toContain("Requests over the last 30 days, by day (UTC)</caption>");
    expect(days).toContain(">Tue, Dec 1</time>");
    expect(days).toContain(">Wed, Dec 30</time>");
  });
});
