import type { Metadata } from "next";
import Link from "next/link";
import { Pager, pageFrom } from "@/components/ui/pager";
import { requireAccount } from "@/lib/auth/session";
import { DELIVERIES_PAGE_SIZE, listDeliveries, listWebhooks, type DeliveryStatus, type WebhookDeliveryDto } from "@/lib/dal/webhooks";
import { Timestamp } from "../api-keys/key-times";
import { formatExactTime, formatTimeUntil } from "../api-keys/relative-time";
import { noteLifecycleEnds } from "../record-lifecycle-ends";
import { AddWebhookDialog } from "./_components/add-webhook-dialog";
import { DeleteWebhookButton } from "./_components/delete-webhook-button";
import { RefreshWhilePending } from "./_components/refresh-while-pending";
import { permissionRefusal } from "@/lib/core/teams/refusals";
import { ReadOnlyNote } from "../read-only-note";

export const metadata: Metadata = { title: "Webhooks" };

const PATH = "/settings/webhooks";

const STATUS: Record<DeliveryStatus, { label: string; className: string }> = {
  pending: { label: "Pending", className: "bg-amber-100 text-amber-900" },
  succeeded: { label: "Delivered", className: "bg-emerald-100 text-emerald-900" },
  failed: { label: "Failed", className: "bg-red-100 text-red-800" },
};

/** Where a delivery went, without the scheme and query, for telling webhooks apart in one table. */
function targetOf(url: string): string {
  try {
    const { host, pathname } = new URL(url);
    return pathname === "/" ? host : `${host}${pathname}`;
  } catch {
    return url;
  }
}

// Below the md breakpoint each row stacks into a card; explicit roles keep it a table for assistive tech.
const cell = "block px-4 py-1 md:table-cell md:py-3 md:align-top";
const cellLabel = "mr-2 text-xs font-medium text-zinc-500 md:hidden";

function DeliveryRow({ delivery, now }: { delivery: WebhookDeliveryDto; now: Date }) {
  const status = STATUS[delivery.status];
  return (
    <tr role="row" className="block py-2 md:table-row md:py-0">
      <td role="cell" className={cell}>
        <code className="font-mono text-xs font-medium text-zinc-900">{delivery.event}</code>
        <div className="truncate text-xs text-zinc-500" title={delivery.webhookUrl}>
          {targetOf(delivery.webhookUrl)}
        </div>
      </td>
      <td role="cell" className={cell}>
        <span className={cellLabel}>Status</span>
        <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${status.className}`}>{status.label}</span>
        {delivery.nextAttemptAt && delivery.attempts > 0 ? (
          <div className="mt-1 text-xs text-zinc-500">
            Next try{" "}
            <time dateTime={delivery.nextAttemptAt.toISOString()} title={formatExactTime(delivery.nextAttemptAt)}>
              {formatTimeUntil(delivery.nextAttemptAt, now)}
            </time>
          </div>
        ) : null}
      </td>
      <td role="cell" className={`${cell} tabular-nums`}>
        <span className={cellLabel}>Attempts</span>
        {delivery.attempts}
      </td>
      <td role="cell" className={cell}>
        <span className={cellLabel}>Response</span>
        <span className="tabular-nums">{delivery.lastStatus ?? "\u2014"}</span>
        {delivery.lastError ? <div className="mt-1 break-words text-xs text-zinc-500">{delivery.lastError}</div> : null}
      </td>
      <td role="cell" className={`${cell} text-zinc-700`}>
        <span className={cellLabel}>Time</span>
        <Timestamp date={delivery.createdAt} now={now} />
      </td>
    </tr>
  );
}

export default async function WebhooksPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const account = await requireAccount();
  // Keys that expire soon, or have, become events before the deliveries are listed.
  await noteLifecycleEnds();
  const requested = pageFrom((await searchParams).page);
  const [webhooks, { deliveries, page, pageSize, total, hasNext }] = await Promise.all([
    listWebhooks(account.id),
    listDeliveries(account.id, { page: requested, pageSize: DELIVERIES_PAGE_SIZE }),
  ]);
  const lastPage = Math.max(1, Math.ceil(total / pageSize));
  const now = new Date();
  // SPEC §11: every member sees the webhooks and their deliveries; only Owners change them.
  const refusal = permissionRefusal(account.role, "webhooks.manage");

  return (
    <section className="flex flex-col gap-6">
      <RefreshWhilePending pending={deliveries.some((delivery) => delivery.status === "pending")} />
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Webhooks</h1>
          <p className="mt-1 max-w-2xl text-sm text-zinc-600">
            URLs that receive a signed JSON POST when a key is created, enabled, disabled, deleted, rolled, elevated or reported leaked, expires
            within 7 days, or expires. Failed deliveries are retried with backoff for 24 hours.
          </p>
        </div>
        {refusal === null ? <AddWebhookDialog /> : <ReadOnlyNote reason={refusal} />}
      </div>

      {webhooks.length === 0 ? (
        <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">No webhooks yet.</div>
      ) : (
        <ul aria-label="Webhooks" className="divide-y divide-zinc-100 rounded-lg border border-zinc-200 bg-white">
          {webhooks.map((webhook) => (
            <li key={webhook.id} aria-label={webhook.url} className="flex flex-col gap-2 px-4 py-3 sm:flex-row sm:items-center">
              <div className="min-w-0 flex-1">
                <div className="break-all font-mono text-sm text-zinc-900">{webhook.url}</div>
                <div className="mt-0.5 text-xs text-zinc-500">
                  Added <Timestamp date={webhook.createdAt} now={now} />
                </div>
              </div>
              {refusal === null ? <DeleteWebhookButton webhookId={webhook.id} url={webhook.url} /> : null}
            </li>
          ))}
        </ul>
      )}

      <div className="flex flex-col gap-3">
        <h2 className="text-lg font-semibold tracking-tight">Deliveries</h2>
        {total === 0 ? (
          <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">No deliveries yet.</div>
        ) : deliveries.length === 0 ? (
          <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">
            No deliveries on this page.{" "}
            <Link href={PATH} className="font-medium text-zinc-900 underline">
              Show the newest deliveries
            </Link>
          </div>
        ) : (
          <div className="overflow-hidden rounded-lg border border-zinc-200 bg-white">
            <table role="table" aria-label="Deliveries" className="block w-full text-sm md:table">
              <thead role="rowgroup" className="hidden bg-zinc-50 text-left text-xs font-medium text-zinc-500 md:table-header-group">
                <tr role="row">
                  <th role="columnheader" scope="col" className="px-4 py-2">Event</th>
                  <th role="columnheader" scope="col" className="px-4 py-2">Status</th>
                  <th role="columnheader" scope="col" className="px-4 py-2">Attempts</th>
                  <th role="columnheader" scope="col" className="px-4 py-2">Response</th>
                  <th role="columnheader" scope="col" className="px-4 py-2">Time</th>
                </tr>
              </thead>
              <tbody role="rowgroup" className="block divide-y divide-zinc-100 md:table-row-group">
                {deliveries.map((delivery) => (
                  <DeliveryRow key={delivery.id} delivery={delivery} now={now} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager path={PATH} label="Delivery pages" page={page} lastPage={lastPage} hasNext={hasNext} />
      </div>
    </section>
  );
}
