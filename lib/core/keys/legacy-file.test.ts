import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HASH_ONLY_HINT, parseLegacyKeyFile } from "./legacy-file";

const KEY_A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const KEY_B = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("parseLegacyKeyFile", () => {
  it("hashes plaintext keys, keeps given hashes, and never returns a plaintext", () => {
    const text = `# exported 2026-01-01\nci,read,${KEY_A}\r\n\nbilling, with comma,read_write,${sha256(KEY_B).toUpperCase()}\n`;
    const result = parseLegacyKeyFile(text);
    expect(result).toEqual({
      ok: true,
      entries: [
        { line: 2, name: "ci", permission: "read", keyHash: sha256(KEY_A), hint: "…2345" },
        { line: 4, name: "billing, with comma", permission: "read_write", keyHash: sha256(KEY_B), hint: HASH_ONLY_HINT },
      ],
    });
    expect(JSON.stringify(result)).not.toContain(KEY_A);
  });

  it.each([
    ["no commas", `just-a-name`, 1, "expected"],
    ["one comma", `name,${KEY_A}`, 1, "expected"],
    ["empty name", ` ,read,${KEY_A}`, 1, "Name is required"],
    ["long name", `${"n".repeat(65)},read,${KEY_A}`, 1, "Name must be at most 64 characters"],
    ["bad permission", `ci,write,${KEY_A}`, 1, "permission"],
    ["upper-case permission", `ci,READ,${KEY_A}`, 1, "permission"],
    ["lower-case key", `ci,read,${KEY_A.toLowerCase()}`, 1, "neither"],
    ["short key", `ci,read,${KEY_A.slice(1)}`, 1, "neither"],
    ["scoped key", `ci,read,rpa_abcdefghijABCDEFGHIJ01234567892C2O59`, 1, "neither"],
    ["63 hex", `ci,read,${sha256(KEY_A).slice(1)}`, 1, "neither"],
    ["bad third line", `a,read,${KEY_A}\nb,read,${KEY_B}\nc,admin,${KEY_A}`, 3, "permission"],
    ["duplicate key", `a,read,${KEY_A}\n\nb,read_write,${sha256(KEY_A)}`, 3, "line 1"],
    ["empty file", "\n# nothing\n", 3, "no keys"],
  ])("refuses %s, naming the line", (_label, text, line, message) => {
    const result = parseLegacyKeyFile(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.line).toBe(line);
    expect(result.message).toContain(message);
  });

  // The one name rule (lib/core/names.ts), with the line it failed on; the name itself is not echoed.
  it.each([
    ["a bidi override", "invoice\u202Egpj.exe", "Name can't contain text-direction characters"],
    ["a right-to-left mark", "ci\u200F", "Name can't contain text-direction characters"],
    ["a tab inside", "c\ti", "Name can't contain control characters"],
    ["a NUL", "ci\u0000", "Name can't contain control characters"],
    ["an escape sequence", "\u001B[2Jci", "Name can't contain control characters"],
    ["a carriage return inside", "c\ri", "Name can't contain control characters"],
    ["a line separator", "c\u2028i", "Name can't contain line breaks"],
    ["zero-width and no-break spaces only", "\u200B\u00A0\u200D", "Name can't be blank or invisible"],
    ["a Hangul filler", "\u3164", "Name can't be blank or invisible"],
    ["65 astral characters", "😀".repeat(65), "Name must be at most 64 characters"],
  ])("refuses a name with %s on line 3, importing nothing", (_label, name, message) => {
    const result = parseLegacyKeyFile(`a,read,${KEY_A}\n# comment\n${name},read,${KEY_B}\n`);
    expect(result).toEqual({ ok: false, line: 3, message });
  });

  it("stores names normalised: NFC, trimmed of white space and zero-width characters", () => {
    const result = parseLegacyKeyFile(`\uFEFFcafe\u0301,read,${KEY_A}\n\u00A0\u200Bbilling\u3000,read,${KEY_B}\n👨\u200D👩\u200D👧,read,${sha256("C")}\n`);
    expect(result.ok && result.entries.map((entry) => entry.name)).toEqual(["caf\u00E9", "billing", "👨\u200D👩\u200D👧"]);
  });

  it("does not echo a rejected key in its message", () => {
    const almost = KEY_A.slice(0, 31) + "-";
    const result = parseLegacyKeyFile(`ci,read,${almost}`);
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain(almost);
  });
});
