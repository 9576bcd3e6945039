// SPEC §9: a key's allowlist of client addresses. Parsing and matching go through ipaddr.js (a
// well-kept parser), with the forms a person would write: dotted-quad IPv4, IPv6 without a zone,
// each with an optional /prefix. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) counts as the IPv4 address,
// in the list and in a request alike, so one rule never depends on how a socket spelled the peer.
import ipaddr from "ipaddr.js";

export const MAX_ALLOWED_RANGES = 100;

export type AllowlistResult = { ok: true; ranges: string[] } | { ok: false; message: string };

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A strictly written address (no `0x7f.1`, no `1.2.3`, no zone), as IPv4 when it is IPv4-mapped. */
function parseAddress(text: string): Address | null {
  // By the colon first: a failed parse throws, and exceptions are slow on the request path.
  if (!text.includes(":")) return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : null;
  if (text.includes("%")) return null;
  // ipaddr.js reads an embedded IPv4 tail loosely (`::ffff:0x7f.0.0.1`), and the deprecated
  // IPv4-compatible `::10.0.0.1` as mapped (though `::a00:1` is not): hold both to the strict rule.
  const tail = text.slice(text.lastIndexOf(":") + 1);
  if (tail.includes(".") && (!ipaddr.IPv4.isValidFourPartDecimal(tail) || text === `::${tail}`)) return null;
  let v6: ipaddr.IPv6;
  try {
    v6 = ipaddr.IPv6.parse(text);
  } catch {
    return null;
  }
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** One line: an address (a /32 or /128) or a CIDR range, as its network in canonical form. */
export function parseRange(line: string): string | null {
  const slash = line.indexOf("/");
  const address = parseAddress(slash === -1 ? line : line.slice(0, slash));
  if (!address) return null;
  const max = address.kind() === "ipv4" ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const text = line.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(text)) return null;
    prefix = Number(text);
    // A mapped IPv6 range (::ffff:10.0.0.0/104) is the IPv4 range it maps.
    const mapped = address.kind() === "ipv4" && line.slice(0, slash).includes(":");
    if (mapped) prefix -= 96;
    if (prefix < 0 || prefix > max) return null;
  }
  const network =
    address.kind() === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);
  return `${network.toString()}/${prefix}`;
}

/**
 * The `Allowed IP addresses` textarea: one address or range per line, blank lines ignored, at
 * most 100. The first bad line is reported by its number; nothing is taken from a bad list.
 * Duplicates are kept once. An empty list is null: any address.
 */
export function parseAllowlist(text: string): AllowlistResult {
  const ranges: string[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const range = line.length <= 64 ? parseRange(line) : null;
    if (!range) return { ok: false, message: `Line ${index + 1} is not an IP address or CIDR range.` };
    if (!ranges.includes(range)) ranges.push(range);
    if (ranges.length > MAX_ALLOWED_RANGES) return { ok: false, message: `At most ${MAX_ALLOWED_RANGES} addresses or ranges.` };
  }
  return { ok: true, ranges };
}

/** Answers whether a client address is in the ranges; an address that cannot be parsed is in none. */
export type AddressMatcher = (clientAddress: string | null) => boolean;

/** Compiled once per stored list (the decision cache keeps the result with the key). */
export function compileAllowlist(ranges: readonly string[]): AddressMatcher {
  const parsed = ranges.flatMap((range) => {
    try {
      const [address, prefix] = ipaddr.parseCIDR(range);
      return [{ address, prefix }];
    } catch {
      return []; // stored lists are written by parseAllowlist; anything else allows nothing
    }
  });
  // Clients repeat: each address's answer is kept (bounded), so a request costs one map lookup.
  const answers = new Map<string, boolean>();
  return (clientAddress) => {
    if (clientAddress === null) return false;
    const known = answers.get(clientAddress);
    if (known !== undefined) return known;
    const address = parseClientAddress(clientAddress);
    const allowed = address !== null && parsed.some(({ address: network, prefix }) => network.kind() === address.kind() && address.match(network, prefix));
    if (answers.size >= 1_024) answers.clear();
    answers.set(clientAddress, allowed);
    return allowed;
  };
}

/** Whether `text` is one client address as the allowlist reads it (the verify API's `"ip"`). */
export function isClientAddress(text: string): boolean {
  return parseClientAddress(text) !== null;
}

/**
 * A client address as a socket, a trusted proxy or the verify API's `"ip"` spells it: brackets and
 * a zone (`fe80::1%eth0`) dropped, the rest read as strictly as the list. Not `ipaddr.process`,
 * which reads `010.0.0.1` as octal 8.0.0.1 and `10.1` as 10.0.0.1: a zero-padded address passed
 * on by a caller would then match a range it is not in.
 */
function parseClientAddress(text: string): Address | null {
  let address = text.length > 2 && text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const zone = address.indexOf("%");
  if (zone > 0 && address.includes(":")) address = address.slice(0, zone);
  return address.length <= 64 ? parseAddress(address) : null;
}
