import { z } from "zod";

export const NAME_MAX_LENGTH = 64;

/** In UTF-16 units, before trimming. */
const MAX_INPUT_LENGTH = 1024;

export type NameResult = { ok: true; name: string } | { ok: false; message: string };

export const NAME_MESSAGES = {
  required: "Name is required.",
  control: "Name can't contain control characters.",
  bidi: "Name can't contain text-direction characters.",
  lineBreak: "Name can't contain line breaks.",
  invalid: "Name can't contain invalid characters.",
  invisible: "Name can't be blank or invisible.",
  tooLong: `Name must be at most ${NAME_MAX_LENGTH} characters.`,
} as const;

// Refused anywhere, not trimmed: a name that carries one was not typed in good faith, and
// silently dropping it would store something other than what was asked for.
// C0 and C1 controls (tab and newline included): they cut a displayed name short.
const CONTROL = /\p{Cc}/u;
// Bidi marks, embeddings, overrides and isolates: `invoice\u202Egpj.exe` shows as `invoiceexe.jpg`.
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const LINE_BREAK = /[\u2028\u2029]/u;
// A lone UTF-16 surrogate cannot be stored as UTF-8: it would come back as U+FFFD.
const LONE_SURROGATE = /\p{Cs}/u;

// What is trimmed from both ends: whitespace, and characters that render as nothing (ZWSP, ZWJ,
// word joiner, BOM, Hangul fillers, …).
const TRIMMABLE = /[\p{White_Space}\p{Default_Ignorable_Code_Point}]/u;
// …except variation selectors and tags right after visible text: they belong to it (❤️, 🏴 flags).
const ATTACHED = /[\p{Variation_Selector}\u{E0020}-\u{E007F}]/u;
// A name is visible if one character is none of: whitespace, default-ignorable or format
// characters (which include variation selectors, tags and the Hangul fillers), combining marks,
// and the braille blank, a common stand-in for an empty name.
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cf}\p{M}\u2800]/u;
const NOT_WHITE_SPACE = /[^\p{White_Space}]/u;

/** The code point ending just before `end` in a string without lone surrogates. */
function codePointBefore(text: string, end: number): string {
  const low = text.charCodeAt(end - 1);
  return low >= 0xdc00 && low <= 0xdfff && end >= 2 ? text.slice(end - 2, end) : text.slice(end - 1, end);
}

/**
 * The one rule for key, endpoint and pod names, shared by every writer (zod boundaries, the legacy
 * file parser, the DAL): NFC; whitespace and invisible characters trimmed from both ends; control,
 * text-direction and line-separator characters refused anywhere; something visible required;
 * 1–64 code points after all that (SPEC §2). Idempotent: a returned name passes unchanged.
 * Linear in the input's length (no regex that can backtrack), which is capped anyway.
 */
export function normalizeName(raw: string): NameResult {
  // No valid name comes near this (64 code points are at most 128 UTF-16 units, plus trimmed
  // padding): refusing longer input first bounds the work an oversized request can cause.
  if (raw.length > MAX_INPUT_LENGTH) return { ok: false, message: NAME_MESSAGES.tooLong };
  if (LONE_SURROGATE.test(raw)) return { ok: false, message: NAME_MESSAGES.invalid };
  const text = raw.normalize("NFC");
  if (CONTROL.test(text)) return { ok: false, message: NAME_MESSAGES.control };
  if (BIDI.test(text)) return { ok: false, message: NAME_MESSAGES.bidi };
  if (LINE_BREAK.test(text)) return { ok: false, message: NAME_MESSAGES.lineBreak };

  let start = 0;
  while (start < text.length) {
    const char = String.fromCodePoint(text.codePointAt(start)!);
    if (!TRIMMABLE.test(char)) break;
    start += char.length;
  }
  let end = text.length;
  while (end > start) {
    const char = codePointBefore(text, end);
    if (!TRIMMABLE.test(char)) break;
    end -= char.length;
  }
  if (end > start) {
    while (end < text.length) {
      const char = String.fromCodePoint(text.codePointAt(end)!);
      if (!ATTACHED.test(char)) break;
      end += char.length;
    }
  }
  const name = text.slice(start, end);

  if (name.length === 0) {
    // Spaces alone read as "typed nothing"; anything else was an attempt at an invisible name.
    return { ok: false, message: NOT_WHITE_SPACE.test(text) ? NAME_MESSAGES.invisible : NAME_MESSAGES.required };
  }
  if (!VISIBLE.test(name)) return { ok: false, message: NAME_MESSAGES.invisible };
  // Over twice the limit in UTF-16 units is over the limit in code points: no need to count.
  if (name.length > 2 * NAME_MAX_LENGTH || [...name].length > NAME_MAX_LENGTH) return { ok: false, message: NAME_MESSAGES.tooLong };
  return { ok: true, name };
}

/** `normalizeName` at a zod boundary: the parsed value is the normalised name. */
export const nameSchema = z.string({ error: NAME_MESSAGES.required }).transform((value, context) => {
  const result = normalizeName(value);
  if (result.ok) return result.name;
  context.addIssue({ code: "custom", message: result.message });
  return z.NEVER;
});
