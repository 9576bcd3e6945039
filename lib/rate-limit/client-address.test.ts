import { describe, expect, it } from "vitest";
import { clientAddress, normalizeAddress } from "./client-address";

describe("clientAddress", () => {
  it.each([
    // [X-Forwarded-For as received, TCP peer, trusted proxies, client address]
    ["no proxy trusted: the peer, whatever the header says", "6.6.6.6", "198.51.100.9", 0, "198.51.100.9"],
    ["no proxy trusted, a list in the header: still the peer", "6.6.6.6, 5.5.5.5", "198.51.100.9", 0, "198.51.100.9"],
    ["no proxy trusted, no header", null, "::1", 0, "::1"],
    ["no peer (socket already gone)", "6.6.6.6", undefined, 0, "unknown"],
    ["one proxy that overwrites", "203.0.113.7", "10.0.0.2", 1, "203.0.113.7"],
    ["one proxy that appends: what the client typed is ignored", "6.6.6.6, 203.0.113.7", "10.0.0.2", 1, "203.0.113.7"],
    ["two proxies (CDN, load balancer)", "6.6.6.6, 203.0.113.7, 198.51.100.2", "10.0.0.2", 2, "203.0.113.7"],
    ["one proxy trusted but the request came straight in: the peer's own header is ignored", "", "203.0.113.7", 1, "203.0.113.7"],
    ["more proxies trusted than hops: the leftmost", "203.0.113.7", "10.0.0.2", 3, "203.0.113.7"],
    ["empty entries are skipped", " , 203.0.113.7 ,", "10.0.0.2", 1, "203.0.113.7"],
  ])("%s", (_label, header, peer, trusted, expected) => {
    expect(clientAddress(header, peer, trusted)).toBe(expected);
  });
});

describe("normalizeAddress", () => {
  it.each([
    ["192.0.2.1", "192.0.2.1"],
    ["192.0.2.1:54321", "192.0.2.1"],
    ["::1", "0:0:0:0::/64"],
    ["[::1]:8080", "0:0:0:0::/64"],
    ["2001:DB8::1", "2001:db8:0:0::/64"],
    ["2001:db8:0:0:ffff::2", "2001:db8:0:0::/64"],
    ["2001:0db8:0000:0001::", "2001:db8:0:1::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["0:0:0:0:0:ffff:10.1.2.3", "10.1.2.3"],
    ["64:ff9b::192.0.2.33", "64:ff9b:0:0::/64"],
    ["not an address", "not an address"],
    ["1:2:3", "1:2:3"],
  ])("%j → %j", (raw, expected) => {
    expect(normalizeAddress(raw)).toBe(expected);
  });

  it("every address of one /64 shares a bucket, the next /64 does not", () => {
    expect(normalizeAddress("2001:db8:a:b::1")).toBe(normalizeAddress("2001:db8:a:b:ffff:ffff:ffff:ffff"));
    expect(normalizeAddress("2001:db8:a:b::1")).not.toBe(normalizeAddress("2001:db8:a:c::1"));
  });
});
