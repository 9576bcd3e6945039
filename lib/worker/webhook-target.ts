import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { addressRefusal, describeRange, isIpLiteral } from "@/lib/core/webhooks/target";

// The server-side request forgery guard at delivery time (SPEC §9): the host is resolved here,
// every address it resolves to is checked (one private address among public ones refuses the
// lot: which one a connection picks is not ours to choose), and the request then connects to
// exactly those addresses through `pinnedLookup`, so a DNS answer that changes between the check
// and the connection (rebinding) cannot swap in another.

/** Resolves a host name to all its addresses (node:dns `lookup`, as the OS would). */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

export const resolveWithDns: ResolveAll = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

export type DeliveryTarget =
  | { ok: true; addresses: LookupAddress[] }
  /** `permanent`: trying again will not help (the host is refused), as opposed to a DNS hiccup. */
  | { ok: false; permanent: boolean; error: string };

/** Strips IPv6 brackets: `[::1]` in a URL is `::1` to a socket. */
function bare(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/** Where a delivery to `hostname` may connect, or why it may not. */
export async function resolveDeliveryTarget(hostname: string, options: { allowPrivate: boolean; resolve?: ResolveAll }): Promise<DeliveryTarget> {
  const host = bare(hostname);
  let addresses: LookupAddress[];
  if (isIpLiteral(hostname)) {
    addresses = [{ address: host, family: host.includes(":") ? 6 : 4 }];
  } else {
    try {
      addresses = await (options.resolve ?? resolveWithDns)(host);
    } catch {
      return { ok: false, permanent: false, error: "Could not resolve the host." };
    }
    if (addresses.length === 0) return { ok: false, permanent: false, error: "Could not resolve the host." };
  }
  if (!options.allowPrivate) {
    for (const { address } of addresses) {
      const refusal = addressRefusal(address);
      if (refusal) {
        const what = isIpLiteral(hostname) ? "the host is" : "the host resolves to";
        return { ok: false, permanent: true, error: `Refused: ${what} a ${describeRange(refusal)} address.` };
      }
    }
  }
  return { ok: true, addresses };
}

/**
 * A `lookup` for node:http(s) that answers only with the addresses already checked, whatever the
 * socket asks for (one address, all of them, or one family).
 */
export function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    // Older callers pass the family as a number instead of an options object.
    const asked = typeof (options as unknown) === "number" ? (options as unknown as number) : options?.family;
    const family = asked === 4 || asked === "IPv4" ? 4 : asked === 6 || asked === "IPv6" ? 6 : 0;
    const pool = family === 0 ? addresses : addresses.filter((entry) => entry.family === family);
    const first = pool[0];
    if (!first) {
      const error: NodeJS.ErrnoException = Object.assign(new Error("No checked address of the family asked for."), { code: "ENOTFOUND" });
      callback(error, "", 0);
      return;
    }
    if (typeof options === "object" && options?.all) callback(null, pool);
    else callback(null, first.address, first.family);
  };
}
