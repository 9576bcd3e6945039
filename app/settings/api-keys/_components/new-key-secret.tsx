"use client";

import type { ReactNode } from "react";
import { Button } from "@/components/ui/button";
import { CopyButton } from "@/components/ui/copy-button";

/** A new secret, shown once in the read-only field `New API key`, with a copy button and `Done`. */
export function NewKeySecret({ plaintext, onDone, children }: { plaintext: string; onDone: () => void; children?: ReactNode }) {
  return (
    <div className="flex flex-col gap-3">
      <label htmlFor="new-api-key" className="text-sm font-medium">
        New API key
      </label>
      <div className="flex gap-2">
        <input
          id="new-api-key"
          readOnly
          value={plaintext}
          onFocus={(event) => event.currentTarget.select()}
          className="min-w-0 flex-1 rounded-md border border-zinc-300 bg-zinc-50 px-3 py-2 font-mono text-sm"
        />
        <CopyButton value={plaintext} label="Copy API key" />
      </div>
      {children}
      <div className="flex justify-end">
        <Button onClick={onDone}>Done</Button>
      </div>
    </div>
  );
}
