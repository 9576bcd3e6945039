import http from "node:http";
import type { AddressInfo } from "node:net";
import type { LookupAddress } from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendWebhook } from "./webhook-sender";
import { pinnedLookup, resolveDeliveryTarget, type ResolveAll } from "./webhook-target";

// The SSRF guard at delivery time: every address a name resolves to is checked, and the socket
// connects only to those.

const v4 = (address: string): LookupAddress => ({ address, family: 4 });
const v6 = (address: string): LookupAddress => ({ address, family: 6 });

/** A resolver from a table, as DNS would answer. */
function fakeDns(table: Record<string, LookupAddress[]>): ResolveAll {
  return async (hostname) => {
    const answer = table[hostname];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return answer;
  };
}

const dns = fakeDns({
  "public.example": [v4("93.184.216.34"), v6("2606:2800:220:1:248:1893:25c8:1946")],
  "loopback.example": [v4("127.0.0.1")],
  "private.example": [v4("10.0.0.7")],
  "metadata.example": [v4("169.254.169.254")],
  "cgnat.example": [v4("100.64.0.9")],
  "ula.example": [v6("fd00::7")],
  "linklocal6.example": [v6("fe80::1")],
  "mapped.example": [v6("::ffff:192.168.1.1")],
  // One bad address among good ones refuses the lot: the socket might pick it.
  "mixed.example": [v4("93.184.216.34"), v4("192.168.0.1")],
  "mixed6.example": [v6("2606:4700::1"), v6("::1")],
  "empty.example": [],
});

describe("resolveDeliveryTarget", () => {
  it.each<[string, { ok: true; addresses: LookupAddress[] } | { ok: false; permanent: boolean; error: string }]>([
    ["public.example", { ok: true, addresses: [v4("93.184.216.34"), v6("2606:2800:220:1:248:1893:25c8:1946")] }],
    ["93.184.216.34", { ok: true, addresses: [v4("93.184.216.34")] }],
    ["[2606:4700::1]", { ok: true, addresses: [v6("2606:4700::1")] }],
    ["loopback.example", { ok: false, permanent: true, error: "Refused: the host resolves to a loopback address." }],
    ["private.example", { ok: false, permanent: true, error: "Refused: the host resolves to a private address." }],
    ["metadata.example", { ok: false, permanent: true, error: "Refused: the host resolves to a link-local address." }],
    ["cgnat.example", { ok: false, permanent: true, error: "Refused: the host resolves to a carrier-grade NAT address." }],
    ["ula.example", { ok: false, permanent: true, error: "Refused: the host resolves to a private address." }],
    ["linklocal6.example", { ok: false, permanent: true, error: "Refused: the host resolves to a link-local address." }],
    ["mapped.example", { ok: false, permanent: true, error: "Refused: the host resolves to a private address." }],
    ["mixed.example", { ok: false, permanent: true, error: "Refused: the host resolves to a private address." }],
    ["mixed6.example", { ok: false, permanent: true, error: "Refused: the host resolves to a loopback address." }],
    ["127.0.0.1", { ok: false, permanent: true, error: "Refused: the host is a loopback address." }],
    ["[::1]", { ok: false, permanent: true, error: "Refused: the host is a loopback address." }],
    ["[::ffff:a9fe:a9fe]", { ok: false, permanent: true, error: "Refused: the host is a link-local address." }],
    // A name that does not resolve may resolve later: not permanent.
    ["nowhere.example", { ok: false, permanent: false, error: "Could not resolve the host." }],
    ["empty.example", { ok: false, permanent: false, error: "Could not resolve the host." }],
  ])("%s", async (hostname, expected) => {
    expect(await resolveDeliveryTarget(hostname, { allowPrivate: false, resolve: dns })).toEqual(expected);
  });

  it("lets private targets through when the operator allows them (WEBHOOK_ALLOW_PRIVATE=1)", async () => {
    for (const hostname of ["loopback.example", "mixed.example", "127.0.0.1", "[::1]"]) {
      expect(await resolveDeliveryTarget(hostname, { allowPrivate: true, resolve: dns })).toMatchObject({ ok: true });
    }
  });

  it("resolves with the system's DNS by default (localhost is refused after resolution)", async () => {
    expect(await resolveDeliveryTarget("localhost", { allowPrivate: false })).toMatchObject({ ok: false, permanent: true });
  });
});

describe("pinnedLookup", () => {
  const lookup = pinnedLookup([v4("93.184.216.34"), v6("2606:4700::1")]);
  const ask = (options: object | number) =>
    new Promise<unknown[]>((resolve) => lookup("anything.example", options as never, (...answer: unknown[]) => resolve(answer)));

  it.each<[string, object | number, unknown[]]>([
    ["one address", {}, [null, "93.184.216.34", 4]],
    ["all of them", { all: true }, [null, [v4("93.184.216.34"), v6("2606:4700::1")]]],
    ["IPv6 only", { family: 6 }, [null, "2606:4700::1", 6]],
    ["IPv4, by name", { family: "IPv4", all: true }, [null, [v4("93.184.216.34")]]],
    ["a family as a bare number", 6, [null, "2606:4700::1", 6]],
  ])("answers %s with the checked addresses only, whatever the name", async (_label, options, answer) => {
    expect(await ask(options)).toEqual(answer);
  });

  it("answers ENOTFOUND when no checked address is of the family asked for", async () => {
    const [error] = await new Promise<unknown[]>((resolve) => pinnedLookup([v4("93.184.216.34")])("x", { family: 6 }, (...answer: unknown[]) => resolve(answer)));
    expect(error).toMatchObject({ code: "ENOTFOUND" });
  });
});

describe("a delivery connects to the address that was checked", () => {
  let server: http.Server;
  let port = 0;
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      seen.push(String(request.headers.host));
      request.resume();
      response.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const delivery = (url: string) => ({ id: "dlv_1", event: "key.created", url, secret: "whsec_x", payload: "{}" });

  it("a name is resolved once, by the guard: the socket uses its answer, not another lookup", async () => {
    let lookups = 0;
    // First answer 127.0.0.1 (allowed here), then anything else: a rebinding resolver.
    const rebinding: ResolveAll = async () => (lookups++ === 0 ? [v4("127.0.0.1")] : [v4("93.184.216.34")]);
    const outcome = await sendWebhook(delivery(`http://rebind.test:${port}/hook`), { timeoutMs: 5_000, allowPrivate: true, resolve: rebinding });
    expect(outcome).toEqual({ ok: true, status: 200 });
    expect(lookups).toBe(1);
    expect(seen.at(-1)).toBe(`rebind.test:${port}`);
  });

  it("without WEBHOOK_ALLOW_PRIVATE the same delivery is refused before any connection", async () => {
    const before = seen.length;
    const outcome = await sendWebhook(delivery(`http://rebind.test:${port}/hook`), { timeoutMs: 5_000, allowPrivate: false, resolve: async () => [v4("127.0.0.1")] });
    expect(outcome).toEqual({ ok: false, status: null, error: "Refused: the host resolves to a loopback address.", permanent: true });
    const literal = await sendWebhook(delivery(`http://127.0.0.1:${port}/hook`), { timeoutMs: 5_000, allowPrivate: false });
    expect(literal).toEqual({ ok: false, status: null, error: "Refused: webhooks cannot be sent to loopback addresses.", permanent: true });
    expect(seen.length).toBe(before);
  });
});
