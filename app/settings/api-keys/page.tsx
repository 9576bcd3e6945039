import type { Metadata } from "next";
import Link from "next/link";
import { listApiKeys } from "@/lib/dal/api-keys";
import { listEndpoints } from "@/lib/dal/endpoints";
import { requireAccount } from "@/lib/auth/session";
import { LEVEL_LABELS } from "@/lib/core/scopes/levels";
import { CreateKeyDialog } from "./_components/create-key-dialog";
import { DeleteKeyButton } from "./_components/delete-key-button";
import { EditScopesDialog } from "./_components/edit-scopes-dialog";
import { KeyEnabledSwitch } from "./_components/key-enabled-switch";
import { KeyExpiry, Timestamp } from "./key-times";
import { LeakBanners } from "./leak-banners";
import { scopeSummary } from "./scope-lines";
import { countRecentRequests, getUsageTalliesByKey } from "@/lib/dal/usage";
import { IMPACT_WINDOW_DAYS } from "@/lib/core/usage/impact";
import { keyChangeRefusal, permissionRefusal } from "@/lib/core/teams/refusals";
import { ReadOnlyNote } from "../read-only-note";
import { getPolicies } from "@/lib/dal/policies";
import { listPendingApprovals } from "@/lib/dal/approvals";
import { approvalAsk } from "./pending-approvals";

export const metadata: Metadata = { title: "API keys" };

// Below the lg breakpoint each row stacks into a card (nine columns do not fit narrower); explicit
// roles keep it a table for assistive tech.
const cell = "block px-4 py-1 lg:table-cell lg:py-3 lg:align-middle";
const cellLabel = "mr-2 text-xs font-medium text-zinc-500 lg:hidden";

