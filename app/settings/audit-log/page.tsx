import type { Metadata } from "next";
import Link from "next/link";
import { Pager, pageFrom } from "@/components/ui/pager";
import { AUDIT_LOG_PAGE_SIZE, listAuditLog, type AuditLogEntryDto } from "@/lib/dal/audit-log";
import { requireAccount } from "@/lib/auth/session";
import { formatExactTime, formatRelativeTime } from "../api-keys/relative-time";
import { noteLifecycleEnds } from "../record-lifecycle-ends";
import { describeActor, describeEntry, describeScopes } from "./describe-entry";

export const metadata: Metadata = { title: "Audit log" };

const PATH = "/settings/audit-log";

function EntryItem({ entry, now }: { entry: AuditLogEntryDto; now: Date }) {
  const actor = describeActor(entry.actor);
  return (
    <li className="flex flex-col gap-1 px-4 py-3 sm:flex-row sm:items-start sm:gap-4">
      <div className="min-w-0 flex-1">
        <p className="break-words text-sm text-zinc-900">{describeEntry(entry)}</p>
        {entry.action === "api_key.scopes_changed" ? (
          <details className="mt-1 text-xs text-zinc-600">
            <summary className="cursor-pointer select-none text-zinc-500 hover:text-zinc-700">Before and after</summary>
            <dl className="mt-1 grid grid-cols-[auto_1fr] gap-x-2 gap-y-0.5">
              <dt className="font-medium">Before</dt>
              <dd className="break-words">{describeScopes(entry.details.before)}</dd>
              <dt className="font-medium">After</dt>
              <dd className="break-words">{describeScopes(entry.details.after)}</dd>
            </dl>
          </details>
        ) : null}
      </div>
      <div className="flex shrink-0 flex-wrap items-baseline gap-x-2 text-xs text-zinc-500 sm:pt-0.5">
        <time dateTime={entry.createdAt.toISOString()} title={formatExactTime(entry.createdAt)}>
          {formatRelativeTime(entry.createdAt, now)}
        </time>
        {actor ? <span className="break-all text-zinc-400">{actor}</span> : null}
      </div>
    </li>
  );
}

export default async function AuditLogPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const account = await requireAccount();
  // Elevations and grace periods that ran out are written in at the time they ended, before listing.
  await noteLifecycleEnds();
  const requested = pageFrom((await searchParams).page);
  const { entries, page, pageSize, total, hasNext } = await listAuditLog(account.id, { page: requested, pageSize: AUDIT_LOG_PAGE_SIZE });
  const lastPage = Math.max(1, Math.ceil(total / pageSize));
  const first = (page - 1) * pageSize + 1;
  const now = new Date();

  return (
    <section className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Audit log</h1>
        <p className="mt-1 max-w-2xl text-sm text-zinc-600">
          Every change to this account&apos;s API keys and endpoints, newest first. Entries stay when the key or endpoint they name
          is deleted.
        </p>
      </div>

      {total === 0 ? (
        <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">
          No changes recorded yet.
        </div>
      ) : entries.length === 0 ? (
        <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">
          No entries on this page.{" "}
          <Link href={PATH} className="font-medium text-zinc-900 underline">
            Show the newest entries
          </Link>
        </div>
      ) : (
        <>
          <p className="text-xs text-zinc-500" aria-live="polite">
            {first}–{first + entries.length - 1} of {total}
          </p>
          <ol aria-label="Audit log entries" className="divide-y divide-zinc-100 rounded-lg border border-zinc-200 bg-white">
            {entries.map((entry) => (
              <EntryItem key={entry.id} entry={entry} now={now} />
            ))}
          </ol>
        </>
      )}

      <Pager path={PATH} label="Audit log pages" page={page} lastPage={lastPage} hasNext={hasNext} />
    </section>
  );
}
