import { DEFAULT_SUGGESTION_WINDOW, SUGGESTION_WINDOWS, describeRefusal, describeScopeSetting, type ScopeChange } from "@/lib/core/usage/suggest";
import type { ApiKeyDto } from "@/lib/dal/api-keys";
import { getUsageTallies } from "@/lib/dal/usage";
import { parseSuggestionWindow, suggestionFor, suggestionWindowDays } from "@/lib/server/scope-suggestion";
import { BasedOnSelect } from "./based-on-select";
import { ApplySuggestionButton, DisableSuggestionButton } from "./suggestion-buttons";

// SPEC §10 "Suggestions": the key page's section, a Server Component rendered for the window in
// `?basedOn=`; its select and buttons are client leaves.

/** `GraphQL: Read / Write → Read`. */
function describeChange(change: ScopeChange): string {
  return `${change.name}: ${describeScopeSetting(change.before)} \u2192 ${describeScopeSetting(change.after)}`;
}

export async function SuggestionsSection({
  accountId,
  apiKey,
  endpoints,
  basedOn,
  readOnly = false,
  className,
}: {
  accountId: string;
  apiKey: ApiKeyDto;
  endpoints: { id: string; name: string }[];
  /** The raw search param: anything outside the choices falls back to the default, and says so. */
  basedOn: string | string[] | undefined;
  /** SPEC §11: this member may not change the key, so the suggestion is shown without its buttons. */
  readOnly?: boolean;
  className?: string;
}) {
  const chosen = parseSuggestionWindow(basedOn);
  const window = chosen ?? DEFAULT_SUGGESTION_WINDOW;
  const label = SUGGESTION_WINDOWS.find((choice) => choice.id === window)!.label;
  const tallies = await getUsageTallies(accountId, apiKey.id, suggestionWindowDays(window));
  const suggestion = suggestionFor(apiKey, endpoints, tallies, window);
  const legacy = apiKey.kind === "legacy";

  return (
    <section aria-labelledby="suggestions-heading" className={className}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="suggestions-heading" className="text-base font-semibold">
          Suggestions
        </h2>
        <BasedOnSelect value={window} />
      </div>
      {chosen === null && basedOn !== undefined ? (
        <p className="mt-2 rounded-md bg-amber-50 p-2 text-sm text-amber-900">
          That window is not one of the choices (7 days, 30 days or 90 days); showing {label}.
        </p>
      ) : null}

      <div className="mt-3 flex flex-col gap-3 text-sm">
        {suggestion.kind === "narrow" ? (
          <>
            <p>The narrowest scopes that would have allowed every request this key made in the last {label}:</p>
            <ul aria-label="Suggested changes" className="flex flex-col gap-1">
              {suggestion.changes.map((change) => (
                <li key={`${change.scope}:${change.endpointId ?? ""}`} className="break-words font-medium">
                  {describeChange(change)}
                </li>
              ))}
            </ul>
            {legacy ? (
              <p className="text-zinc-600">A legacy key keeps the permission it was imported with: roll it into a scoped key to narrow its scopes.</p>
            ) : readOnly ? null : (
              <ApplySuggestionButton keyId={apiKey.id} basedOn={window} after={suggestion.after} />
            )}
          </>
        ) : suggestion.kind === "disable" ? (
          <>
            <p>
              This key made no request in the last {label}. Suggestion: <span className="font-medium">Disable</span> (switch it on again at any
              time, with the same secret and scopes).
            </p>
            {readOnly ? null : <DisableSuggestionButton keyId={apiKey.id} />}
          </>
        ) : suggestion.kind === "new" ? (
          <p>This key is younger than {label} and has made no request yet: nothing to suggest until it has been used.</p>
        ) : (
          <p>The scopes are already the narrowest for what this key used in the last {label}.</p>
        )}

        <div>
          <h3 className="font-semibold">Refused for missing scope</h3>
          {suggestion.refusals.length > 0 ? (
            <ul aria-label="Refused for missing scope" className="mt-1 flex flex-col gap-1">
              {suggestion.refusals.map((refusal) => (
                <li key={`${refusal.needs}:${refusal.resource}`} className="break-words">
                  {describeRefusal(refusal)}
                </li>
              ))}
            </ul>
          ) : (
            <p className="mt-1 text-zinc-600">No request was refused for missing scope in the last {label}.</p>
          )}
          <p className="mt-1 text-xs text-zinc-500">
            A suggestion never grants access: a refusal is listed for you to judge, and granted only with Edit scopes. Levels used only
            through an elevation are not kept.
          </p>
        </div>
      </div>
    </section>
  );
}
