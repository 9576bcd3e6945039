import { ELEVATION_DURATIONS } from "@/lib/core/lifecycle/choices";
import type { ApprovalRequestDto } from "@/lib/dal/approvals";
import { Timestamp } from "./key-times";

// SPEC §11: a key's GraphQL Read / Write waiting for an owner or admin, said where the key is shown
// (its page, its row in the list, /settings/approvals), so nobody takes the key for what it asked.

/** "GraphQL Read / Write" or "Elevation of GraphQL to Read / Write for 1 hour": what a request waits to apply. */
export function approvalAsk(request: Pick<ApprovalRequestDto, "kind" | "duration">): string {
  if (request.kind !== "elevated") return "GraphQL Read / Write";
  const duration = ELEVATION_DURATIONS.find((choice) => choice.id === request.duration)?.label ?? request.duration ?? "?";
  return `Elevation of GraphQL to Read / Write for ${duration}`;
}

/** The key page's notice: one line per pending request, with who asked and when. */
export function PendingApprovalsNotice({ requests, now }: { requests: ApprovalRequestDto[]; now: Date }) {
  if (requests.length === 0) return null;
  return (
    <ul aria-label="Waiting for approval" className="flex flex-col gap-1 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
      {requests.map((request) => (
        <li key={request.id} className="break-words">
          <span className="font-medium">{approvalAsk(request)}: waiting for approval</span>
          {request.requestedBy ? ` (asked by ${request.requestedBy.email}, ` : " ("}
          <Timestamp date={request.createdAt} now={now} />
          {"). "}
          Until an owner or admin approves it at Approvals, the key keeps the levels shown here.
        </li>
      ))}
    </ul>
  );
}
