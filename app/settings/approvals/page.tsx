import type { Metadata } from "next";
import Link from "next/link";
import { requireAccount } from "@/lib/auth/session";
import { can } from "@/lib/core/teams/roles";
import { listPendingApprovals } from "@/lib/dal/approvals";
import { getPolicies } from "@/lib/dal/policies";
import { Timestamp } from "../api-keys/key-times";
import { approvalAsk } from "../api-keys/pending-approvals";
import { DecideButtons } from "./_components/decide-buttons";

export const metadata: Metadata = { title: "Approvals" };

const KIND_LABELS = { created: "new key", scopes_changed: "scope change", elevated: "elevation" } as const;

// SPEC §11: the GraphQL Read / Write Members asked for under the approval policy. Owners and admins
// see every pending request and decide it; everyone else sees their own, read-only.
export default async function ApprovalsPage() {
  const account = await requireAccount();
  const decides = can(account.role, "approvals.decide");
  const [requests, policies] = await Promise.all([
    listPendingApprovals(account.id, decides ? {} : { requestedBy: account.userId }),
    getPolicies(account.id),
  ]);
  const now = new Date();
  return (
    <section className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Approvals</h1>
        <p className="mt-1 max-w-2xl text-sm text-zinc-600">
          {decides
            ? "GraphQL Read / Write that Members asked for. Until you approve it, the key acts with what it had; declining leaves it so."
            : "Your requests for GraphQL Read / Write, waiting for an owner or admin. Until approved, the key acts with what it had."}
        </p>
        {policies.graphqlWriteNeedsApproval ? null : (
          <p className="mt-2 max-w-2xl text-sm text-zinc-600">
            The policy <span className="font-medium">GraphQL Read / Write needs approval</span> is off: new requests are not made.
          </p>
        )}
      </div>
      {requests.length === 0 ? (
        <div className="rounded-lg border border-dashed border-zinc-300 bg-white p-8 text-center text-sm text-zinc-600">Nothing is waiting for approval.</div>
      ) : (
        <ul aria-label="Pending requests" className="divide-y divide-zinc-100 rounded-lg border border-zinc-200 bg-white">
          {requests.map((request) => {
            const own = request.requestedBy?.userId === account.userId;
            return (
              <li key={request.id} aria-label={request.keyName} className="flex flex-col gap-3 px-4 py-3 sm:flex-row sm:items-center sm:justify-between">
                <div id={`request-${request.id}`} className="min-w-0 text-sm">
                  <p className="break-words">
                    <Link href={`/settings/api-keys/${request.keyId}`} className="font-medium text-indigo-700 underline-offset-2 hover:underline">
                      {request.keyName}
                    </Link>
                    : {approvalAsk(request)} ({KIND_LABELS[request.kind]})
                  </p>
                  {request.reason ? <p className="mt-0.5 break-words text-zinc-600">Reason: {request.reason}</p> : null}
                  <p className="mt-0.5 text-xs text-zinc-500">
                    Asked by {request.requestedBy?.email ?? "a former member"} <Timestamp date={request.createdAt} now={now} />
                  </p>
                </div>
                {decides ? (
                  <DecideButtons requestId={request.id} describedBy={`request-${request.id}`} canApprove={!own} />
                ) : (
                  <p className="text-sm text-amber-800">Waiting for approval</p>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
