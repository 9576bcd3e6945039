"use client";

import * as RadioGroup from "@radix-ui/react-radio-group";
import { useState } from "react";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { effectiveEndpointLevel, endpointOverride, type KeyScopes } from "@/lib/core/scopes/evaluate";
import { ACCESS_LEVELS, LEVEL_LABELS, type AccessLevel } from "@/lib/core/scopes/levels";

const FILTER_THRESHOLD = 10;

type EndpointOption = { id: string; name: string };

const COLUMNS = "grid grid-cols-3 w-[12rem] sm:w-[15rem] shrink-0";

function LevelRow({
  label,
  value,
  onChange,
  disabled,
  inherited = false,
  detail,
}: {
  label: string;
  value: AccessLevel;
  onChange: (level: AccessLevel) => void;
  disabled: boolean;
  inherited?: boolean;
  detail?: React.ReactNode;
}) {
  return (
    <div className="flex items-center gap-2 border-t border-zinc-100 py-2">
      <div className="min-w-0 flex-1">
        <div className="truncate text-sm font-medium" title={label}>
          {label}
        </div>
        {detail}
      </div>
      <RadioGroup.Root
        aria-label={label}
        value={value}
        onValueChange={(next) => onChange(next as AccessLevel)}
        disabled={disabled}
        orientation="horizontal"
        className={COLUMNS}
      >
        {ACCESS_LEVELS.map((level) => (
          <div key={level} className="flex justify-center">
            <RadioGroup.Item
              value={level}
              aria-label={LEVEL_LABELS[level]}
              // A click on the already-checked (inherited) level pins it as an explicit override.
              onClick={() => onChange(level)}
              className={`flex size-5 items-center justify-center rounded-full border-2 border-zinc-400 bg-white disabled:cursor-not-allowed disabled:opacity-60 ${
                inherited ? "data-[state=checked]:border-zinc-400" : "data-[state=checked]:border-indigo-600"
              }`}
            >
              <RadioGroup.Indicator className={`block size-2.5 rounded-full ${inherited ? "bg-zinc-400" : "bg-indigo-600"}`} />
            </RadioGroup.Item>
          </div>
        ))}
      </RadioGroup.Root>
    </div>
  );
}

/**
 * The scope editor: GraphQL, all endpoints, and one row per endpoint. An endpoint row shows its
 * effective level; until it is set it follows `All endpoints` (shown in grey, "inherits").
 */
export function ScopeGrid({
  endpoints,
  value,
  onChange,
  readOnly = false,
}: {
  endpoints: EndpointOption[];
  value: KeyScopes;
  onChange?: (next: KeyScopes) => void;
  readOnly?: boolean;
}) {
  const [filter, setFilter] = useState("");
  const [confirmingGraphql, setConfirmingGraphql] = useState(false);
  const change = (next: KeyScopes) => onChange?.(next);
  const needle = filter.trim().toLowerCase();
  const visible = needle
    ? endpoints.filter((endpoint) => endpoint.name.toLowerCase().includes(needle) || endpoint.id.includes(needle))
    : endpoints;

  function setEndpoint(endpointId: string, level: AccessLevel | null) {
    const overrides = { ...value.endpoints };
    if (level === null) delete overrides[endpointId];
    else overrides[endpointId] = level;
    change({ ...value, endpoints: overrides });
  }

  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-end gap-2 pb-1 text-xs font-medium text-zinc-500">
        <div className="flex-1">Access</div>
        <div className={COLUMNS} aria-hidden="true">
          {ACCESS_LEVELS.map((level) => (
            <div key={level} className="text-center">
              {LEVEL_LABELS[level]}
            </div>
          ))}
        </div>
      </div>
      <div>
        <LevelRow
          label="GraphQL"
          value={value.graphql}
          disabled={readOnly}
          detail={<p className="text-xs text-zinc-500">Account management: endpoints and pods</p>}
          onChange={(level) => {
            if (level === value.graphql) return;
            if (level === "read_write") setConfirmingGraphql(true);
            else change({ ...value, graphql: level });
          }}
        />
        <LevelRow
          label="All endpoints"
          value={value.endpointsAll}
          disabled={readOnly}
          detail={<p className="text-xs text-zinc-500">Includes endpoints created later</p>}
          onChange={(level) => level !== value.endpointsAll && change({ ...value, endpointsAll: level })}
        />
      </div>
      {endpoints.length > 0 ? (
        <div className="mt-2">
          <div className="flex flex-wrap items-center justify-between gap-2">
            <h3 className="text-sm font-semibold">Per endpoint</h3>
            {endpoints.length > FILTER_THRESHOLD ? (
              <input
                type="search"
                aria-label="Filter endpoints"
                placeholder="Filter endpoints"
                value={filter}
                onChange={(event) => setFilter(event.target.value)}
                className="w-full rounded-md border border-zinc-300 px-2 py-1 text-sm sm:w-56"
              />
            ) : null}
          </div>
          <div className="mt-1 max-h-72 overflow-y-auto">
            {visible.map((endpoint) => {
              const override = endpointOverride(value, endpoint.id);
              return (
                <LevelRow
                  key={endpoint.id}
                  label={endpoint.name}
                  // The same rule as the verifier's, so the grid shows what a request would get.
                  value={effectiveEndpointLevel(value.endpointsAll, override)}
                  inherited={override === undefined}
                  disabled={readOnly}
                  onChange={(level) => override !== level && setEndpoint(endpoint.id, level)}
                  detail={
                    override === undefined ? (
                      <p className="text-xs text-zinc-500">Inherits All endpoints</p>
                    ) : readOnly ? null : (
                      <button
                        type="button"
                        className="text-xs text-indigo-700 underline-offset-2 hover:underline"
                        onClick={() => setEndpoint(endpoint.id, null)}
                        aria-label={`Reset ${endpoint.name} to All endpoints`}
                      >
                        Reset to All endpoints
                      </button>
                    )
                  }
                />
              );
            })}
            {visible.length === 0 ? <p className="py-2 text-sm text-zinc-500">No endpoint matches “{filter}”.</p> : null}
          </div>
        </div>
      ) : null}
      <ConfirmDialog
        open={confirmingGraphql}
        onOpenChange={setConfirmingGraphql}
        title="Grant GraphQL read / write?"
        description={
          <p>
            With GraphQL read / write this key can create, rename and delete endpoints and start and terminate GPU pods on this
            account — actions that change your infrastructure and your bill. Grant it only to keys that must manage the account.
          </p>
        }
        confirmLabel="Grant read / write"
        onConfirm={() => {
          setConfirmingGraphql(false);
          change({ ...value, graphql: "read_write" });
        }}
      />
    </div>
  );
}
