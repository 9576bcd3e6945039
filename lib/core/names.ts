import { z } from "zod";

export const NAME_MAX_LENGTH = 64;

/** In UTF-16 units, before trimming. */
const MAX_INPUT_LENGTH = 1024;

export type NameResult = { ok: true; name: string } | { ok: false; message: string };

function messagesFor(label: string, max: number) {
  return {
    required: `${label} is required.`,
    control: `${label} can't contain control characters.`,
    bidi: `${label} can't contain text-direction characters.`,
    lineBreak: `${label} can't contain line breaks.`,
    invalid: `${label} can't contain invalid characters.`,
    invisible: `${label} can't be blank or invisible.`,
    tooLong: `${label} must be at most ${max} characters.`,
  } as const;
}

export const NAME_MESSAGES = messagesFor("Name", NAME_MAX_LENGTH);

/** An elevation's reason (SPEC §8): the same character rule as names, 1–200 characters. */
export const REASON_MAX_LENGTH = 200;
export const REASON_MESSAGES = messagesFor("Reason", REASON_MAX_LENGTH);

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
  return normalizeText(raw, NAME_MAX_LENGTH, NAME_MESSAGES);
}

/** `normalizeName`'s rule with the reason's length (1–200) and messages. */
export function normalizeReason(raw: string): NameResult {
  return normalizeText(raw, REASON_MAX_LENGTH, REASON_MESSAGES);
}

function normalizeText(raw: string, max: number, messages: ReturnType<typeof messagesFor>): NameResult {
  // No valid text comes near this (200 code points are at most 400 UTF-16 units, plus trimmed
  // padding): refusing longer input first bounds the work an oversized request can cause.
  if (raw.length > MAX_INPUT_LENGTH) return { ok: false, message: messages.tooLong };
  if (LONE_SURROGATE.test(raw)) return { ok: false, message: messages.invalid };
  const text = raw.normalize("NFC");
  if (CONTROL.test(text)) return { ok: false, message: messages.control };
  if (BIDI.test(text)) return { ok: false, message: messages.bidi };
  if (LINE_BREAK.test(text)) return { ok: false, message: messages.lineBreak };

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
    return { ok: false, message: NOT_WHITE_SPACE.test(text) ? messages.invisible : messages.required };
  }
  if (!VISIBLE.test(name)) return { ok: false, message: messages.invisible };
  // Over twice the limit in UTF-16 units is over the limit in code points: no need to count.
  if (name.length > 2 * max || [...name].length > max) return { ok: false, message: messages.tooLong };
  return { ok: true, name };
}

/** `normalizeName` at a zod boundary: the parsed value is the normalised name. */
export const nameSchema = z.string({ error: NAME_MESSAGES.required }).transform((value, context) => {
  const result = normalizeName(value);
  if (result.ok) return result.name;
  context.addIssue({ code: "custom", message: result.message });
  return z.NEVER;
});
