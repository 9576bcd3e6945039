// Pure: which client address a request came from.
//
// The TCP peer is the client unless TRUST_PROXY says that n proxies stand in front: then each of
// them appended the address it saw to X-Forwarded-For, and the client is the address the
// outermost trusted proxy saw — the nth hop from the right of [X-Forwarded-For…, peer]. Anything a
// client typed into the header itself stands further left, where it is never read; with no proxy
// trusted the header is not read at all.

const UNKNOWN = "unknown";

/** The client's address as it was seen (not normalised), or "unknown" when there is no peer. */
export function clientAddress(forwardedFor: string | null | undefined, peerAddress: string | null | undefined, trustedProxies: number): string {
  const peer = peerAddress?.trim() || UNKNOWN;
  if (trustedProxies <= 0) return peer;
  const hops = (forwardedFor ?? "")
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop.length > 0);
  hops.push(peer);
  return hops[Math.max(0, hops.length - 1 - trustedProxies)]!;
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
