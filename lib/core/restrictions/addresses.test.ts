import { describe, expect, it } from "vitest";
import { compileAllowlist, MAX_ALLOWED_RANGES, parseAllowlist, parseRange } from "./addresses";

// SPEC §9: the `Allowed IP addresses` list as typed, and the client addresses matched against it.

const badLine = (line: number) => ({ ok: false, message: `Line ${line} is not an IP address or CIDR range.` });
const TOO_MANY = { ok: false, message: `At most ${MAX_ALLOWED_RANGES} addresses or ranges.` };

describe("parseRange: one line, as its network in canonical form", () => {
  it.each<[string, string]>([
    // IPv4: an address is its /32; a range keeps its prefix.
    ["1.2.3.4", "1.2.3.4/32"],
    ["0.0.0.0", "0.0.0.0/32"],
    ["255.255.255.255", "255.255.255.255/32"],
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["1.2.3.4/32", "1.2.3.4/32"],
    // Host bits set: the network the range names.
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["192.168.1.77/24", "192.168.1.0/24"],
    ["203.0.113.255/31", "203.0.113.254/31"],
    ["1.2.3.4/0", "0.0.0.0/0"],
    // IPv6: compressed, uncompressed, upper case all come out in RFC 5952 form.
    ["2001:db8::1", "2001:db8::1/128"],
    ["2001:DB8::1", "2001:db8::1/128"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128"],
    ["2001:0DB8:0:0:0:0:0:1", "2001:db8::1/128"],
    ["::1", "::1/128"],
    ["::", "::/128"],
    ["::/0", "::/0"],
    ["::1/128", "::1/128"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["2001:db8:abcd:12::99/64", "2001:db8:abcd:12::/64"],
    ["2001:db8::ffff/127", "2001:db8::fffe/127"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0/128"],
    // IPv4 embedded in a non-mapped IPv6 address stays IPv6.
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201/128"],
    // IPv4-mapped IPv6 is the IPv4 address, however it is written; a mapped range maps its prefix.
    ["::ffff:10.0.0.1", "10.0.0.1/32"],
    ["::FFFF:10.0.0.1", "10.0.0.1/32"],
    ["::ffff:a00:1", "10.0.0.1/32"],
    ["0:0:0:0:0:ffff:10.0.0.1", "10.0.0.1/32"],
    ["0000:0000:0000:0000:0000:FFFF:0A00:0001", "10.0.0.1/32"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:10.9.8.7/120", "10.9.8.0/24"],
    ["::ffff:10.0.0.1/128", "10.0.0.1/32"],
    ["::ffff:0:0/96", "0.0.0.0/0"],
  ])("%s → %s", (line, expected) => {
    expect(parseRange(line)).toBe(expected);
  });

  it.each<[string, string]>([
    ["1.2.3", "three parts"],
    ["1.2.3.4.5", "five parts"],
    ["10.1", "two parts (inet_aton would read 10.0.0.1)"],
    ["167772161", "one number"],
    ["0x7f.0.0.1", "hex part"],
    ["0x7f000001", "hex number"],
    ["010.0.0.1", "leading zero (octal to inet_aton)"],
    ["256.0.0.1", "part over 255"],
    ["1.2.3.-4", "negative part"],
    ["10.0.0.0/33", "IPv4 prefix over 32"],
    ["::1/129", "IPv6 prefix over 128"],
    ["10.0.0.0/-1", "negative prefix"],
    ["10.0.0.0/", "empty prefix"],
    ["10.0.0.0/08", "prefix with a leading zero"],
    ["10.0.0.0/+8", "prefix with a sign"],
    ["10.0.0.0/ 8", "space in the prefix"],
    ["10.0.0.0/8/8", "two prefixes"],
    ["::1/1e2", "prefix in exponent form"],
    ["10.0.0.0/255.0.0.0", "netmask instead of a prefix"],
    ["fe80::1%eth0", "IPv6 zone"],
    ["fe80::1%eth0/64", "IPv6 zone with a prefix"],
    ["::ffff:10.0.0.1%eth0", "mapped with a zone"],
    ["[::1]", "brackets"],
    ["::ffff:0x7f.0.0.1", "hex IPv4 tail in IPv6"],
    ["::ffff:010.0.0.1", "leading zero in an IPv4 tail"],
    ["::ffff:1.2.3", "short IPv4 tail"],
    ["::10.0.0.1", "deprecated IPv4-compatible form"],
    ["::ffff:10.0.0.0/95", "mapped range wider than IPv4"],
    ["1:2:3:4:5:6:7:8:9", "nine groups"],
    ["1::2::3", "two ::"],
    [":::", "three colons"],
    ["00001::", "group of five digits"],
    ["2001:db8::g", "not hex"],
    ["example.com", "hostname"],
    ["localhost", "hostname"],
    ["1.2.3.4 x", "trailing garbage"],
    ["1.2.3.4,5.6.7.8", "two on one line"],
    ["1.2.3.4 ", "untrimmed (parseAllowlist trims)"],
    ["", "empty"],
    ["*", "wildcard"],
  ])("%s is refused (%s)", (line) => {
    expect(parseRange(line)).toBeNull();
  });
});

describe("parseAllowlist: the textarea as typed", () => {
  it.each<[string, string, string[]]>([
    ["empty text", "", []],
    ["only blank lines and spaces", "\n  \n\t\r\n", []],
    ["one address", "203.0.113.7", ["203.0.113.7/32"]],
    ["one per line, in the order given", "10.0.0.0/8\n2001:db8::/32\n127.0.0.1", ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1/32"]],
    ["spaces around a line", "  10.0.0.1 \t\n\t::1  ", ["10.0.0.1/32", "::1/128"]],
    ["blank lines anywhere", "\n\n10.0.0.1\n\n\n::1\n\n", ["10.0.0.1/32", "::1/128"]],
    ["CRLF", "10.0.0.1\r\n::1\r\n", ["10.0.0.1/32", "::1/128"]],
    ["lone CR", "10.0.0.1\r::1", ["10.0.0.1/32", "::1/128"]],
    ["no final newline", "10.0.0.1\n10.0.0.2", ["10.0.0.1/32", "10.0.0.2/32"]],
    // Duplicates are kept once, after normalising: the same network however it was written.
    ["the same line twice", "10.0.0.1\n10.0.0.1", ["10.0.0.1/32"]],
    ["an address and its /32", "10.0.0.1\n10.0.0.1/32", ["10.0.0.1/32"]],
    ["one network with host bits and without", "10.0.0.0/8\n10.9.9.9/8", ["10.0.0.0/8"]],
    ["IPv6 spelled three ways", "2001:db8::1\n2001:DB8:0:0:0:0:0:1\n2001:0db8::0001", ["2001:db8::1/128"]],
    ["mapped and plain IPv4", "::ffff:10.0.0.1\n10.0.0.1", ["10.0.0.1/32"]],
    // Overlapping ranges are different ranges: both kept.
    ["a range and an address in it", "10.0.0.0/8\n10.0.0.1", ["10.0.0.0/8", "10.0.0.1/32"]],
  ])("%s", (_label, text, ranges) => {
    expect(parseAllowlist(text)).toEqual({ ok: true, ranges });
  });

  it.each<[string, string, number]>([
    ["the first line", "1.2.3", 1],
    ["the second line", "10.0.0.1\n0x7f.0.0.1", 2],
    ["after blank lines, which count as lines", "\n\n10.0.0.1\n\n256.0.0.1", 5],
    ["a prefix over 32", "10.0.0.1\n10.0.0.0/33", 2],
    ["a prefix over 128", "::1/129", 1],
    ["a zone", "::1\nfe80::1%eth0", 2],
    ["a hostname", "10.0.0.1\n10.0.0.2\nexample.com", 3],
    ["trailing garbage", "10.0.0.1 # office", 1],
    ["CRLF lines", "10.0.0.1\r\n\r\n10.0.0.0/33\r\n", 3],
    ["lone CR lines", "10.0.0.1\r\r10.0.0.0/33", 3],
    ["the first of two bad lines", "10.0.0.1\nbad\nworse", 2],
    ["a line too long to be an address", `10.0.0.1\n${"1".repeat(10_000)}`, 2],
    ["a very long line of valid-looking groups", `${"1:".repeat(40)}1`, 1],
  ])("a bad line is reported by its 1-based number: %s", (_label, text, line) => {
    expect(parseAllowlist(text)).toEqual(badLine(line));
  });

  const addresses = (count: number, from = 0) => Array.from({ length: count }, (_, i) => `10.0.${Math.floor((from + i) / 256)}.${(from + i) % 256}`);

  it("takes 100 ranges", () => {
    const result = parseAllowlist(addresses(100).join("\n"));
    expect(result.ok && result.ranges.length).toBe(100);
  });

  it("refuses 101 ranges, with a message that says the limit", () => {
    expect(parseAllowlist(addresses(101).join("\n"))).toEqual(TOO_MANY);
    expect(parseAllowlist(addresses(5000).join("\n"))).toEqual(TOO_MANY);
  });

  it("counts ranges, not lines: 100 ranges written twice each, with blank lines, are taken", () => {
    const text = [...addresses(100), "", ...addresses(100).map((a) => `${a}/32`), ""].join("\r\n");
    const result = parseAllowlist(text);
    expect(result).toEqual({ ok: true, ranges: addresses(100).map((a) => `${a}/32`) });
  });

  it("a bad line before the 101st range is reported as the bad line", () => {
    expect(parseAllowlist([...addresses(50), "nope", ...addresses(60, 50)].join("\n"))).toEqual(badLine(51));
  });
});

describe("compileAllowlist: is a client address in the ranges", () => {
  const matcher = (...lines: string[]) => {
    const parsed = parseAllowlist(lines.join("\n"));
    if (!parsed.ok) throw new Error(parsed.message);
    return compileAllowlist(parsed.ranges);
  };

  it.each<[string, string[], [string | null, boolean][]]>([
    [
      "an IPv4 /8: first and last address in, one outside on each side out",
      ["10.0.0.0/8"],
      [
        ["10.0.0.0", true],
        ["10.255.255.255", true],
        ["10.20.30.40", true],
        ["9.255.255.255", false],
        ["11.0.0.0", false],
      ],
    ],
    [
      "an IPv4 /24 given with host bits set",
      ["192.168.1.77/24"],
      [
        ["192.168.1.0", true],
        ["192.168.1.255", true],
        ["192.168.0.255", false],
        ["192.168.2.0", false],
      ],
    ],
    [
      "an IPv4 /32: that address only",
      ["203.0.113.7"],
      [
        ["203.0.113.7", true],
        ["203.0.113.6", false],
        ["203.0.113.8", false],
      ],
    ],
    [
      "IPv4 /0: every IPv4 address (mapped ones too), no IPv6 one",
      ["0.0.0.0/0"],
      [
        ["0.0.0.0", true],
        ["255.255.255.255", true],
        ["::ffff:1.2.3.4", true],
        ["::1", false],
        ["2001:db8::1", false],
      ],
    ],
    [
      "an IPv6 /32: first and last address in, one outside on each side out",
      ["2001:db8::/32"],
      [
        ["2001:db8::", true],
        ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true],
        ["2001:DB8:0:0:0:0:0:1", true],
        ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false],
        ["2001:db9::", false],
      ],
    ],
    [
      "an IPv6 /128: that address only, however it is spelled",
      ["2001:db8::1"],
      [
        ["2001:db8::1", true],
        ["2001:0db8:0000:0000:0000:0000:0000:0001", true],
        ["[2001:db8::1]", true],
        ["2001:db8::", false],
        ["2001:db8::2", false],
      ],
    ],
    [
      "IPv6 /0: every IPv6 address, but a mapped client counts as IPv4",
      ["::/0"],
      [
        ["::", true],
        ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
        ["::1", true],
        ["::ffff:10.0.0.1", false],
        ["10.0.0.1", false],
      ],
    ],
    [
      "IPv4 in the list, IPv4-mapped IPv6 from the socket",
      ["127.0.0.1", "10.0.0.0/8"],
      [
        ["::ffff:127.0.0.1", true],
        ["::FFFF:127.0.0.1", true],
        ["::ffff:7f00:1", true],
        ["[::ffff:127.0.0.1]", true],
        ["::ffff:10.255.255.255", true],
        ["::ffff:11.0.0.0", false],
        ["::ffff:127.0.0.2", false],
      ],
    ],
    [
      "IPv4-mapped IPv6 in the list, plain IPv4 from the socket",
      ["::ffff:127.0.0.1", "::ffff:10.0.0.0/104"],
      [
        ["127.0.0.1", true],
        ["10.1.2.3", true],
        ["::ffff:10.1.2.3", true],
        ["11.0.0.0", false],
      ],
    ],
    [
      "a link-local range: a client's zone does not matter",
      ["fe80::/10"],
      [
        ["fe80::1%eth0", true],
        ["[fe80::1%25eth0]", true],
        ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
        ["fec0::", false],
      ],
    ],
    [
      "a client address that is not strictly an address matches nothing, even a range that would hold its loose reading",
      ["0.0.0.0/0", "::/0"],
      [
        [null, false],
        ["", false],
        ["unknown", false],
        ["10.1", false],
        ["0xa.0.0.1", false],
        ["167772161", false],
        ["010.0.0.1", false],
        ["::ffff:0x7f.0.0.1", false],
        ["::10.0.0.1", false],
        ["[::1]:443", false],
        ["10.0.0.1:443", false],
        ["10.0.0.1, 10.0.0.2", false],
        [" 10.0.0.1", false],
        ["[]", false],
        ["%eth0", false],
        ["10.0.0.0/8", false],
        ["1".repeat(10_000), false],
      ],
    ],
  ])("%s", (_label, lines, cases) => {
    const matches = matcher(...lines);
    expect(cases.map(([client]) => [client, matches(client)])).toEqual(cases);
  });

  it("a zero-padded client address is not read as octal: 010.0.0.1 is not 8.0.0.1", () => {
    expect(matcher("8.0.0.0/8")("010.0.0.1")).toBe(false);
  });

  it("several ranges: a client in any of them is in", () => {
    const matches = matcher("10.0.0.0/8", "2001:db8::/32", "203.0.113.7");
    expect(["10.1.1.1", "2001:db8::5", "203.0.113.7", "192.0.2.1", "2001:db9::1"].map(matches)).toEqual([true, true, true, false, false]);
  });

  it("an empty list matches no one (a key without a list is not checked at all)", () => {
    expect(compileAllowlist([])("127.0.0.1")).toBe(false);
  });

  it("a stored entry that is not a range allows nothing, and does not stop the others", () => {
    const matches = compileAllowlist(["garbage", "10.0.0.0/8", "10.0.0.1"]);
    expect([matches("10.0.0.1"), matches("11.0.0.1")]).toEqual([true, false]);
    expect(compileAllowlist(["garbage", "1.2.3.4/99"])("1.2.3.4")).toBe(false);
  });

  it("what parseAllowlist writes, compileAllowlist reads back to the same ranges", () => {
    const lines = ["10.1.2.3/8", "2001:DB8::1/64", "::ffff:192.0.2.0/120", "::1", "0.0.0.0/0", "::/0"];
    const parsed = parseAllowlist(lines.join("\n"));
    if (!parsed.ok) throw new Error(parsed.message);
    for (const range of parsed.ranges) expect(parseRange(range)).toBe(range);
  });
});
