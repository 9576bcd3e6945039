/**
 * How deeply a JSON body may nest. Deep enough for any honest payload (chat messages, tool calls,
 * nested configs stay under 20); past it, parsing, stringifying and validating recurse on the
 * stack, and a 10 KB body 5,000 deep overflows it — a RangeError that would read as "retry".
 */
export const MAX_JSON_DEPTH = 64;

/** A JSON body, refused past `maxBytes` before it is all read and past MAX_JSON_DEPTH before it is parsed; never throws. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<{ ok: true; value: unknown } | { ok: false; message: string }> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) return { ok: false, message: `The request body is larger than ${maxBytes} bytes.` };
  if (!request.body) return { ok: false, message: "The request body is empty." };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return { ok: false, message: `The request body is larger than ${maxBytes} bytes.` };
      }
      chunks.push(value);
    }
  } catch {
    return { ok: false, message: "The request body could not be read." };
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return { ok: false, message: "The request body is empty." };
  if (jsonDepth(text) > MAX_JSON_DEPTH) return { ok: false, message: `The request body is nested deeper than ${MAX_JSON_DEPTH} levels.` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: "The request body is not valid JSON." };
  }
}

/**
 * The deepest nesting of arrays and objects in JSON text, in one pass without recursion;
 * brackets inside strings do not count. Invalid JSON gets some number: JSON.parse judges it.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i += 1;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth -= 1;
    }
  }
  return deepest;
}
