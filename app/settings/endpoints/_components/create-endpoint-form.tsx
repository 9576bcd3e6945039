"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useActionCall } from "@/components/use-action-call";
import { createEndpointAction } from "../actions";

export function CreateEndpointForm() {
  const [name, setName] = useState("");
  const action = useActionCall();

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (await action.call(() => createEndpointAction({ name }))) setName("");
  }

  return (
    <form onSubmit={submit} className="flex flex-col gap-3 rounded-lg border border-zinc-200 bg-white p-4 sm:flex-row sm:items-start" noValidate>
      <div className="flex-1">
        <Field
          id="endpoint-name"
          label="Name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          error={action.fieldErrors?.name ?? action.error}
          autoComplete="off"
          placeholder="e.g. whisper-large"
        />
      </div>
      <Button type="submit" disabled={action.pending} className="sm:mt-6">
        {action.pending ? "Creating…" : "Create endpoint"}
      </Button>
    </form>
  );
}
