import { describe, expect, it } from "vitest";
import type { AuditEvent, AuditLogEntryDto, AuditScopesSnapshot } from "@/lib/dal/audit-log";
import { describeActor, describeEntry, describeScopeChange, describeScopes } from "./describe-entry";

function entry(event: AuditEvent, name: string | null, type: AuditLogEntryDto["target"]["type"] = "api_key"): AuditLogEntryDto {
  return { ...event, id: "1", createdAt: new Date(0), target: { type, id: "x", name }, actor: { type: "dashboard" } };
}

const none: AuditScopesSnapshot = { graphql: "none", endpointsAll: "none", endpoints: [] };
const T1 = Date.UTC(2026, 11, 1, 12, 0, 0);
const leak = { kind: "scoped" as const, secret: "current" as const, url: "https://github.com/o/r/blob/main/.env", source: "commit", type: "keyscope_api_key" };
const noRestrictions = { allowedIps: null, rateLimit: null, per: null };
const graphqlElevation = { target: "graphql", targetName: "GraphQL", level: "read_write" as const, reason: "INC-42 hotfix", endsAt: T1 };

describe("describeEntry", () => {
  it.each<[string, AuditLogEntryDto, string]>([
    [
      "key created",
      entry({ action: "api_key.created", details: { kind: "scoped", scopes: { ...none, endpoints: [{ id: "w", name: "whisper", level: "read" }] } } }, "ci"),
      "Created key \u201cci\u201d with GraphQL None; All endpoints None; whisper: Read",
    ],
    ["key enabled", entry({ action: "api_key.enabled", details: { kind: "scoped" } }, "ci"), "Enabled key \u201cci\u201d"],
    ["key disabled", entry({ action: "api_key.disabled", details: { kind: "scoped" } }, "ci"), "Disabled key \u201cci\u201d"],
    ["legacy key disabled", entry({ action: "api_key.disabled", details: { kind: "legacy" } }, "old"), "Disabled legacy key \u201cold\u201d"],
    // SPEC §11: a removed member's keys, and the members' own entries.
    [
      "key disabled with its creator's removal",
      entry({ action: "api_key.disabled", details: { kind: "scoped", reason: "member_removed", member: "m@example.com" } }, "ci"),
      "Disabled key \u201cci\u201d (member removed: m@example.com)",
    ],
    ["member invited", entry({ action: "member.invited", details: { role: "viewer" } }, "v@example.com", "member"), "Invited \u201cv@example.com\u201d as Viewer"],
    ["member joined", entry({ action: "member.joined", details: { role: "member" } }, "m@example.com", "member"), "\u201cm@example.com\u201d joined as Member"],
    [
      "member role changed",
      entry({ action: "member.role_changed", details: { from: "viewer", to: "admin" } }, "v@example.com", "member"),
      "Changed the role of \u201cv@example.com\u201d from Viewer to Admin",
    ],
    [
      "member removed with keys",
      entry({ action: "member.removed", details: { role: "member", left: false, keysDisabled: 2 } }, "m@example.com", "member"),
      "Removed member \u201cm@example.com\u201d (Member); their 2 keys were disabled",
    ],
    [
      "member removed with one key",
      entry({ action: "member.removed", details: { role: "admin", left: false, keysDisabled: 1 } }, "a@example.com", "member"),
      "Removed member \u201ca@example.com\u201d (Admin); their key was disabled",
    ],
    ["member left", entry({ action: "member.removed", details: { role: "viewer", left: true, keysDisabled: 0 } }, "v@example.com", "member"), "\u201cv@example.com\u201d (Viewer) left the team"],
    ["key deleted", entry({ action: "api_key.deleted", details: { kind: "scoped" } }, "ci"), "Deleted key \u201cci\u201d"],
    [
      "scopes changed",
      entry(
        {
          action: "api_key.scopes_changed",
          details: {
            before: { graphql: "none", endpointsAll: "read", endpoints: [{ id: "w", name: "whisper", level: "read" }] },
            after: { graphql: "read", endpointsAll: "read", endpoints: [{ id: "w", name: "whisper", level: "read_write" }] },
          },
        },
        "ci",
      ),
      "Changed scopes of \u201cci\u201d: GraphQL None \u2192 Read; whisper: Read \u2192 Read / Write",
    ],
    [
      "scopes changed by Apply suggestion",
      entry(
        {
          action: "api_key.scopes_changed",
          details: {
            before: { graphql: "read_write", endpointsAll: "read_write", endpoints: [] },
            after: { graphql: "read", endpointsAll: "none", endpoints: [{ id: "a", name: "alpha", level: "read" }] },
            source: "suggestion",
            basedOn: "30d",
          },
        },
        "ci",
      ),
      "Changed scopes of \u201cci\u201d (from a suggestion based on 30 days): GraphQL Read / Write \u2192 Read; All endpoints Read / Write \u2192 None; alpha: inherited \u2192 Read",
    ],
    [
      "scopes changed by a suggestion over a window this version does not know",
      entry({ action: "api_key.scopes_changed", details: { before: none, after: none, source: "suggestion", basedOn: "365d" } }, "ci"),
      "Changed scopes of \u201cci\u201d (from a suggestion based on 365d)",
    ],
    [
      "one legacy key imported",
      entry({ action: "api_key.legacy_imported", details: { count: 1, keys: [{ id: "k", name: "old", permission: "read_write" }] } }, null),
      "Imported 1 legacy key: \u201cold\u201d (Read / Write)",
    ],
    [
      "legacy keys imported",
      entry(
        {
          action: "api_key.legacy_imported",
          details: {
            count: 2,
            keys: [
              { id: "a", name: "a", permission: "read" },
              { id: "b", name: "b", permission: "read_write" },
            ],
          },
        },
        null,
      ),
      "Imported 2 legacy keys: \u201ca\u201d (Read), \u201cb\u201d (Read / Write)",
    ],
    ["endpoint created", entry({ action: "endpoint.created", details: {} }, "whisper", "endpoint"), "Created endpoint \u201cwhisper\u201d"],
    ["endpoint renamed", entry({ action: "endpoint.renamed", details: { from: "a", to: "b" } }, "b", "endpoint"), "Renamed endpoint \u201ca\u201d to \u201cb\u201d"],
    ["endpoint deleted", entry({ action: "endpoint.deleted", details: { keysWithOverride: [] } }, "gone", "endpoint"), "Deleted endpoint \u201cgone\u201d"],
    [
      "endpoint deleted with overrides",
      entry({ action: "endpoint.deleted", details: { keysWithOverride: ["ci", "deploy"] } }, "gone", "endpoint"),
      "Deleted endpoint \u201cgone\u201d, removing its scope from keys \u201cci\u201d, \u201cdeploy\u201d",
    ],
    ["an entry this version cannot read", entry({ action: "unknown", details: null }, "x", "endpoint"), "Changed endpoint \u201cx\u201d"],
    // SPEC §8: expiry, rolling, elevation. Times are exact, in UTC, as elsewhere in the log.
    [
      "key created with an expiry",
      entry({ action: "api_key.created", details: { kind: "scoped", scopes: none, expiresAt: T1 } }, "ci"),
      "Created key \u201cci\u201d (expires 2026-12-01 12:00:00 UTC) with GraphQL None; All endpoints None",
    ],
    [
      "key created without expiry",
      entry({ action: "api_key.created", details: { kind: "scoped", scopes: none, expiresAt: null } }, "ci"),
      "Created key \u201cci\u201d (no expiration) with GraphQL None; All endpoints None",
    ],
    [
      "expiry set on a key that had none",
      entry({ action: "api_key.expiration_changed", details: { kind: "scoped", before: null, after: T1 } }, "ci"),
      "Changed expiration of key \u201cci\u201d from no expiration to 2026-12-01 12:00:00 UTC",
    ],
    [
      "a legacy key's expiry removed",
      entry({ action: "api_key.expiration_changed", details: { kind: "legacy", before: T1, after: null } }, "old"),
      "Changed expiration of legacy key \u201cold\u201d from 2026-12-01 12:00:00 UTC to no expiration",
    ],
    [
      "rolled, old key expired at once",
      entry({ action: "api_key.rolled", details: { fromKind: "scoped", grace: "now", previousValidUntil: null, untilFirstUse: false, endedEarlierGrace: false } }, "ci"),
      "Rolled key \u201cci\u201d; the old key expired at once",
    ],
    [
      "rolled with a grace period, ending an earlier one",
      entry({ action: "api_key.rolled", details: { fromKind: "scoped", grace: "1h", previousValidUntil: T1, untilFirstUse: false, endedEarlierGrace: true } }, "ci"),
      "Rolled key \u201cci\u201d; the old key stays valid until 2026-12-01 12:00:00 UTC; the key kept from the roll before stopped working",
    ],
    [
      "a legacy key rolled until first use",
      entry({ action: "api_key.rolled", details: { fromKind: "legacy", grace: "first_use", previousValidUntil: T1, untilFirstUse: true, endedEarlierGrace: false } }, "old"),
      "Rolled legacy key \u201cold\u201d into a scoped key; the old key stays valid until the new key is first used, at most until 2026-12-01 12:00:00 UTC",
    ],
    [
      "previous key expired by hand",
      entry({ action: "api_key.previous_expired", details: { validUntil: T1, cause: "manual" } }, "ci"),
      "Previous key of \u201cci\u201d stopped working at 2026-12-01 12:00:00 UTC: expired by hand",
    ],
    [
      "previous key ended by the new key's first use",
      entry({ action: "api_key.previous_expired", details: { validUntil: T1, cause: "first_use" } }, "ci"),
      "Previous key of \u201cci\u201d stopped working at 2026-12-01 12:00:00 UTC: the new key was first used",
    ],
    [
      "previous key's grace period ran out",
      entry({ action: "api_key.previous_expired", details: { validUntil: T1, cause: "time" } }, "ci"),
      "Previous key of \u201cci\u201d stopped working at 2026-12-01 12:00:00 UTC: its grace period ended",
    ],
    [
      "elevated on GraphQL",
      entry({ action: "api_key.elevated", details: { ...graphqlElevation } }, "deploy"),
      "Elevated key \u201cdeploy\u201d to Read / Write on GraphQL until 2026-12-01 12:00:00 UTC (reason: \u201cINC-42 hotfix\u201d)",
    ],
    [
      "elevated on one endpoint, named",
      entry({ action: "api_key.elevated", details: { target: "endpoint:ep_1", targetName: "alpha", level: "read", reason: "debug", endsAt: T1 } }, "ci"),
      "Elevated key \u201cci\u201d to Read on endpoint \u201calpha\u201d until 2026-12-01 12:00:00 UTC (reason: \u201cdebug\u201d)",
    ],
    [
      "elevated on all endpoints",
      entry({ action: "api_key.elevated", details: { target: "endpoints", targetName: "All endpoints", level: "read_write", reason: "load test", endsAt: T1 } }, "ci"),
      "Elevated key \u201cci\u201d to Read / Write on All endpoints until 2026-12-01 12:00:00 UTC (reason: \u201cload test\u201d)",
    ],
    [
      "elevation ended by hand",
      entry({ action: "api_key.elevation_ended", details: { ...graphqlElevation, endedAt: T1 - 60_000, cause: "manual" } }, "deploy"),
      "Ended the elevation of key \u201cdeploy\u201d to Read / Write on GraphQL (reason: \u201cINC-42 hotfix\u201d)",
    ],
    [
      "elevation ran out",
      entry({ action: "api_key.elevation_ended", details: { ...graphqlElevation, endedAt: T1, cause: "time" } }, "deploy"),
      "The elevation of key \u201cdeploy\u201d to Read / Write on GraphQL ran out (reason: \u201cINC-42 hotfix\u201d)",
    ],
    // SPEC §9 events: expiry noticed by the server, webhooks named by their URL's origin.
    ["key expiring", entry({ action: "api_key.expiring", details: { kind: "scoped", expiresAt: T1 } }, "ci"), "Key \u201cci\u201d expires within 7 days, at 2026-12-01 12:00:00 UTC"],
    ["legacy key expired", entry({ action: "api_key.expired", details: { kind: "legacy", expiresAt: T1 } }, "old"), "Legacy key \u201cold\u201d expired at 2026-12-01 12:00:00 UTC"],
    ["webhook added", entry({ action: "webhook.added", details: {} }, "https://hooks.example.com", "webhook"), "Added webhook \u201chttps://hooks.example.com\u201d"],
    ["webhook deleted", entry({ action: "webhook.deleted", details: { pendingDropped: 0 } }, "https://hooks.example.com", "webhook"), "Deleted webhook \u201chttps://hooks.example.com\u201d"],
    [
      "webhook deleted with one pending delivery",
      entry({ action: "webhook.deleted", details: { pendingDropped: 1 } }, "http://10.0.0.1:8080", "webhook"),
      "Deleted webhook \u201chttp://10.0.0.1:8080\u201d; 1 undelivered event was dropped",
    ],
    [
      "webhook deleted with pending deliveries",
      entry({ action: "webhook.deleted", details: { pendingDropped: 3 } }, "https://hooks.example.com", "webhook"),
      "Deleted webhook \u201chttps://hooks.example.com\u201d; 3 undelivered events were dropped",
    ],
    ["a webhook entry this version cannot read", entry({ action: "unknown", details: null }, "https://x.example", "webhook"), "Changed webhook \u201chttps://x.example\u201d"],
    ["a key entry this version cannot read", entry({ action: "unknown", details: null }, "ci"), "Changed key \u201cci\u201d"],
    // SPEC §9: a scanner's leak report, as given (never the token).
    [
      "key reported leaked and disabled",
      entry({ action: "api_key.leaked", details: { ...leak, previouslyEnabled: true } }, "ci"),
      "Key \u201cci\u201d was reported leaked at https://github.com/o/r/blob/main/.env (source: commit; type: keyscope_api_key); the key was disabled",
    ],
    [
      "legacy key reported leaked while already disabled",
      entry({ action: "api_key.leaked", details: { ...leak, kind: "legacy", previouslyEnabled: false } }, "old"),
      "Legacy key \u201cold\u201d was reported leaked at https://github.com/o/r/blob/main/.env (source: commit; type: keyscope_api_key); the key was already disabled",
    ],
    [
      "previous secret reported leaked, no url, source or type",
      entry({ action: "api_key.leaked", details: { ...leak, secret: "previous", url: "", source: "", type: "", previouslyEnabled: true } }, "ci"),
      "The previous secret of key \u201cci\u201d was reported leaked; the key was disabled",
    ],
    [
      "found by hand",
      entry({ action: "api_key.leaked", details: { ...leak, url: "", source: "", type: "manual", previouslyEnabled: true } }, "ci"),
      "Key \u201cci\u201d was reported leaked (type: manual); the key was disabled",
    ],
    // SPEC §9: restrictions, before → after, only what changed; single addresses without /32 or /128.
    [
      "allowlist and rate limit set on a key that had neither",
      entry(
        {
          action: "api_key.restrictions_changed",
          details: { before: noRestrictions, after: { allowedIps: ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::1/128"], rateLimit: 100, per: "minute" } },
        },
        "ci",
      ),
      "Changed restrictions of \u201cci\u201d: allowed IP addresses any \u2192 10.0.0.0/8, 127.0.0.1, 2001:db8::1; rate limit none \u2192 100 requests per minute",
    ],
    [
      "only the rate limit changed",
      entry(
        {
          action: "api_key.restrictions_changed",
          details: { before: { allowedIps: ["10.0.0.0/8"], rateLimit: 1, per: "second" }, after: { allowedIps: ["10.0.0.0/8"], rateLimit: 1000000, per: "hour" } },
        },
        "ci",
      ),
      "Changed restrictions of \u201cci\u201d: rate limit 1 request per second \u2192 1,000,000 requests per hour",
    ],
    [
      "both cleared",
      entry({ action: "api_key.restrictions_changed", details: { before: { allowedIps: ["::/0"], rateLimit: 2, per: "minute" }, after: noRestrictions } }, "ci"),
      "Changed restrictions of \u201cci\u201d: allowed IP addresses ::/0 \u2192 any; rate limit 2 requests per minute \u2192 none",
    ],
    [
      "only the allowlist changed",
      entry(
        {
          action: "api_key.restrictions_changed",
          details: { before: { allowedIps: ["10.0.0.1/32"], rateLimit: null, per: null }, after: { allowedIps: ["10.0.0.2/32"], rateLimit: null, per: null } },
        },
        "ci",
      ),
      "Changed restrictions of \u201cci\u201d: allowed IP addresses 10.0.0.1 \u2192 10.0.0.2",
    ],
    [
      "an entry whose before and after read the same",
      entry({ action: "api_key.restrictions_changed", details: { before: noRestrictions, after: noRestrictions } }, "ci"),
      "Changed restrictions of \u201cci\u201d",
    ],
  ])("%s", (_label, input, expected) => {
    expect(describeEntry(input)).toBe(expected);
  });

  it("a long allowlist names the first ten ranges and counts the rest", () => {
    const allowedIps = Array.from({ length: 100 }, (_, i) => `10.0.${i}.0/24`);
    const text = describeEntry(entry({ action: "api_key.restrictions_changed", details: { before: noRestrictions, after: { ...noRestrictions, allowedIps } } }, "ci"));
    expect(text).toBe(`Changed restrictions of \u201cci\u201d: allowed IP addresses any \u2192 ${allowedIps.slice(0, 10).join(", ")} and 90 more`);
  });

  it("a large import names the first ten keys and counts the rest", () => {
    const keys = Array.from({ length: 25 }, (_, i) => ({ id: `k${i}`, name: `key-${i}`, permission: "read" as const }));
    const text = describeEntry(entry({ action: "api_key.legacy_imported", details: { count: 25, keys } }, null));
    expect(text).toMatch(/^Imported 25 legacy keys: \u201ckey-0\u201d, /);
    expect(text).toContain("\u201ckey-9\u201d and 15 more");
    expect(text).not.toContain("key-10");
  });
});

describe("describeActor", () => {
  it.each<[string, Parameters<typeof describeActor>[0], string | null]>([
    ["the dashboard, before teams", { type: "dashboard" }, "via dashboard"],
    ["a member on the dashboard (SPEC §11)", { type: "dashboard", userId: "u1", email: "alice@example.com" }, "by alice@example.com via dashboard"],
    ["a user not found when the change was made", { type: "dashboard", userId: "u1", email: null }, "via dashboard"],
    ["an API key", { type: "api_key", keyId: "key_abc", keyName: "ci" }, "via API key \u201cci\u201d (key_abc)"],
    ["an API key whose name was not found", { type: "api_key", keyId: "key_abc", keyName: null }, "via API key key_abc"],
    ["the legacy import", { type: "cli", command: "keys:import-legacy" }, "via legacy import"],
    ["another command", { type: "cli", command: "keys:rotate" }, "via keys:rotate"],
    ["the server noticing an end", { type: "system" }, "noticed by the server"],
    ["a secret scanner's leak report", { type: "scanner" }, "via leak report"],
    ["nobody recorded", null, null],
  ])("%s", (_label, actor, expected) => {
    expect(describeActor(actor)).toBe(expected);
  });
});

describe("describeScopeChange", () => {
  it("names only what changed, endpoint rows by name, with pinning and unpinning as inherited", () => {
    const before: AuditScopesSnapshot = {
      graphql: "read",
      endpointsAll: "none",
      endpoints: [
        { id: "1", name: "same", level: "read" },
        { id: "2", name: "unpinned", level: "read_write" },
      ],
    };
    const after: AuditScopesSnapshot = {
      graphql: "read",
      endpointsAll: "read",
      endpoints: [
        { id: "3", name: "pinned", level: "none" },
        { id: "1", name: "same", level: "read" },
      ],
    };
    expect(describeScopeChange(before, after)).toBe(
      "All endpoints None \u2192 Read; pinned: inherited \u2192 None; unpinned: Read / Write \u2192 inherited",
    );
    expect(describeScopeChange(before, before)).toBe("");
  });

  it("describeScopes lists every row", () => {
    expect(describeScopes({ graphql: "read_write", endpointsAll: "read", endpoints: [{ id: "1", name: "a", level: "none" }] })).toBe(
      "GraphQL Read / Write; All endpoints Read; a: None",
    );
  });
});
