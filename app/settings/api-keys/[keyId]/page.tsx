import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { getApiKey, type ElevationDto } from "@/lib/dal/api-keys";
import { listEndpoints } from "@/lib/dal/endpoints";
import { requireAccount } from "@/lib/auth/session";
import { LEVEL_LABELS } from "@/lib/core/scopes/levels";
import { describeRateLimit, displayRange } from "@/lib/core/restrictions/restrictions";
import { noteLifecycleEnds } from "../../record-lifecycle-ends";
import { EditScopesDialog } from "../_components/edit-scopes-dialog";
import { KeyEnabledSwitch } from "../_components/key-enabled-switch";
import { KeyExpiry, Timestamp } from "../key-times";
import { formatExactTime, formatTimeUntil } from "../relative-time";
import { ChangeExpirationDialog } from "./_components/change-expiration-dialog";
import { ElevateDialog } from "./_components/elevate-dialog";
import { EndElevationButton } from "./_components/end-elevation-button";
import { ExpirePreviousButton } from "./_components/expire-previous-button";
import { RestrictionsDialog } from "./_components/restrictions-dialog";
import { RollKeyDialog } from "./_components/roll-key-dialog";
import { loadUsageView } from "./_components/usage-load";
import { UsageSection } from "./_components/usage-section";
import { scopeLines } from "../scope-lines";
import { getUsageTallies } from "@/lib/dal/usage";
import { IMPACT_WINDOW_DAYS } from "@/lib/core/usage/impact";
import { compareByName } from "@/lib/core/usage/suggest";
import { CheckAccessSection } from "./_components/check-access-section";
import { SuggestionsSection } from "./_components/suggestions-section";
import { keyChangeRefusal } from "@/lib/core/teams/refusals";
import { ReadOnlyNote } from "../../read-only-note";
import { getPolicies } from "@/lib/dal/policies";
import { listPendingApprovals } from "@/lib/dal/approvals";
import { PendingApprovalsNotice } from "../pending-approvals";

export const metadata: Metadata = { title: "API key" };

function elevationPlace(elevation: ElevationDto): string {
  return elevation.target.startsWith("endpoint:") ? `endpoint \u201c${elevation.targetName}\u201d` : elevation.targetName;
}

/** The exact time, and how far ahead it is. */
function Until({ date, now }: { date: Date; now: Date }) {
  return (
    <>
      <time dateTime={date.toISOString()}>{formatExactTime(date)}</time> ({formatTimeUntil(date, now)})
    </>
  );
}

const sectionClass = "rounded-lg border border-zinc-200 bg-white p-4 sm:p-5";
const headingClass = "text-base font-semibold";

