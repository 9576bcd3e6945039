"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { createEndpointAction } from "../actions";

export function CreateEndpointForm() {
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const [pending, setPending] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      const result = await createEndpointAction({ name });
      if (result.ok) setName("");
      else setError(result.fieldErrors?.name ?? result.message);
    } catch {
      setError("Could not reach the server. Check your connection and try again.");
    } finally {
      setPending(false);
    }
  }

  return (
    <form onSubmit={submit} className="flex flex-col gap-3 rounded-lg border border-zinc-200 bg-white p-4 sm:flex-row sm:items-start" noValidate>
      <div className="flex-1">
        <Field
          id="endpoint-name"
          label="Name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          error={error}
          autoComplete="off"
          placeholder="e.g. whisper-large"
        />
      </div>
      <Button type="submit" disabled={pending} className="sm:mt-6">
        {pending ? "Creating…" : "Create endpoint"}
      </Button>
    </form>
  );
}
