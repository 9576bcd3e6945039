import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateWebhookSecret, signWebhookBody, verifyWebhookSignature } from "./signature";

describe("generateWebhookSecret", () => {
  it("is whsec_ and 32 base62 characters, different every time", () => {
    const secrets = new Set(Array.from({ length: 200 }, () => generateWebhookSecret()));
    expect(secrets.size).toBe(200);
    for (const secret of secrets) expect(secret).toMatch(/^whsec_[0-9A-Za-z]{32}$/);
  });

  it("maps bytes without bias: bytes from 248 up are skipped, the rest taken modulo 62", () => {
    const stream = [248, 255, 0, 61, 62, 247, ...Array.from({ length: 40 }, (_, i) => i)];
    let at = 0;
    const random = (size: number) => Uint8Array.from(stream.slice(at, (at += size)));
    // 0 → "0", 61 → "z", 62 → "0", 247 → 247 % 62 = 61 → "z".
    expect(generateWebhookSecret(random).slice(6, 10)).toBe("0z0z");
  });

  it("gives up on a random source that never yields a usable byte", () => {
    expect(() => generateWebhookSecret((size) => new Uint8Array(size).fill(255))).toThrow(/usable bytes/);
  });
});

describe("signWebhookBody / verifyWebhookSignature", () => {
  const secret = "whsec_0123456789abcdefghijklmnopqrstuv";
  const body = '{"id":"evt_1","type":"key.created","key":{"id":"key_1","name":"caf\u00e9"}}';

  it("is sha256= and the hex HMAC-SHA256 of the exact UTF-8 body under the secret", () => {
    const expected = createHmac("sha256", secret).update(Buffer.from(body, "utf8")).digest("hex");
    expect(signWebhookBody(secret, body)).toBe(`sha256=${expected}`);
    expect(signWebhookBody(secret, Buffer.from(body, "utf8"))).toBe(`sha256=${expected}`);
  });

  it.each<[string, string | null | undefined, boolean]>([
    ["the right signature", signWebhookBody(secret, body), true],
    ["another secret's", signWebhookBody(`${secret}x`, body), false],
    ["another body's", signWebhookBody(secret, `${body} `), false],
    ["without the prefix", signWebhookBody(secret, body).slice(7), false],
    ["upper-case hex", `sha256=${signWebhookBody(secret, body).slice(7).toUpperCase()}`, false],
    ["empty", "", false],
    ["missing", undefined, false],
  ])("verifies %s: %s", (_label, header, valid) => {
    expect(verifyWebhookSignature(secret, body, header)).toBe(valid);
  });
});
