import { describe, expect, it } from "vitest";
import { hashInvitationToken, invitationPath, isInvitationToken, newInvitationToken } from "./invitations";

describe("invitation tokens", () => {
  it("are 32 random bytes in base64url, from the random source given", () => {
    const sizes: number[] = [];
    const token = newInvitationToken((size) => {
      sizes.push(size);
      return new Uint8Array(size).fill(0xff);
    });
    expect(sizes).toEqual([32]);
    expect(token).toBe("_".repeat(42) + "8");
    expect(isInvitationToken(token)).toBe(true);
    expect(newInvitationToken()).not.toBe(newInvitationToken());
  });

  it("are stored as lowercase hex SHA-256", () => {
    // sha256("abc"), the FIPS 180-2 test vector.
    expect(hashInvitationToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it.each([
    ["a fresh token", newInvitationToken(), true],
    ["one character short", newInvitationToken().slice(1), false],
    ["one character long", `${newInvitationToken()}A`, false],
    ["standard base64 characters", `${newInvitationToken().slice(2)}+/`, false],
    ["padding", `${newInvitationToken().slice(1)}=`, false],
    ["a stored hash", hashInvitationToken("x"), false],
    ["empty", "", false],
    ["a path", `../${newInvitationToken().slice(3)}`, false],
  ])("isInvitationToken: %s → %s", (_label, value, expected) => {
    expect(isInvitationToken(value)).toBe(expected);
  });

  it("appear only in the link's path", () => {
    expect(invitationPath("abc")).toBe("/invite/abc");
  });
});
