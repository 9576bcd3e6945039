"use client";

import { AxisBottom, AxisLeft } from "@visx/axis";
import { scaleBand, scaleLinear } from "@visx/scale";
import { BarStack } from "@visx/shape";
import { useEffect, useRef, useState } from "react";
import type { UsageCode } from "@/lib/core/usage/tally";
import { bucketLabel, formatCount, outcomeLabel, type UsageView } from "./usage-model";

// The `Requests` chart (SPEC §10): one stacked bar per hour or day, allowed and each denial code
// apart. Plain SVG from visx, so the server's HTML already holds the whole chart; in the browser
// it is redrawn at its box's width (until then the viewBox scales the server's drawing to fit).

/** One colour per outcome, the same in the chart and its legend. */
export const OUTCOME_COLORS: Record<UsageCode, string> = {
  VALID: "#059669",
  INSUFFICIENT_SCOPE: "#e11d48",
  RATE_LIMITED: "#f59e0b",
  IP_NOT_ALLOWED: "#7c3aed",
  KEY_DISABLED: "#52525b",
  KEY_EXPIRED: "#0284c7",
  NOT_FOUND: "#a16207",
};

/** The width the server draws at: about the page's content width on a laptop. */
const SERVER_WIDTH = 720;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 48 };
/** Room for one axis label ("Dec 31", "23:00"). */
const LABEL_WIDTH = 56;
const AXIS_COLOR = "#a1a1aa";
const TICK_LABEL = { fill: "#52525b", fontSize: 11, fontFamily: "inherit" } as const;

type Bucket = UsageView["buckets"][number];

export function UsageChart({ view, codes, timeZone, label }: { view: UsageView; codes: UsageCode[]; timeZone: string | undefined; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(SERVER_WIDTH);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      const measured = Math.round(entry?.contentRect.width ?? 0);
      if (measured > 0) setWidth(Math.max(240, measured));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const innerWidth = width - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const starts = view.buckets.map((bucket) => bucket.start);
  const bucketTotals = view.buckets.map((bucket) => codes.reduce((sum, code) => sum + (bucket.counts[code] ?? 0), 0));
  const highest = Math.max(1, ...bucketTotals);
  const x = scaleBand<number>({ domain: starts, range: [0, innerWidth], padding: 0.2 });
  const y = scaleLinear<number>({ domain: [0, highest], range: [innerHeight, 0], nice: true });
  // Whole requests only, and few enough labels along the bottom not to overlap.
  const yTicks = y.ticks(4).filter((tick) => Number.isInteger(tick));
  const every = Math.max(1, Math.ceil(starts.length / Math.max(1, Math.floor(innerWidth / LABEL_WIDTH))));
  const xTicks = starts.filter((_, i) => (starts.length - 1 - i) % every === 0);
  const empty = bucketTotals.every((total) => total === 0);

  return (
    <div ref={box} className="w-full">
      <svg
        viewBox={`0 0 ${width} ${HEIGHT}`}
        width="100%"
        className="block h-auto max-w-full"
        role="img"
        aria-label={label}
      >
        <g transform={`translate(${MARGIN.left}, ${MARGIN.top})`}>
          {yTicks.map((tick) => (
            <line key={tick} x1={0} x2={innerWidth} y1={y(tick)} y2={y(tick)} stroke="#e4e4e7" strokeWidth={1} />
          ))}
          <BarStack<Bucket, UsageCode>
            data={view.buckets}
            keys={codes}
            x={(bucket) => bucket.start}
            value={(bucket, code) => bucket.counts[code] ?? 0}
            xScale={x}
            yScale={y}
            color={(code) => OUTCOME_COLORS[code]}
          >
            {(stacks) =>
              stacks.flatMap((stack) =>
                stack.bars
                  .filter((bar) => bar.height > 0)
                  .map((bar) => (
                    <rect key={`${stack.key}-${bar.index}`} x={bar.x} y={bar.y} width={bar.width} height={bar.height} fill={bar.color}>
                      <title>{`${bucketLabel(bar.bar.data.start, view.range, "row", timeZone)}: ${outcomeLabel(stack.key)} ${formatCount(bar.bar.data.counts[stack.key] ?? 0)}`}</title>
                    </rect>
                  )),
              )
            }
          </BarStack>
          <AxisLeft
            scale={y}
            tickValues={yTicks}
            tickFormat={(value) => formatCount(Number(value))}
            stroke={AXIS_COLOR}
            tickStroke={AXIS_COLOR}
            tickLabelProps={{ ...TICK_LABEL, textAnchor: "end", dx: "-0.25em", dy: "0.33em" }}
          />
          <AxisBottom
            top={innerHeight}
            scale={x}
            tickValues={xTicks}
            tickFormat={(start) => bucketLabel(start, view.range, "tick", timeZone)}
            stroke={AXIS_COLOR}
            tickStroke={AXIS_COLOR}
            tickLabelProps={{ ...TICK_LABEL, textAnchor: "middle" }}
          />
          {empty ? (
            <text x={innerWidth / 2} y={innerHeight / 2} textAnchor="middle" fill="#71717a" fontSize={13}>
              No requests in this range
            </text>
          ) : null}
        </g>
      </svg>
    </div>
  );
}
