"use client";

import { usePathname, useRouter } from "next/navigation";
import { SUGGESTION_WINDOWS, type SuggestionWindow } from "@/lib/core/usage/suggest";

/**
 * `Based on`: the suggestion's window, kept in the URL (`?basedOn=7d`) so the server renders the
 * suggestion for it. Without JavaScript the form's own button submits the same search param.
 */
export function BasedOnSelect({ value }: { value: SuggestionWindow }) {
  const router = useRouter();
  const pathname = usePathname();
  return (
    <form method="get" className="flex items-center gap-2" onSubmit={(event) => event.preventDefault()}>
      <label htmlFor="suggestion-based-on" className="text-sm font-medium text-zinc-800">
        Based on
      </label>
      <select
        id="suggestion-based-on"
        name="basedOn"
        value={value}
        onChange={(event) => router.replace(`${pathname}?basedOn=${encodeURIComponent(event.target.value)}`, { scroll: false })}
        className="rounded-md border border-zinc-300 bg-white px-2 py-1 text-sm shadow-xs focus:border-indigo-500"
      >
        {SUGGESTION_WINDOWS.map((window) => (
          <option key={window.id} value={window.id}>
            {window.label}
          </option>
        ))}
      </select>
      <noscript>
        <button type="submit" className="text-sm underline">
          Show
        </button>
      </noscript>
    </form>
  );
}
