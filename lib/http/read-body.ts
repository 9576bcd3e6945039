import type { IncomingMessage } from "node:http";

/**
 * How deeply a JSON body may nest. Deep enough for any honest payload (chat messages, tool calls,
 * nested configs stay under 20); past it, parsing, stringifying and validating recurse on the
 * stack, and a 10 KB body 5,000 deep overflows it — a RangeError that would read as "retry".
 */
export const MAX_JSON_DEPTH = 64;

export type JsonBody = { ok: true; value: unknown } | { ok: false; message: string };

const tooLarge = (maxBytes: number) => ({ ok: false, message: `The request body is larger than ${maxBytes} bytes.` }) as const;
const unreadable = { ok: false, message: "The request body could not be read." } as const;

/** A JSON body, refused past `maxBytes` before it is all read and past MAX_JSON_DEPTH before it is parsed; never throws. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<JsonBody> {
  const bytes = await readBodyBytes(request, maxBytes);
  return bytes.ok ? parseJsonBody(bytes.bytes) : bytes;
}

export type BodyBytes = { ok: true; bytes: Buffer } | { ok: false; message: string };

/**
 * The body's bytes as sent (for a signature over the raw body, lib/http/leaks-api.ts), refused
 * past `maxBytes` before it is all read; an absent body is empty. Never throws.
 */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<BodyBytes> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) return tooLarge(maxBytes);
  if (!request.body) return { ok: true, bytes: Buffer.alloc(0) };
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
        return tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch {
    return unreadable;
  }
  return { ok: true, bytes: Buffer.concat(chunks) };
}

/**
 * The same rules on a node:http request (the gateway's fast path), without the Fetch stream. Past
 * `maxBytes` the rest is read and dropped, not left on the wire: the answer, sent before the body
 * ended, closes the connection (lib/http/front-door.ts).
 */
export function readNodeJsonBody(req: IncomingMessage, maxBytes: number): Promise<JsonBody> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > maxBytes) return Promise.resolve(tooLarge(maxBytes));
  // Gone before it was asked for (the client hung up): no event would ever come.
  if (req.destroyed) return Promise.resolve(unreadable);
  return new Promise((resolve) => {
    (req as Reading)[READING] = { chunks: [], size: 0, maxBytes, resolve };
    req.on("data", onData).on("end", onEnd).on("error", onFailure).on("close", onFailure);
  });
}

// The listeners are shared functions, called with the request as `this`, and what they gather
// lives on the request: no closures per request on the gateway's hottest routes.
const READING = Symbol("keyscope.reading");
type Reading = IncomingMessage & { [READING]?: { chunks: Buffer[]; size: number; maxBytes: number; resolve: (result: JsonBody) => void } };

function settle(req: Reading, result: JsonBody): void {
  const reading = req[READING];
  if (!reading) return;
  req[READING] = undefined;
  req.off("data", onData).off("end", onEnd).off("error", onFailure).off("close", onFailure);
  reading.resolve(result);
}

function onData(this: Reading, chunk: Buffer): void {
  const reading = this[READING]!;
  reading.size += chunk.byteLength;
  if (reading.size <= reading.maxBytes) return void reading.chunks.push(chunk);
  settle(this, tooLarge(reading.maxBytes));
  this.resume();
}

function onEnd(this: Reading): void {
  const { chunks, size } = this[READING]!;
  settle(this, parseJsonBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
}

/** An error, or the connection closed before the body ended. */
function onFailure(this: Reading): void {
  settle(this, unreadable);
}

/** JSON text under the same rules: empty and too deep are refused before JSON.parse; never throws. */
export function parseJsonBody(bytes: Buffer): JsonBody {
  const text = bytes.toString("utf8");
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
