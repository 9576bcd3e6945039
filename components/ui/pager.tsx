import Link from "next/link";
import { buttonClass } from "./button";

/** `?page=N` for N ≥ 1; anything else (missing, junk, absurdly large) reads as the first page. */
export function pageFrom(value: string | string[] | undefined): number {
  const raw = Array.isArray(value) ? value[0] : value;
  return raw && /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : 1;
}

function PageLink({ href, label, enabled }: { href: string; label: string; enabled: boolean }) {
  if (!enabled) {
    return (
      <span aria-disabled="true" className={buttonClass("secondary", "cursor-not-allowed text-zinc-400")}>
        {label}
      </span>
    );
  }
  return (
    <Link href={href} className={buttonClass("secondary")}>
      {label}
    </Link>
  );
}

/**
 * `Newer` / `Page N of M` / `Older` links under a newest-first list at `path`; nothing when it
 * fits on one page. A page past the end links back to the last one.
 */
export function Pager({ path, label, page, lastPage, hasNext }: { path: string; label: string; page: number; lastPage: number; hasNext: boolean }) {
  if (page <= 1 && !hasNext) return null;
  const hrefOf = (target: number) => (target <= 1 ? path : `${path}?page=${target}`);
  return (
    <nav aria-label={label} className="flex items-center justify-between gap-2">
      <PageLink href={hrefOf(Math.min(page - 1, lastPage))} label="Newer" enabled={page > 1} />
      <span className="text-xs text-zinc-500">
        Page {page} of {lastPage}
      </span>
      <PageLink href={hrefOf(page + 1)} label="Older" enabled={hasNext} />
    </nav>
  );
}
