import type { AuditActorDto, AuditEvent, AuditLogEntryDto, AuditRestrictionsSnapshot, AuditScopesSnapshot } from "@/lib/dal/audit-log";
import { LEVEL_LABELS, type AccessLevel } from "@/lib/core/scopes/levels";
import { formatExactTime } from "@/app/settings/api-keys/relative-time";
import { describeRateLimit, displayRange } from "@/lib/core/restrictions/restrictions";
import { SUGGESTION_WINDOWS } from "@/lib/core/usage/suggest";
import { ROLE_LABELS } from "@/lib/core/teams/roles";
import { lifetimeLabel } from "@/lib/core/teams/policies";
import type { AuditApprovalDetails, AuditPoliciesSnapshot } from "@/lib/dal/audit-log";
import { ELEVATION_DURATIONS } from "@/lib/core/lifecycle/choices";

// One readable sentence per audit entry. Pure, so every wording is unit-tested.

const INHERITED = "inherited";
/** A legacy import can name thousands of keys; the sentence names the first few. */
const MAX_NAMED_KEYS = 10;

const quote = (name: string | null) => `\u201c${name ?? "?"}\u201d`;

function quoteList(names: string[]): string {
  const shown = names.slice(0, MAX_NAMED_KEYS).map(quote).join(", ");
  const rest = names.length - MAX_NAMED_KEYS;
  return rest > 0 ? `${shown} and ${rest} more` : shown;
}

/** "GraphQL Read; All endpoints None; whisper: Read / Write" (overrides by name). */
export function describeScopes(scopes: AuditScopesSnapshot): string {
  return [
    `GraphQL ${LEVEL_LABELS[scopes.graphql]}`,
    `All endpoints ${LEVEL_LABELS[scopes.endpointsAll]}`,
    ...scopes.endpoints.map((endpoint) => `${endpoint.name}: ${LEVEL_LABELS[endpoint.level]}`),
  ].join("; ");
}

/** Only what changed: "GraphQL None → Read; whisper: Read → Read / Write; llama: inherited → None". */
export function describeScopeChange(before: AuditScopesSnapshot, after: AuditScopesSnapshot): string {
  const parts: string[] = [];
  if (before.graphql !== after.graphql) parts.push(`GraphQL ${LEVEL_LABELS[before.graphql]} \u2192 ${LEVEL_LABELS[after.graphql]}`);
  if (before.endpointsAll !== after.endpointsAll) {
    parts.push(`All endpoints ${LEVEL_LABELS[before.endpointsAll]} \u2192 ${LEVEL_LABELS[after.endpointsAll]}`);
  }
  const rows = new Map<string, { name: string; before?: AccessLevel; after?: AccessLevel }>();
  for (const endpoint of before.endpoints) rows.set(endpoint.id, { name: endpoint.name, before: endpoint.level });
  for (const endpoint of after.endpoints) rows.set(endpoint.id, { ...rows.get(endpoint.id), name: endpoint.name, after: endpoint.level });
  const changed = [...rows.values()]
    .filter((row) => row.before !== row.after)
    .sort((x, y) => x.name.localeCompare(y.name));
  for (const row of changed) {
    const from = row.before ? LEVEL_LABELS[row.before] : INHERITED;
    const to = row.after ? LEVEL_LABELS[row.after] : INHERITED;
    parts.push(`${row.name}: ${from} \u2192 ${to}`);
  }
  return parts.join("; ");
}

