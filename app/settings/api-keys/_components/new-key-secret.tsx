"use client";

import type { ReactNode } from "react";
import { Button } from "@/components/ui/button";
import { CopyButton } from "@/components/ui/copy-button";

/**
 * A new secret, shown once in a read-only field (`New API key` unless `label` says otherwise: a
 * webhook's `Signing secret` too), with a copy button and `Done`.
 */
export function NewKeySecret({
  plaintext,
  onDone,
  children,
  label = "New API key",
  id = "new-api-key",
  copyLabel = "Copy API key",
}: {
  plaintext: string;
  onDone: () => void;
  children?: ReactNode;
  label?: string;
  id?: string;
  copyLabel?: string;
}) {
  return (
    <div className="flex flex-col gap-3">
      <label htmlFor={id} className="text-sm font-medium">
        {label}
      </label>
      <div className="flex gap-2">
        <input
          id={id}
          readOnly
          value={plaintext}
          onFocus={(event) => event.currentTarget.select()}
          className="min-w-0 flex-1 rounded-md border border-zinc-300 bg-zinc-50 px-3 py-2 font-mono text-sm"
        />
        <CopyButton value={plaintext} label={copyLabel} />
      </div>
      {children}
      <div className="flex justify-end">
        <Button onClick={onDone}>Done</Button>
      </div>
    </div>
  );
}