export default async function ApiKeyPage({
  params,
  searchParams,
}: {
  params: Promise<{ keyId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const account = await requireAccount();
  // First, so that an elevation or grace period that has run out is in the log before it is gone from here.
  await noteLifecycleEnds();
  const { keyId } = await params;
  // Another account's key and an unknown id alike: the DAL finds nothing, the page does not exist.
  const [key, endpoints] = await Promise.all([getApiKey(account.id, keyId), listEndpoints(account.id)]);
  if (!key) notFound();
  // SPEC §10: the first paint of `Usage` (the section keeps itself fresh from the usage route), and
  // the last 7 days that `Edit scopes` previews a change against (impact preview).
  const [usage, impactTallies] = await Promise.all([loadUsageView(account.id, key.id, "24h", endpoints), getUsageTallies(account.id, key.id, IMPACT_WINDOW_DAYS)]);
  const endpointOptions = endpoints.map(({ id, name }) => ({ id, name }));
  // SPEC §11: the `Expiration` choices the team's policy leaves, and this key's requests waiting for approval.
  const [policies, pendingApprovals] = await Promise.all([getPolicies(account.id), listPendingApprovals(account.id, { keyId: key.id })]);
  const now = new Date();
  const legacy = key.kind === "legacy";
  const expired = key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
  // SPEC §11, as the key's actions decide it (keyAction): null when this member may change the key.
  const refusal = keyChangeRefusal(account, key.createdBy?.userId ?? null);
  const changeable = refusal === null;

  return (
    <section className="flex flex-col gap-6">
      <div>
        <Link href="/settings/api-keys" className="text-sm font-medium text-indigo-700 underline-offset-2 hover:underline">
          <span aria-hidden="true">&larr; </span>All API keys
        </Link>
        <div className="mt-2 flex flex-wrap items-center gap-x-3 gap-y-2">
          <h1 className="min-w-0 break-words text-2xl font-semibold tracking-tight">{key.name}</h1>
          <span
            className={`rounded-full px-2 py-0.5 text-xs font-medium ${legacy ? "bg-amber-100 text-amber-900" : "bg-indigo-50 text-indigo-800"}`}
          >
            {legacy ? "Legacy" : "Scoped"}
          </span>
          {key.elevations.length > 0 ? (
            <span className="rounded-full bg-rose-100 px-2 py-0.5 text-xs font-medium text-rose-900">Elevated</span>
          ) : null}
          {key.leak ? <span className="rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-900">Leaked</span> : null}
        </div>
      </div>

      {expired ? (
        <p role="status" className="rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
          This key has expired: requests made with it are refused. Change its expiration to use it again.
        </p>
      ) : null}

      <PendingApprovalsNotice requests={pendingApprovals} now={now} />

      {changeable ? (
        <div className="flex flex-wrap gap-2">
          <ChangeExpirationDialog keyId={key.id} name={key.name} maxLifetimeDays={policies.maxKeyLifetimeDays} />
          <RollKeyDialog
            keyId={key.id}
            name={key.name}
            legacy={legacy}
            access={`GraphQL ${LEVEL_LABELS[key.scopes.graphql]}, all endpoints ${LEVEL_LABELS[key.scopes.endpointsAll]}`}
          />
          <ElevateDialog keyId={key.id} name={key.name} endpoints={endpointOptions} />
          <RestrictionsDialog key={JSON.stringify(key.restrictions)} keyId={key.id} name={key.name} restrictions={key.restrictions} />
        </div>
      ) : (
        <ReadOnlyNote reason={refusal} />
      )}

      <section aria-labelledby="details-heading" className={sectionClass}>
        <h2 id="details-heading" className={headingClass}>
          Details
        </h2>
        <dl className="mt-3 grid grid-cols-[auto_minmax(0,1fr)] items-center gap-x-4 gap-y-2 text-sm">
          <dt className="text-zinc-500">Key</dt>
          <dd className="break-all font-mono text-xs text-zinc-800">{key.hint}</dd>
          <dt className="text-zinc-500">Kind</dt>
          <dd>{legacy ? "Legacy" : "Scoped"}</dd>
          <dt className="text-zinc-500">Enabled</dt>
          <dd>
            <KeyEnabledSwitch
              key={`${key.id}:${key.enabled}`}
              keyId={key.id}
              name={key.name}
              enabled={key.enabled}
              leaked={key.leak !== null}
              readOnly={refusal}
            />
          </dd>
          <dt className="text-zinc-500">Created</dt>
          <dd>
            <Timestamp date={key.createdAt} now={now} />
          </dd>
          <dt className="text-zinc-500">Created by</dt>
          {/* No creator: imported by an operator, or the user who made it is gone. */}
          <dd className="break-all">{key.createdBy ? key.createdBy.email : "\u2014"}</dd>
          <dt className="text-zinc-500">Last used</dt>
          <dd>{key.lastUsedAt ? <Timestamp date={key.lastUsedAt} now={now} /> : "Never"}</dd>
          <dt className="text-zinc-500">Expires</dt>
          <dd className="break-words">
            <KeyExpiry expiresAt={key.expiresAt} now={now} exact />
          </dd>
        </dl>
      </section>

      <UsageSection keyId={key.id} initial={usage} />

      <section aria-labelledby="scopes-heading" className={sectionClass}>
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h2 id="scopes-heading" className={headingClass}>
            Scopes
          </h2>
          {changeable ? (
            <EditScopesDialog
              key={JSON.stringify(key.scopes)}
              keyId={key.id}
              name={key.name}
              legacy={legacy}
              scopes={key.scopes}
              endpoints={endpointOptions}
              tallies={impactTallies}
            />
          ) : null}
        </div>
        <ul aria-label="Scopes" className="mt-3 flex flex-col gap-1 text-sm">
          {scopeLines(key.scopes, endpoints).map((line) => (
            <li key={line} className="break-words">
              {line}
            </li>
          ))}
        </ul>
        {legacy ? <p className="mt-2 text-xs text-zinc-500">A legacy key keeps the permission it was imported with; roll it to edit its scopes.</p> : null}
      </section>

      <SuggestionsSection
        accountId={account.id}
        apiKey={key}
        endpoints={endpointOptions}
        basedOn={(await searchParams).basedOn}
        readOnly={!changeable}
        className={sectionClass}
      />

      <CheckAccessSection keyId={key.id} endpoints={[...endpointOptions].sort(compareByName)} className={sectionClass} />

      <section aria-labelledby="restrictions-heading" className={sectionClass}>
        <h2 id="restrictions-heading" className={headingClass}>
          Restrictions
        </h2>
        <dl className="mt-3 grid grid-cols-[auto_minmax(0,1fr)] gap-x-4 gap-y-2 text-sm">
          <dt className="text-zinc-500">Allowed IP addresses</dt>
          <dd>
            {key.restrictions.allowedIps === null ? (
              "Any address"
            ) : key.restrictions.allowedIps.length === 0 ? (
              // Only a list written outside the dashboard reads as empty; the decision then allows no address.
              "No address"
            ) : (
              <ul aria-label="Allowed IP addresses" className="flex flex-col gap-0.5 font-mono text-xs">
                {key.restrictions.allowedIps.map((range) => (
                  <li key={range} className="break-all">
                    {displayRange(range)}
                  </li>
                ))}
              </ul>
            )}
          </dd>
          <dt className="text-zinc-500">Rate limit</dt>
          <dd>{key.restrictions.rateLimit ? describeRateLimit(key.restrictions.rateLimit) : "No rate limit"}</dd>
        </dl>
      </section>

      <section aria-labelledby="elevations-heading" className={sectionClass}>
        <h2 id="elevations-heading" className={headingClass}>
          Elevations
        </h2>
        {key.elevations.length === 0 ? (
          <p className="mt-2 text-sm text-zinc-600">None in force. The levels above are the ones that apply.</p>
        ) : (
          <>
            <p className="mt-1 text-xs text-zinc-500">Until each ends, requests use the higher of the key&apos;s own level and this one.</p>
            <ul aria-label="Elevations in force" className="mt-3 flex flex-col gap-3">
              {key.elevations.map((elevation) => (
                <li key={elevation.id} className="flex flex-col gap-2 text-sm sm:flex-row sm:items-center sm:justify-between">
                  <p id={`elevation-${elevation.id}`} className="min-w-0 break-words">
                    <span className="font-medium">
                      {LEVEL_LABELS[elevation.level]} on {elevationPlace(elevation)}
                    </span>{" "}
                    until <Until date={elevation.endsAt} now={now} /> &mdash; {elevation.reason}
                  </p>
                  {changeable ? <EndElevationButton keyId={key.id} elevationId={elevation.id} describedBy={`elevation-${elevation.id}`} /> : null}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>

      {key.previous ? (
        <section aria-labelledby="previous-heading" className={sectionClass}>
          <h2 id="previous-heading" className={headingClass}>
            Previous key
          </h2>
          <p className="mt-2 break-words text-sm">
            Previous key valid until <Until date={key.previous.validUntil} now={now} />
            {key.previous.untilFirstUse ? " or until the new key is first used" : ""}.
          </p>
          <p className="mt-1 text-sm text-zinc-600">
            Previous key: <span className="break-all font-mono text-xs">{key.previous.hint}</span>
          </p>
          {changeable ? (
            <div className="mt-3">
              <ExpirePreviousButton keyId={key.id} hint={key.previous.hint} />
            </div>
          ) : null}
        </section>
      ) : null}
    </section>
  );
}
