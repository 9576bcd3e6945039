import { EXPIRING_SOON_MS } from "@/lib/core/lifecycle/choices";
import { formatExactTime, formatRelativeTime, formatTimeUntil } from "./relative-time";

// How the list and the key's page show a key's times: relative, with the exact time on hover.

export function Timestamp({ date, now }: { date: Date; now: Date }) {
  return (
    <time dateTime={date.toISOString()} title={formatExactTime(date)} className="whitespace-nowrap">
      {formatRelativeTime(date, now)}
    </time>
  );
}

/**
 * `Never`, `in 3 months`, `Expires in 3 days` (within EXPIRING_SOON_MS: said in words, the colour
 * only repeats it) or `Expired`; `exact` adds the exact time in the text, for the key's page.
 */
export function KeyExpiry({ expiresAt, now, exact = false }: { expiresAt: Date | null; now: Date; exact?: boolean }) {
  if (!expiresAt) return <>Never</>;
  const title = formatExactTime(expiresAt);
  const suffix = exact ? <span className="text-zinc-500"> ({title})</span> : null;
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) {
    return (
      <span className="font-medium text-red-700">
        <time dateTime={expiresAt.toISOString()} title={title}>
          Expired
        </time>
        {suffix}
      </span>
    );
  }
  const when = (
    <time dateTime={expiresAt.toISOString()} title={title} className="whitespace-nowrap">
      {formatTimeUntil(expiresAt, now)}
    </time>
  );
  if (left <= EXPIRING_SOON_MS) {
    return (
      <span>
        <span className="whitespace-nowrap rounded bg-amber-100 px-1.5 py-0.5 font-medium text-amber-900">Expires {when}</span>
        {suffix}
      </span>
    );
  }
  return (
    <span>
      {when}
      {suffix}
    </span>
  );
}
