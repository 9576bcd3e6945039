// Pure: which client address a request came from, for per-address rate limits.
//
// Next.js gives server code no socket address. `next start` fills in `x-forwarded-for` with the
// socket's address only when the request has none (base-server: `x-forwarded-for ??= remoteAddress`),
// so the header is all there is. With `trustedProxies` = n, the nth entry from the right is the
// address that the outermost trusted proxy saw: a proxy that appends keeps whatever a client
// typed to the left, where it is ignored. With 0 (no proxy trusted) the rightmost entry is used:
// the socket address, unless the client sent the header itself; then it can pick its own
// bucket, which is why the per-email limit does not depend on this.

const UNKNOWN = "unknown";

export function clientAddress(forwardedFor: string | null | undefined, trustedProxies: number): string {
  const hops = (forwardedFor ?? "")
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop.length > 0);
  if (hops.length === 0) return UNKNOWN;
  const index = Math.max(0, hops.length - Math.max(1, trustedProxies));
  return normalizeAddress(hops[index]!);
}

/**
 * One bucket per IPv4 address, and per /64 for IPv6 (one host usually holds a whole /64, so
 * counting single IPv6 addresses would let it rotate through 2^64 of them). Ports, brackets,
 * zone ids and the IPv4-mapped prefix are dropped.
 */
export function normalizeAddress(raw: string): string {
  let address = raw.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"));
  address = address.replace(/%.*$/, "");
  const mapped = /^(?:0*:)*:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped) return mapped[1]!;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return address;
  const groups = expandIpv6(address);
  if (!groups) return address.slice(0, 64) || UNKNOWN;
  return `${groups.slice(0, 4).join(":")}::/64`;
}

function expandIpv6(address: string): string[] | null {
  if (!/^[0-9a-f:.]+$/.test(address) || address.split("::").length > 2) return null;
  const [head = "", tail] = address.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  // A trailing dotted quad (e.g. 64:ff9b::1.2.3.4) counts as two groups.
  const last = right.length > 0 ? right : left;
  const quad = last.at(-1);
  if (quad?.includes(".")) {
    const octets = quad.split(".").map(Number);
    if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) return null;
    last.splice(-1, 1, ((octets[0]! << 8) | octets[1]!).toString(16), ((octets[2]! << 8) | octets[3]!).toString(16));
  }
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ""));
}
