import { describe, expect, it } from "vitest";
import type { AuditEvent, AuditLogEntryDto } from "@/lib/dal/audit-log";
import { describeEntry } from "./describe-entry";

// SPEC §11: the audit log's sentences for policies and approvals (the rest: describe-entry.test.ts).

function entry(event: AuditEvent, name: string | null, type: AuditLogEntryDto["target"]["type"] = "api_key"): AuditLogEntryDto {
  return { ...event, id: "1", createdAt: new Date(0), target: { type, id: "x", name }, actor: { type: "dashboard" } };
}

const ask = { requestId: "apr_1", resource: "graphql", level: "read_write" } as const;

describe("describeEntry: policies and approvals", () => {
  it.each<[string, AuditLogEntryDto, string]>([
    [
      "both policies changed",
      entry(
        {
          action: "policies.changed",
          details: { before: { maxKeyLifetimeDays: null, graphqlWriteNeedsApproval: false }, after: { maxKeyLifetimeDays: 90, graphqlWriteNeedsApproval: true } },
        },
        null,
        "team",
      ),
      "Changed policies: Maximum key lifetime No limit \u2192 90 days; GraphQL Read / Write needs approval off \u2192 on",
    ],
    [
      "one policy changed",
      entry(
        {
          action: "policies.changed",
          details: { before: { maxKeyLifetimeDays: 365, graphqlWriteNeedsApproval: true }, after: { maxKeyLifetimeDays: 30, graphqlWriteNeedsApproval: true } },
        },
        null,
        "team",
      ),
      "Changed policies: Maximum key lifetime 1 year \u2192 30 days",
    ],
    [
      "a new key's request",
      entry({ action: "approval.requested", details: { ...ask, kind: "created" } }, "deploy"),
      "Asked for GraphQL Read / Write on new key \u201cdeploy\u201d; waiting for approval",
    ],
    [
      "a scope change's request",
      entry({ action: "approval.requested", details: { ...ask, kind: "scopes_changed" } }, "deploy"),
      "Asked for GraphQL Read / Write on key \u201cdeploy\u201d (scope change); waiting for approval",
    ],
    [
      "an elevation's request",
      entry({ action: "approval.requested", details: { ...ask, kind: "elevated", duration: "1h", reason: "INC-7" } }, "deploy"),
      "Asked for an elevation of key \u201cdeploy\u201d to Read / Write on GraphQL for 1 hour (reason: \u201cINC-7\u201d); waiting for approval",
    ],
    [
      "approved",
      entry({ action: "approval.approved", details: { ...ask, kind: "created", requestedBy: "bob@example.com" } }, "deploy"),
      "Approved GraphQL Read / Write on new key \u201cdeploy\u201d, asked by bob@example.com",
    ],
    [
      "approved elevation",
      entry({ action: "approval.approved", details: { ...ask, kind: "elevated", duration: "24h", reason: "migration", requestedBy: "bob@example.com", endsAt: 0 } }, "deploy"),
      "Approved an elevation of key \u201cdeploy\u201d to Read / Write on GraphQL for 24 hours (reason: \u201cmigration\u201d), asked by bob@example.com",
    ],
    [
      "declined, requester gone",
      entry({ action: "approval.declined", details: { ...ask, kind: "scopes_changed", requestedBy: null } }, "deploy"),
      "Declined GraphQL Read / Write on key \u201cdeploy\u201d (scope change)",
    ],
  ])("%s", (_label, given, sentence) => {
    expect(describeEntry(given)).toBe(sentence);
  });
});
