import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, jsonDepth, readJsonBody, readNodeJsonBody, type JsonBody } from "./read-body";

const nested = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth);
const post = (body: string) => new Request("http://test.invalid/", { method: "POST", body });

describe("jsonDepth", () => {
  it.each([
    ["a scalar", "1", 0],
    ["a string", '"[[[{{{"', 0],
    ["an empty object", "{}", 1],
    ["siblings do not add up", "[[1],[2],{\"a\":[3]}]", 3],
    ["objects and arrays alike", '{"a":{"b":[{"c":1}]}}', 4],
    ["brackets inside strings, with escaped quotes", '{"a":"[\\"[[[","b":[1]}', 2],
    ["an escaped backslash before the closing quote", '["\\\\",[1]]', 2],
    ["5,000 deep", nested(5_000), 5_000],
  ])("%s", (_label, text, expected) => {
    expect(jsonDepth(text)).toBe(expected);
  });
});

describe("readJsonBody depth limit", () => {
  it.each([
    ["arrays at the limit", nested(MAX_JSON_DEPTH), true],
    ["arrays one past the limit", nested(MAX_JSON_DEPTH + 1), false],
    ["objects one past the limit", '{"a":'.repeat(MAX_JSON_DEPTH + 1) + "1" + "}".repeat(MAX_JSON_DEPTH + 1), false],
    ["the review's body: 5,000 deep under input", `{"input":${nested(5_000)}}`, false],
    ["100,000 deep (would overflow the stack in JSON.parse)", nested(100_000), false],
  ])("%s", async (_label, text, accepted) => {
    const result = await readJsonBody(post(text), 1_000_000);
    expect(result.ok).toBe(accepted);
    if (!result.ok) expect(result.message).toBe(`The request body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  });
});

describe("readNodeJsonBody when the client hangs up", () => {
  // A server whose handler reads the body after `before` resolves; answers what the reader gave.
  async function hangUp(before: (req: IncomingMessage) => Promise<unknown>): Promise<JsonBody> {
    let settle: (result: JsonBody) => void = () => {};
    const result = new Promise<JsonBody>((resolve) => (settle = resolve));
    const server = createServer((req) => {
      req.on("error", () => {});
      void before(req).then(() => readNodeJsonBody(req, 1_000).then(settle));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1", () => {
      socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"input":');
      setTimeout(() => socket.destroy(), 20);
    });
    try {
      return await result;
    } finally {
      server.close();
    }
  }

  it.each([
    ["while its body is being read", async () => {}],
    ["before its body was asked for", (req: IncomingMessage) => new Promise((resolve) => req.once("close", resolve))],
  ])("%s: the body could not be read (the reader does not wait for ever)", async (_label, before) => {
    expect(await hangUp(before)).toEqual({ ok: false, message: "The request body could not be read." });
  });
});
