const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "just now", "5 minutes ago", "yesterday", "3 months ago"; `now` is passed in so tests are exact. */
export function formatRelativeTime(date: Date, now: Date): string {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.trunc(seconds / size), unit);
  }
  return relative.format(Math.trunc(seconds / 60) || Math.sign(seconds), "minute");
}

/** The exact time, shown on hover: unambiguous whatever the reader's time zone. */
export function formatExactTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

const FUTURE_UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];
/** Counted in days below this, as the expiry choices are ("in 30 days", not "in 1 month"). */
const DAYS_BELOW = 60 * 24 * 3600;
const ahead = new Intl.RelativeTimeFormat("en", { numeric: "always" });

/** Covers the moments between choosing an expiry and seeing it: "7 days" then reads "in 7 days". */
const SLACK_SECONDS = 10;

/**
 * How far ahead an expiry is: "in 1 minute", "in 7 days", "in 3 months", "in 1 year". Whole
 * units rounded down (after a few seconds of slack), so it never reads much later than it is;
 * the exact time goes beside it.
 */
export function formatTimeUntil(date: Date, now: Date): string {
  const seconds = Math.max(0, (date.getTime() - now.getTime()) / 1000) + SLACK_SECONDS;
  for (const [unit, size] of FUTURE_UNITS) {
    if (unit === "month" && seconds < DAYS_BELOW) continue;
    if (seconds >= size) return ahead.format(Math.floor(seconds / size), unit);
  }
  return "in less than a minute";
}