/** Only what changed: "allowed IP addresses any → 10.0.0.0/8, 127.0.0.1; rate limit none → 100 requests per minute". */
export function describeRestrictionsChange(before: AuditRestrictionsSnapshot, after: AuditRestrictionsSnapshot): string {
  // A list holds up to 100 ranges; the sentence names the first few, as for keys.
  const shownAddresses = 10;
  const addresses = (list: string[] | null) => {
    if (list === null) return "any";
    const shown = list.slice(0, shownAddresses).map(displayRange).join(", ");
    return list.length > shownAddresses ? `${shown} and ${list.length - shownAddresses} more` : shown;
  };
  const limit = ({ rateLimit, per }: AuditRestrictionsSnapshot) => (rateLimit === null || per === null ? "none" : describeRateLimit({ limit: rateLimit, per }));
  const parts: string[] = [];
  if (JSON.stringify(before.allowedIps) !== JSON.stringify(after.allowedIps)) parts.push(`allowed IP addresses ${addresses(before.allowedIps)} \u2192 ${addresses(after.allowedIps)}`);
  if (limit(before) !== limit(after)) parts.push(`rate limit ${limit(before)} \u2192 ${limit(after)}`);
  return parts.join("; ");
}

/** Only what changed: "Maximum key lifetime No limit → 90 days; GraphQL Read / Write needs approval off → on". */
export function describePoliciesChange(before: AuditPoliciesSnapshot, after: AuditPoliciesSnapshot): string {
  const parts: string[] = [];
  if (before.maxKeyLifetimeDays !== after.maxKeyLifetimeDays) {
    parts.push(`Maximum key lifetime ${lifetimeLabel(before.maxKeyLifetimeDays)} \u2192 ${lifetimeLabel(after.maxKeyLifetimeDays)}`);
  }
  if (before.graphqlWriteNeedsApproval !== after.graphqlWriteNeedsApproval) {
    const onOff = (on: boolean) => (on ? "on" : "off");
    parts.push(`GraphQL Read / Write needs approval ${onOff(before.graphqlWriteNeedsApproval)} \u2192 ${onOff(after.graphqlWriteNeedsApproval)}`);
  }
  return parts.join("; ");
}

/** What a request asked for (always GraphQL Read / Write): on a new key, in a scope change, or as an elevation. */
function describeApprovalAsk(details: AuditApprovalDetails, name: string | null): string {
  if (details.kind === "elevated") {
    const duration = ELEVATION_DURATIONS.find((choice) => choice.id === details.duration)?.label ?? details.duration ?? "?";
    const reason = details.reason ? ` (reason: ${quote(details.reason)})` : "";
    return `an elevation of key ${quote(name)} to Read / Write on GraphQL for ${duration}${reason}`;
  }
  return `GraphQL Read / Write on ${details.kind === "created" ? "new key" : "key"} ${quote(name)}${details.kind === "scopes_changed" ? " (scope change)" : ""}`;
}

/** `30 days` for a suggestion's window; an id this version does not know is shown as recorded. */
function windowLabel(id: string | undefined): string {
  return SUGGESTION_WINDOWS.find((window) => window.id === id)?.label ?? id ?? "?";
}

/** An instant in an entry, as the rest of the log shows exact times. */
function at(ms: number): string {
  return formatExactTime(new Date(ms));
}

/** "GraphQL", "All endpoints", or `endpoint “alpha”`. */
function elevationPlace({ target, targetName }: { target: string; targetName: string }): string {
  return target.startsWith("endpoint:") ? `endpoint ${quote(targetName)}` : targetName;
}

function keyNoun(kind: "scoped" | "legacy"): string {
  return kind === "legacy" ? "legacy key" : "key";
}