export default async function ApiKeysPage() {
  const account = await requireAccount();
  // `Requests (7 d)`: every key's count in one query, a key with none absent; and every key's last
  // 7 days in one query, for `Edit scopes`'s impact preview (SPEC §10).
  const [keys, endpoints, recentRequests, impactTallies] = await Promise.all([
    listApiKeys(account.id),
    listEndpoints(account.id),
    countRecentRequests(account.id),
    getUsageTalliesByKey(account.id, IMPACT_WINDOW_DAYS),
  ]);
  const endpointOptions = endpoints.map(({ id, name }) => ({ id, name }));
  const now = new Date();
  // SPEC §11: the `Expiration` choices the team's policy leaves, and what waits for approval, by key.
  const [policies, pendingApprovals] = await Promise.all([getPolicies(account.id), listPendingApprovals(account.id)]);
  // SPEC §11, as the actions decide it: who may create keys, and which keys this member may change.
  const createRefusal = permissionRefusal(account.role, "keys.create");
  const refusals = new Map(keys.map((key) => [key.id, keyChangeRefusal(account, key.createdBy?.userId ?? null)]));
  const changeable = new Set(keys.filter((key) => refusals.get(key.id) === null).map((key) => key.id));

  return (
    <section className="flex flex-col gap-6">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">API keys</h1>
          <p className="mt-1 max-w-2xl text-sm text-zinc-600">
            Each key can reach only what you grant it: GraphQL for account management, and each endpoint at None, Read or Read /
            Write.
          </p>
        </div>
        {createRefusal === null ? <CreateKeyDialog endpoints={endpointOptions} maxLifetimeDays={policies.maxKeyLifetimeDays} /> : <ReadOnlyNote reason={createRefusal} />}
      </div>

      <LeakBanners keys={keys} changeable={changeable} />

      {keys.length === 0 ? (
        <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">
          No API keys yet. Create one to call your endpoints.
        </div>
      ) : (
        <div className="overflow-hidden rounded-lg border border-zinc-200 bg-white">
          <table role="table" className="block w-full text-sm lg:table">
            <thead role="rowgroup" className="hidden bg-zinc-50 text-left text-xs font-medium text-zinc-500 lg:table-header-group">
              <tr role="row">
                <th role="columnheader" scope="col" className="px-4 py-2">Name</th>
                <th role="columnheader" scope="col" className="px-4 py-2">Key</th>
                <th role="columnheader" scope="col" className="px-4 py-2">Kind</th>
                <th role="columnheader" scope="col" className="px-4 py-2">Created</th>
                <th role="columnheader" scope="col" className="px-4 py-2">Last used</th>
                <th role="columnheader" scope="col" className="px-4 py-2">Expires</th>
                <th role="columnheader" scope="col" className="whitespace-nowrap px-4 py-2 lg:text-right">Requests (7 d)</th>
                <th role="columnheader" scope="col" className="px-4 py-2">Enabled</th>
                <th role="columnheader" scope="col" className="px-4 py-2"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody role="rowgroup" className="block divide-y divide-zinc-100 lg:table-row-group">
              {keys.map((key) => (
                <tr role="row" key={key.id} className="block py-2 lg:table-row lg:py-0">
                  {/* The cell's name stays the key's name (aria-labelledby: the scopes below are its content, not its name): e2e's keyRow() and screen readers find the row by it. */}
                  <td role="cell" aria-labelledby={`key-name-${key.id}`} className={`${cell} font-medium lg:min-w-44`}>
                    <Link id={`key-name-${key.id}`} href={`/settings/api-keys/${key.id}`} className="break-words text-indigo-700 underline-offset-2 hover:underline">
                      {key.name}
                    </Link>
                    <p className="mt-0.5 break-words text-xs font-normal text-zinc-500">{scopeSummary(key.scopes, endpoints)}</p>
                    {pendingApprovals
                      .filter((request) => request.keyId === key.id)
                      .map((request) => (
                        <p key={request.id} className="mt-0.5 text-xs font-normal text-amber-800">
                          {approvalAsk(request)}: waiting for approval
                        </p>
                      ))}
                    {key.createdBy ? <p className="mt-0.5 break-all text-xs font-normal text-zinc-500">Created by {key.createdBy.email}</p> : null}
                  </td>
                  <td role="cell" className={`${cell} font-mono text-xs text-zinc-700`}>
                    <span className={cellLabel}>Key</span>
                    {key.hint}
                  </td>
                  <td role="cell" className={cell}>
                    <span className={cellLabel}>Kind</span>
                    <span
                      className={`rounded-full px-2 py-0.5 text-xs font-medium ${key.kind === "legacy" ? "bg-amber-100 text-amber-900" : "bg-indigo-50 text-indigo-800"}`}
                    >
                      {key.kind === "legacy" ? "Legacy" : "Scoped"}
                    </span>
                    {key.elevations.length > 0 ? (
                      <span
                        className="ml-1 rounded-full bg-rose-100 px-2 py-0.5 text-xs font-medium text-rose-900"
                        title={key.elevations.map((elevation) => `${elevation.targetName}: ${LEVEL_LABELS[elevation.level]}`).join("; ")}
                      >
                        Elevated
                      </span>
                    ) : null}
                    {key.leak ? (
                      <span className="ml-1 rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-900" title={key.leak.url || undefined}>
                        Leaked
                      </span>
                    ) : null}
                  </td>
                  <td role="cell" className={`${cell} text-zinc-700`}>
                    <span className={cellLabel}>Created</span>
                    <Timestamp date={key.createdAt} now={now} />
                  </td>
                  <td role="cell" className={`${cell} text-zinc-700`}>
                    <span className={cellLabel}>Last used</span>
                    {key.lastUsedAt ? <Timestamp date={key.lastUsedAt} now={now} /> : "Never"}
                  </td>
                  <td role="cell" className={`${cell} text-zinc-700`}>
                    <span className={cellLabel}>Expires</span>
                    <KeyExpiry expiresAt={key.expiresAt} now={now} />
                  </td>
                  <td role="cell" className={`${cell} tabular-nums text-zinc-700 lg:text-right`}>
                    <span className={cellLabel}>Requests (7 d)</span>
                    {(recentRequests.get(key.id) ?? 0).toLocaleString("en-US")}
                  </td>
                  <td role="cell" className={cell}>
                    <KeyEnabledSwitch
                      key={`${key.id}:${key.enabled}`}
                      keyId={key.id}
                      name={key.name}
                      enabled={key.enabled}
                      leaked={key.leak !== null}
                      readOnly={refusals.get(key.id) ?? null}
                    />
                  </td>
                  <td role="cell" className={cell}>
                    {changeable.has(key.id) ? (
                      <div className="flex justify-start gap-1 lg:justify-end [&_button]:whitespace-nowrap">
                        <EditScopesDialog
                          key={JSON.stringify(key.scopes)}
                          keyId={key.id}
                          name={key.name}
                          legacy={key.kind === "legacy"}
                          scopes={key.scopes}
                          endpoints={endpointOptions}
                          tallies={impactTallies.get(key.id) ?? []}
                        />
                        <DeleteKeyButton keyId={key.id} name={key.name} />
                      </div>
                    ) : (
                      <p className="whitespace-nowrap text-xs text-zinc-500 lg:text-right" title={refusals.get(key.id) ?? undefined}>
                        View only
                      </p>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
