import http from "node:http";
import https from "node:https";
import { signWebhookBody } from "@/lib/core/webhooks/signature";
import { parseWebhookUrl } from "@/lib/core/webhooks/target";
import { pinnedLookup, resolveDeliveryTarget, type ResolveAll } from "./webhook-target";

export type WebhookDelivery = { id: string; event: string; url: string; secret: string; payload: string };

/**
 * One attempt's outcome. `status` is the receiver's HTTP status when it answered; `error` a short
 * message for the dashboard (never a response body, a header or a secret); `permanent` when
 * trying again cannot help (the target is refused).
 */
export type SendOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string; permanent: boolean };

export type SendOptions = { timeoutMs: number; allowPrivate: boolean; resolve?: ResolveAll };

export const USER_AGENT = "Keyscope-Webhooks/1";

/** Error codes worth naming as they are; anything else is "Request failed". */
const CONNECTION_ERRORS: Record<string, string> = {
  ECONNREFUSED: "Connection refused.",
  ECONNRESET: "Connection reset.",
  EPIPE: "Connection reset.",
  EHOSTUNREACH: "Host unreachable.",
  ENETUNREACH: "Network unreachable.",
  ETIMEDOUT: "Connection timed out.",
  ENOTFOUND: "Could not resolve the host.",
  EAI_AGAIN: "Could not resolve the host.",
  HPE_INVALID_CONSTANT: "The receiver's answer was not HTTP.",
};

/** A transport error in a few words: its code when it is a plain identifier, never its message. */
export function describeSendError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string" || !/^[A-Z][A-Z0-9_]{0,47}$/.test(code)) return "Request failed.";
  if (CONNECTION_ERRORS[code]) return CONNECTION_ERRORS[code];
  if (/CERT|TLS|SSL/.test(code)) return `TLS error (${code}).`;
  return `Request failed (${code}).`;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 1000 ? 2 : 1))} s`;
}

class DeliveryTimeout extends Error {
  override name = "DeliveryTimeout";
}

/**
 * POSTs one delivery: the exact stored payload, signed under the webhook's secret, to an address
 * checked by the SSRF guard. One deadline covers the lookup, the connection and the answer; only
 * the status is read (the body is dropped), redirects are not followed, no proxy is used.
 */
export async function sendWebhook(delivery: WebhookDelivery, options: SendOptions): Promise<SendOutcome> {
  const parsed = parseWebhookUrl(delivery.url, { allowPrivate: options.allowPrivate });
  if (!parsed.ok) return { ok: false, status: null, error: `Refused: ${parsed.message.charAt(0).toLowerCase()}${parsed.message.slice(1)}`, permanent: true };
  const url = parsed.url;
  const body = Buffer.from(delivery.payload, "utf8");
  const deadline = Date.now() + options.timeoutMs;
  const timedOut = { ok: false, status: null, error: `Timed out after ${seconds(options.timeoutMs)}.`, permanent: false } as const;

  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
  });
  try {
    // A lookup cannot be cancelled, but the attempt need not wait for it.
    const target = await Promise.race([resolveDeliveryTarget(url.hostname, { allowPrivate: options.allowPrivate, resolve: options.resolve }), expiry]);
    if (target === "timeout") return timedOut;
    if (!target.ok) return { ok: false, status: null, error: target.error, permanent: target.permanent };
    const remaining = Math.max(1, deadline - Date.now());
    return await new Promise<SendOutcome>((resolve) => {
      const client = url.protocol === "https:" ? https : http;
      const request = client.request(url, {
        method: "POST",
        // A fresh connection per delivery: a pooled socket would skip the pinned lookup.
        agent: false,
        lookup: pinnedLookup(target.addresses),
        headers: {
          "Content-Type": "application/json",
          "Content-Length": String(body.length),
          "User-Agent": USER_AGENT,
          "Keyscope-Event": delivery.event,
          "Keyscope-Delivery": delivery.id,
          "Keyscope-Signature": signWebhookBody(delivery.secret, body),
        },
      });
      const giveUp = setTimeout(() => request.destroy(new DeliveryTimeout()), remaining);
      request.on("response", (response) => {
        clearTimeout(giveUp);
        const status = response.statusCode ?? 0;
        // The status is the answer; the body is not read (a receiver may stream it for ever).
        response.destroy();
        resolve(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}.`, permanent: false });
      });
      request.on("error", (error) => {
        clearTimeout(giveUp);
        resolve(error instanceof DeliveryTimeout ? timedOut : { ok: false, status: null, error: describeSendError(error), permanent: false });
      });
      request.end(body);
    });
  } finally {
    clearTimeout(timer);
  }
}
