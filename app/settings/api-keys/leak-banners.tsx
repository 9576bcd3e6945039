import Link from "next/link";
import type { ApiKeyDto } from "@/lib/dal/api-keys";
import { DismissLeakButton } from "./_components/dismiss-leak-button";
import { formatExactTime } from "./relative-time";

// SPEC §9: one banner per key a scanner reported, newest report first, until dismissed.

/** The url as a link only when it is one a browser can safely follow; anything else is text. */
function Where({ url }: { url: string }) {
  let link = false;
  try {
    link = ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    // Not a URL: shown as given.
  }
  if (!link) return <span className="break-all font-medium">{url}</span>;
  return (
    <a href={url} rel="noreferrer noopener" target="_blank" className="break-all font-medium underline underline-offset-2">
      {url}
    </a>
  );
}

/** `changeable`: the keys this member may change (SPEC §11); only theirs get `Dismiss`. */
export function LeakBanners({ keys, changeable }: { keys: ApiKeyDto[]; changeable: ReadonlySet<string> }) {
  const leaked = keys
    .flatMap((key) => (key.leak && !key.leak.dismissed ? [{ key, leak: key.leak }] : []))
    .sort((a, b) => b.leak.at.getTime() - a.leak.at.getTime());
  if (leaked.length === 0) return null;
  return (
    <div className="flex flex-col gap-2">
      {leaked.map(({ key, leak }) => (
        <div
          key={key.id}
          role="status"
          className="flex flex-col gap-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900 sm:flex-row sm:items-center sm:justify-between"
        >
          <p className="min-w-0">
            Key &quot;{key.name}&quot; was reported leaked{leak.url ? <> at <Where url={leak.url} /></> : null} and has been disabled.{" "}
            <Link href={`/settings/api-keys/${key.id}`} className="font-medium underline underline-offset-2">
              Roll it
            </Link>{" "}
            before using it again.
            <span className="block text-xs text-red-800" title={formatExactTime(leak.at)}>
              Reported {formatExactTime(leak.at)}
              {leak.source ? ` (${leak.source})` : ""}
            </span>
          </p>
          {changeable.has(key.id) ? <DismissLeakButton keyId={key.id} /> : null}
        </div>
      ))}
    </div>
  );
}