function describeEvent(event: AuditEvent, name: string | null, targetType: AuditLogEntryDto["target"]["type"]): string {
  switch (event.action) {
    case "api_key.created": {
      const { expiresAt } = event.details;
      // Before the scopes, whose list is separated by semicolons already.
      const expiry = expiresAt === undefined ? "" : expiresAt === null ? " (no expiration)" : ` (expires ${at(expiresAt)})`;
      return `Created ${keyNoun(event.details.kind)} ${quote(name)}${expiry} with ${describeScopes(event.details.scopes)}`;
    }
    case "api_key.expiration_changed": {
      const { before, after } = event.details;
      const from = before === null ? "no expiration" : at(before);
      const to = after === null ? "no expiration" : at(after);
      return `Changed expiration of ${keyNoun(event.details.kind)} ${quote(name)} from ${from} to ${to}`;
    }
    case "api_key.rolled": {
      const { fromKind, previousValidUntil, untilFirstUse, endedEarlierGrace } = event.details;
      const made = fromKind === "legacy" ? `Rolled legacy key ${quote(name)} into a scoped key` : `Rolled key ${quote(name)}`;
      const old =
        previousValidUntil === null
          ? "the old key expired at once"
          : untilFirstUse
            ? `the old key stays valid until the new key is first used, at most until ${at(previousValidUntil)}`
            : `the old key stays valid until ${at(previousValidUntil)}`;
      return `${made}; ${old}${endedEarlierGrace ? "; the key kept from the roll before stopped working" : ""}`;
    }
    case "api_key.previous_expired": {
      const { cause, validUntil } = event.details;
      const why = cause === "manual" ? "expired by hand" : cause === "first_use" ? "the new key was first used" : "its grace period ended";
      return `Previous key of ${quote(name)} stopped working at ${at(validUntil)}: ${why}`;
    }
    case "api_key.elevated": {
      const { level, reason, endsAt } = event.details;
      return `Elevated key ${quote(name)} to ${LEVEL_LABELS[level]} on ${elevationPlace(event.details)} until ${at(endsAt)} (reason: ${quote(reason)})`;
    }
    case "api_key.elevation_ended": {
      const { level, cause, reason } = event.details;
      const what = `elevation of key ${quote(name)} to ${LEVEL_LABELS[level]} on ${elevationPlace(event.details)}`;
      return `${cause === "manual" ? `Ended the ${what}` : `The ${what} ran out`} (reason: ${quote(reason)})`;
    }
    case "api_key.leaked": {
      const { kind, secret, url, source, type, previouslyEnabled } = event.details;
      const noun = kind === "legacy" ? "Legacy key" : "Key";
      const subject = secret === "previous" ? `The previous secret of ${keyNoun(kind)} ${quote(name)}` : `${noun} ${quote(name)}`;
      const about = [source ? `source: ${source}` : "", type ? `type: ${type}` : ""].filter(Boolean).join("; ");
      return `${subject} was reported leaked${url ? ` at ${url}` : ""}${about ? ` (${about})` : ""}; ${previouslyEnabled ? "the key was disabled" : "the key was already disabled"}`;
    }
    case "api_key.enabled":
      return `Enabled ${keyNoun(event.details.kind)} ${quote(name)}`;
    case "api_key.disabled": {
      // SPEC §11: a removed member's keys are disabled with the removal; the entry says why.
      const { reason, member } = event.details;
      const why = reason === "member_removed" ? ` (member removed${member ? `: ${member}` : ""})` : "";
      return `Disabled ${keyNoun(event.details.kind)} ${quote(name)}${why}`;
    }
    case "api_key.restrictions_changed": {
      const change = describeRestrictionsChange(event.details.before, event.details.after);
      return change ? `Changed restrictions of ${quote(name)}: ${change}` : `Changed restrictions of ${quote(name)}`;
    }
    case "api_key.scopes_changed": {
      const change = describeScopeChange(event.details.before, event.details.after);
      const source = event.details.source === "suggestion" ? ` (from a suggestion based on ${windowLabel(event.details.basedOn)})` : "";
      return `Changed scopes of ${quote(name)}${source}${change ? `: ${change}` : ""}`;
    }
    case "api_key.deleted":
      return `Deleted ${keyNoun(event.details.kind)} ${quote(name)}`;
    case "api_key.legacy_imported": {
      const { count, keys } = event.details;
      const named = keys.map((key) => key.name);
      const levels = keys.length <= MAX_NAMED_KEYS ? keys.map((key) => `${quote(key.name)} (${LEVEL_LABELS[key.permission]})`).join(", ") : quoteList(named);
      return `Imported ${count} legacy ${count === 1 ? "key" : "keys"}: ${levels}`;
    }
    case "api_key.expiring": {
      const noun = event.details.kind === "legacy" ? "Legacy key" : "Key";
      return `${noun} ${quote(name)} expires within 7 days, at ${at(event.details.expiresAt)}`;
    }
    case "api_key.expired": {
      const noun = event.details.kind === "legacy" ? "Legacy key" : "Key";
      return `${noun} ${quote(name)} expired at ${at(event.details.expiresAt)}`;
    }
    case "webhook.added":
      return `Added webhook ${quote(name)}`;
    case "webhook.deleted": {
      const dropped = event.details.pendingDropped;
      return `Deleted webhook ${quote(name)}${dropped > 0 ? `; ${dropped} undelivered ${dropped === 1 ? "event was" : "events were"} dropped` : ""}`;
    }
    case "endpoint.created":
      return `Created endpoint ${quote(name)}`;
    case "endpoint.renamed":
      return `Renamed endpoint ${quote(event.details.from)} to ${quote(event.details.to)}`;
    case "endpoint.deleted": {
      const keys = event.details.keysWithOverride;
      if (keys.length === 0) return `Deleted endpoint ${quote(name)}`;
      return `Deleted endpoint ${quote(name)}, removing its scope from ${keys.length === 1 ? "key" : "keys"} ${quoteList(keys)}`;
    }
    case "member.invited":
      return `Invited ${quote(name)} as ${ROLE_LABELS[event.details.role]}`;
    case "member.joined":
      return `${quote(name)} joined as ${ROLE_LABELS[event.details.role]}`;
    case "member.role_changed":
      return `Changed the role of ${quote(name)} from ${ROLE_LABELS[event.details.from]} to ${ROLE_LABELS[event.details.to]}`;
    case "member.removed": {
      const { role, left, keysDisabled } = event.details;
      const what = left ? `${quote(name)} (${ROLE_LABELS[role]}) left the team` : `Removed member ${quote(name)} (${ROLE_LABELS[role]})`;
      if (keysDisabled === 0) return what;
      return `${what}; ${keysDisabled === 1 ? "their key was" : `their ${keysDisabled} keys were`} disabled`;
    }
    case "policies.changed": {
      const change = describePoliciesChange(event.details.before, event.details.after);
      return change ? `Changed policies: ${change}` : "Changed policies";
    }
    case "approval.requested":
      return `Asked for ${describeApprovalAsk(event.details, name)}; waiting for approval`;
    case "approval.approved":
    case "approval.declined": {
      const verb = event.action === "approval.approved" ? "Approved" : "Declined";
      const by = event.details.requestedBy ? `, asked by ${event.details.requestedBy}` : "";
      return `${verb} ${describeApprovalAsk(event.details, name)}${by}`;
    }
    case "unknown":
      return `Changed ${targetType === "api_key" ? "key" : targetType} ${quote(name)}`;
  }
}

/** Commands the audit log names in words; any other is shown as it was recorded. */
const COMMAND_LABELS: Record<string, string> = { "keys:import-legacy": "legacy import" };

/**
 * Who made the change, briefly: "by alice@example.com via dashboard" (SPEC §11: the user who
 * acted; entries from before teams say "via dashboard"), "via API key “ci” (key_…)", "via legacy
 * import". Null when the entry does not say (written before actors were recorded).
 */
export function describeActor(actor: AuditActorDto | null): string | null {
  if (!actor) return null;
  switch (actor.type) {
    case "dashboard":
      return actor.email ? `by ${actor.email} via dashboard` : "via dashboard";
    case "api_key":
      return actor.keyName === null ? `via API key ${actor.keyId}` : `via API key ${quote(actor.keyName)} (${actor.keyId})`;
    case "cli":
      return `via ${COMMAND_LABELS[actor.command] ?? actor.command}`;
    case "system":
      return "noticed by the server";
    case "scanner":
      return "via leak report";
  }
}

export function describeEntry(entry: AuditLogEntryDto): string {
  return describeEvent(entry, entry.target.name, entry.target.type);
}
