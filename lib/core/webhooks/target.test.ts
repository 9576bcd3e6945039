import { describe, expect, it } from "vitest";
import { addressRefusal, describeRange, isIpLiteral, MAX_WEBHOOK_URL_LENGTH, parseWebhookUrl } from "./target";

// The SSRF rule (SPEC §9): only public unicast addresses, as ipaddr.js classifies them.
describe("addressRefusal", () => {
  it.each<[string, string | null]>([
    // Public unicast: allowed.
    ["93.184.216.34", null],
    ["8.8.8.8", null],
    ["1.1.1.1", null],
    ["2606:4700:4700::1111", null],
    ["2a00:1450:4001:82a::200e", null],
    // Edges of the private ranges: just outside is public.
    ["9.255.255.255", null],
    ["11.0.0.0", null],
    ["172.15.255.255", null],
    ["172.32.0.0", null],
    ["192.167.255.255", null],
    ["192.169.0.0", null],
    ["100.63.255.255", null],
    ["100.128.0.0", null],
    // Loopback.
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["::1", "loopback"],
    // RFC 1918 and unique-local IPv6.
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.0", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["fc00::1", "uniqueLocal"],
    ["fd12:3456:789a::1", "uniqueLocal"],
    // Link-local, cloud metadata included.
    ["169.254.169.254", "linkLocal"],
    ["169.254.0.1", "linkLocal"],
    ["fe80::1", "linkLocal"],
    ["febf::1", "linkLocal"],
    // CGNAT, unspecified, multicast, broadcast, reserved.
    ["100.64.0.1", "carrierGradeNat"],
    ["100.127.255.255", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["192.0.2.1", "reserved"],
    ["240.0.0.1", "reserved"],
    ["2001:db8::1", "reserved"],
    // IPv4-mapped IPv6 counts as its IPv4 address, whichever way it is written.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "linkLocal"],
    ["::ffff:8.8.8.8", null],
    // IPv6 forms that embed an IPv4 address, which could be a private one: refused whole.
    ["64:ff9b::a00:1", "rfc6052"],
    ["2002:a00:1::1", "6to4"],
    ["2001:0:4136:e378::1", "teredo"],
    ["::ffff:0:a00:1", "rfc6145"],
    // Not an address.
    ["example.com", "invalid"],
    ["", "invalid"],
  ])("%s → %s", (address, refusal) => {
    expect(addressRefusal(address)).toBe(refusal);
  });
});

describe("parseWebhookUrl", () => {
  const strict = { allowPrivate: false };
  const open = { allowPrivate: true };

  it.each<[string, string]>([
    ["https://hooks.example.com/keyscope", "https://hooks.example.com/keyscope"],
    ["  http://hooks.example.com:8080/a?b=c  ", "http://hooks.example.com:8080/a?b=c"],
    ["HTTPS://Hooks.Example.COM", "https://hooks.example.com/"],
    ["https://93.184.216.34/hook", "https://93.184.216.34/hook"],
    ["https://[2606:4700:4700::1111]/hook", "https://[2606:4700:4700::1111]/hook"],
    // A name is resolved and checked at delivery time, not here.
    ["https://internal.corp.example/hook", "https://internal.corp.example/hook"],
  ])("accepts %s", (text, href) => {
    const result = parseWebhookUrl(text, strict);
    expect(result.ok && result.url.href).toBe(href);
  });

  it.each<[string, string]>([
    ["", "URL is required."],
    ["   ", "URL is required."],
    ["hooks.example.com/keyscope", "Enter an absolute URL, starting with https:// or http://."],
    ["/relative/path", "Enter an absolute URL, starting with https:// or http://."],
    ["ftp://hooks.example.com/", "The URL must start with https:// or http://."],
    ["file:///etc/passwd", "The URL must start with https:// or http://."],
    ["javascript:alert(1)", "The URL must start with https:// or http://."],
    ["https://user@hooks.example.com/", "The URL must not contain a user name or password: deliveries are signed instead."],
    ["https://user:secret@hooks.example.com/", "The URL must not contain a user name or password: deliveries are signed instead."],
    [`https://hooks.example.com/${"a".repeat(MAX_WEBHOOK_URL_LENGTH)}`, "URL must be at most 2,048 characters."],
    // Literal private targets, in every spelling URL normalises to them.
    ["http://127.0.0.1:3000/hook", "Webhooks cannot be sent to loopback addresses."],
    ["http://2130706433/", "Webhooks cannot be sent to loopback addresses."],
    ["http://0x7f.1/", "Webhooks cannot be sent to loopback addresses."],
    ["http://[::1]/", "Webhooks cannot be sent to loopback addresses."],
    ["http://[::ffff:127.0.0.1]/", "Webhooks cannot be sent to loopback addresses."],
    ["http://localhost:8080/", "Webhooks cannot be sent to loopback addresses."],
    ["http://api.localhost./", "Webhooks cannot be sent to loopback addresses."],
    ["http://10.1.2.3/", "Webhooks cannot be sent to private addresses."],
    ["http://192.168.0.10/", "Webhooks cannot be sent to private addresses."],
    ["http://[fd00::1]/", "Webhooks cannot be sent to private addresses."],
    ["http://169.254.169.254/latest/meta-data/", "Webhooks cannot be sent to link-local addresses."],
    ["http://[fe80::1]/", "Webhooks cannot be sent to link-local addresses."],
    ["http://100.64.1.1/", "Webhooks cannot be sent to carrier-grade NAT addresses."],
    ["http://0.0.0.0/", "Webhooks cannot be sent to unspecified addresses."],
    ["http://224.0.0.1/", "Webhooks cannot be sent to multicast or broadcast addresses."],
  ])("refuses %s", (text, message) => {
    expect(parseWebhookUrl(text, strict)).toEqual({ ok: false, message });
  });

  it("allows literal private targets only when the operator does", () => {
    for (const text of ["http://127.0.0.1:3000/hook", "http://localhost/", "http://10.0.0.1/", "http://[::1]:9/"]) {
      expect(parseWebhookUrl(text, open).ok).toBe(true);
    }
    // The rest of the rule still holds.
    expect(parseWebhookUrl("ftp://127.0.0.1/", open).ok).toBe(false);
    expect(parseWebhookUrl("http://u:p@127.0.0.1/", open).ok).toBe(false);
  });
});

describe("isIpLiteral and describeRange", () => {
  it.each([
    ["10.0.0.1", true],
    ["[::1]", true],
    ["::1", true],
    ["example.com", false],
    ["localhost", false],
  ])("%s is a literal: %s", (host, literal) => {
    expect(isIpLiteral(host)).toBe(literal);
  });

  it("words every range it may meet", () => {
    expect(["loopback", "private", "uniqueLocal", "linkLocal", "carrierGradeNat", "unspecified", "multicast", "reserved", "teredo"].map(describeRange)).toEqual([
      "loopback",
      "private",
      "private",
      "link-local",
      "carrier-grade NAT",
      "unspecified",
      "multicast or broadcast",
      "reserved or non-public",
      "IPv4-embedding IPv6",
    ]);
  });
});
