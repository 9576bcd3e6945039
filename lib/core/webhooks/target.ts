// SPEC §9: where a webhook may point. Server-side request forgery is the risk: a URL aimed at the
// server's own loopback, a private network or a cloud metadata address (169.254.169.254) would
// make Keyscope post into places its users cannot reach. Only public unicast addresses pass, as
// ipaddr.js classifies them; everything else (loopback, RFC 1918, fc00::/7, link-local, CGNAT,
// multicast, reserved, documentation, and the IPv6 forms that embed an IPv4 address: mapped,
// NAT64, 6to4, Teredo) is refused unless the operator allows private targets.
import ipaddr from "ipaddr.js";

export const MAX_WEBHOOK_URL_LENGTH = 2_048;

export type WebhookUrlResult = { ok: true; url: URL } | { ok: false; message: string };

/** The address as ipaddr.js reads it (IPv4-mapped IPv6 as its IPv4), or null when it is not one. */
function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return null;
  const address = ipaddr.parse(bare);
  return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

/**
 * Why a webhook may not be sent to this IP address — `loopback`, `private`, `linkLocal`, … (the
 * ipaddr.js range) — or null for a public unicast address. Not an address: `invalid`.
 */
export function addressRefusal(address: string): string | null {
  const ip = parseIp(address);
  if (!ip) return "invalid";
  const range = ip.range();
  return range === "unicast" ? null : range;
}

/** True for a host name that is an IP address literal (`10.0.0.1`, `[::1]`), as URL writes them. */
export function isIpLiteral(hostname: string): boolean {
  return parseIp(hostname) !== null;
}

/** `localhost` and its subdomains always mean this machine (RFC 6761), whatever DNS says. */
function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * A webhook URL as a person types it: absolute `http(s)`, at most 2,048 characters, no user name
 * or password in it, and — unless private targets are allowed — not a host that is a loopback,
 * private or link-local address literally (names are resolved, and checked, at delivery time).
 */
export function parseWebhookUrl(text: string, options: { allowPrivate: boolean }): WebhookUrlResult {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, message: "URL is required." };
  if (trimmed.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, message: `URL must be at most ${MAX_WEBHOOK_URL_LENGTH.toLocaleString("en-US")} characters.` };
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return { ok: false, message: "Enter an absolute URL, starting with https:// or http://." };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, message: "The URL must start with https:// or http://." };
  if (url.username !== "" || url.password !== "") {
    return { ok: false, message: "The URL must not contain a user name or password: deliveries are signed instead." };
  }
  if (url.hostname === "") return { ok: false, message: "The URL has no host." };
  // Normalising can lengthen it (`http://0x7f.1` → `http://127.0.0.1/`): the rule holds for what is stored.
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, message: `URL must be at most ${MAX_WEBHOOK_URL_LENGTH.toLocaleString("en-US")} characters.` };
  if (!options.allowPrivate) {
    const refusal = isLocalhostName(url.hostname) ? "loopback" : isIpLiteral(url.hostname) ? addressRefusal(url.hostname) : null;
    if (refusal) return { ok: false, message: `Webhooks cannot be sent to ${describeRange(refusal)} addresses.` };
  }
  return { ok: true, url };
}

/** An ipaddr.js range in words, for messages. */
export function describeRange(range: string): string {
  switch (range) {
    case "loopback":
      return "loopback";
    case "private":
    case "uniqueLocal":
      return "private";
    case "linkLocal":
      return "link-local";
    case "carrierGradeNat":
      return "carrier-grade NAT";
    case "unspecified":
      return "unspecified";
    case "multicast":
    case "broadcast":
      return "multicast or broadcast";
    case "ipv4Mapped":
    case "rfc6145":
    case "rfc6052":
    case "6to4":
    case "teredo":
      return "IPv4-embedding IPv6";
    default:
      return "reserved or non-public";
  }
}
