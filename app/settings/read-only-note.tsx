/**
 * SPEC §11: why a page shows this member no controls (lib/core/teams/refusals.ts, the same sentence
 * a server action answers with). Nothing when there is no refusal.
 */
export function ReadOnlyNote({ reason, className = "" }: { reason: string | null; className?: string }) {
  if (reason === null) return null;
  return (
    <p role="note" className={`rounded-md border border-zinc-200 bg-zinc-50 px-3 py-2 text-sm text-zinc-700 ${className}`}>
      {reason}
    </p>
  );
}
