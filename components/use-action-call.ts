"use client";

import { useState } from "react";
import type { ActionResult } from "@/lib/action-result";

const OFFLINE = "Could not reach the server. Check your connection and try again.";

/**
 * Calls a dashboard server action from a form or button: `pending` while it runs, and its
 * refusal kept as `error` (with per-field messages in `fieldErrors`) for the form to show.
 */
export function useActionCall() {
  const [pending, setPending] = useState(false);
  const [failure, setFailure] = useState<{ error: string; fieldErrors?: Record<string, string> }>();

  async function call<T>(action: () => Promise<ActionResult<T>>): Promise<{ data: T } | null> {
    setPending(true);
    setFailure(undefined);
    try {
      const result = await action();
      if (result.ok) return { data: result.data };
      setFailure({ error: result.message, fieldErrors: result.fieldErrors });
    } catch {
      setFailure({ error: OFFLINE });
    } finally {
      setPending(false);
    }
    return null;
  }

  return { pending, error: failure?.error, fieldErrors: failure?.fieldErrors, call, reset: () => setFailure(undefined) };
}
