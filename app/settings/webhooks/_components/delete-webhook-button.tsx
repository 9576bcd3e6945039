"use client";

import { ConfirmedActionButton } from "@/components/confirmed-action-button";
import { deleteWebhookAction } from "../actions";

export function DeleteWebhookButton({ webhookId, url }: { webhookId: string; url: string }) {
  return (
    <ConfirmedActionButton
      label="Delete"
      ariaLabel={`Delete webhook ${url}`}
      title="Delete this webhook?"
      description={
        <p className="break-all">
          <span className="font-mono">{url}</span> will receive no more events, and its undelivered events are dropped. This cannot be undone.
        </p>
      }
      confirmLabel="Delete webhook"
      run={() => deleteWebhookAction({ webhookId })}
    />
  );
}
