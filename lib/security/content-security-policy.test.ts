import { describe, expect, it } from "vitest";
import { API_CONTENT_SECURITY_POLICY, COMMON_SECURITY_HEADERS, newNonce, pageContentSecurityPolicy } from "./content-security-policy";

function directives(policy: string): Map<string, string[]> {
  return new Map(policy.split(";").map((part) => {
    const [name = "", ...sources] = part.trim().split(/\s+/);
    return [name, sources];
  }));
}

describe("pageContentSecurityPolicy", () => {
  const nonce = "AAECAwQFBgcICQoLDA0ODw==";

  it.each([
    ["production over HTTP", { development: false, https: false }],
    ["production over HTTPS", { development: false, https: true }],
    ["development", { development: true, https: false }],
  ])("%s: scripts need the nonce, nothing may frame the page, no plugins, no foreign base or form targets", (_label, options) => {
    const csp = directives(pageContentSecurityPolicy({ nonce, ...options }));
    expect(csp.get("script-src")).toEqual(expect.arrayContaining([`'nonce-${nonce}'`, "'strict-dynamic'"]));
    expect(csp.get("script-src")).not.toContain("'unsafe-inline'");
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    expect(csp.get("object-src")).toEqual(["'none'"]);
    expect(csp.get("base-uri")).toEqual(["'self'"]);
    expect(csp.get("form-action")).toEqual(["'self'"]);
    expect(csp.get("default-src")).toEqual(["'self'"]);
  });

  it.each([
    [false, false, false],
    [false, true, false],
    [true, false, true],
  ])("development=%s https=%s → unsafe-eval: %s (never in production)", (development, https, evalAllowed) => {
    const policy = pageContentSecurityPolicy({ nonce, development, https });
    expect(policy.includes("'unsafe-eval'")).toBe(evalAllowed);
  });

  it.each([
    [true, true],
    [false, false],
  ])("https=%s → upgrade-insecure-requests: %s", (https, upgrades) => {
    expect(directives(pageContentSecurityPolicy({ nonce, development: false, https })).has("upgrade-insecure-requests")).toBe(upgrades);
  });
});

describe("API and common headers", () => {
  it("lets API responses load nothing and be framed by nobody", () => {
    const csp = directives(API_CONTENT_SECURITY_POLICY);
    expect(csp.get("default-src")).toEqual(["'none'"]);
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
  });

  it("sends nosniff, a referrer policy and DENY framing everywhere", () => {
    expect(Object.fromEntries(COMMON_SECURITY_HEADERS.map(({ key, value }) => [key, value]))).toEqual({
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "strict-origin-when-cross-origin",
      "X-Frame-Options": "DENY",
    });
  });
});

describe("newNonce", () => {
  it("is 16 bytes in base64", () => {
    expect(newNonce(() => new Uint8Array(16).fill(255))).toBe("/////////////////////w==");
    expect(newNonce()).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it("differs per call", () => {
    expect(new Set(Array.from({ length: 100 }, () => newNonce())).size).toBe(100);
  });
});
