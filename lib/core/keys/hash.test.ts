import { describe, expect, it } from "vitest";
import { hashKey } from "./hash";

describe("hashKey", () => {
  // Expected digests from the FIPS 180-2 examples and Python hashlib.
  it.each([
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "rpa_abcdefghijABCDEFGHIJ01234567892C2O59",
      "8e71d02fdd30eb9c93ef711fc4184b7798e498871a659e786d8cb10aa67f8e36",
    ],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
      "5d854a6bcae8dbe496e7040f45d970ce74c9e89200bc2af404159dcf8425ab36",
    ],
  ])("sha256(%j)", (key, expected) => {
    expect(hashKey(key)).toBe(expected);
  });

  it("returns 64 lowercase hex characters", () => {
    expect(hashKey("anything")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("hashes UTF-8 bytes", () => {
    // sha256 of the two bytes C3 A9 ("é" in UTF-8), not of latin1 E9.
    expect(hashKey("\u00e9")).toBe("4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c");
  });
});
