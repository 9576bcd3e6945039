import { countRows, rawRows, removeTestDatabase, uniqueEmail } from "@/testing/test-database";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAccount } from "@/lib/dal/accounts";
import { createScopedApiKey, importLegacyApiKeys } from "@/lib/dal/api-keys";
import { rollApiKey } from "@/lib/dal/key-lifecycle";
import { computeKeyChecksum } from "@/lib/core/keys/checksum";
import { formatDisplayHint } from "@/lib/core/keys/format";
import { hashKey } from "@/lib/core/keys/hash";
import { signLeakReport } from "@/lib/core/leaks/report";
import { startTestGateway, type TestGateway } from "@/testing/test-gateway";
import * as route from "@/app/api/v1/leaks/route";
import { toResponse } from "./api-error";
import { fastRoute, routeRequest } from "./gateway";
import { handleLeaksApi, leaksApi } from "./leaks-api";
import { handleVerifyApi } from "./verify-api";

const SECRET = vi.hoisted(() => {
  const secret = "leak-report-secret-for-tests-0123456789";
  process.env.LEAK_REPORT_SECRET = secret;
  process.env.LAST_USED_FLUSH_MS = "60000";
  process.env.ECHO_WORKER_POLL_MS = "60000";
  return secret;
});

// What the route hands the DAL: to show which tokens were never looked up.
const lookedUp = vi.hoisted(() => [] as string[][]);
vi.mock("@/lib/dal/leaks", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/lib/dal/leaks")>();
  return {
    ...actual,
    reportLeaks: (reports: Parameters<typeof actual.reportLeaks>[0], now?: Date) => {
      lookedUp.push(reports.map((report) => report.hash));
      return actual.reportLeaks(reports, now);
    },
  };
});

let gateway: TestGateway | undefined;
let accountA = "";
let accountB = "";
// Every token this file sends, and every answer it got: no answer may carry a token.
const tokens: string[] = [];
const seen: string[] = [];

type Finding = { token: string; type: string; url: string; source: string };
type Answer = { token_hash: string; token_type: string; label: "true_positive" | "false_positive" };

const finding = (token: string, extra: Partial<Finding> = {}): Finding => {
  tokens.push(token);
  return { token, type: "keyscope_api_key", url: "https://github.com/o/r/blob/main/.env", source: "commit", ...extra };
};

type Send = { body: string | Uint8Array; signature?: string | null; method?: string; headers?: Record<string, string> };

function request({ body, signature, method = "POST", headers = {} }: Send, url = "http://test/api/v1/leaks"): Request {
  const sig = signature === undefined ? signLeakReport(body, SECRET) : signature;
  return new Request(url, {
    method,
    headers: { "content-type": "application/json", ...(sig === null ? {} : { "keyscope-signature": sig }), ...headers },
    body: method === "GET" || method === "HEAD" ? undefined : (body as BodyInit),
  });
}

async function read(response: Response) {
  const text = await response.text();
  seen.push(text);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return { status: response.status, json: JSON.parse(text) as unknown, text };
}

const send = async (input: Send) => read(await handleLeaksApi(request(input)));
const report = (findings: Finding[]) => send({ body: JSON.stringify(findings) });

async function newKey(accountId: string, name = "ci") {
  const created = await createScopedApiKey(accountId, { name, scopes: { graphql: "read", endpointsAll: "none", endpoints: {} } }, { type: "dashboard" });
  if (!created.ok) throw new Error("setup: key");
  tokens.push(created.value.plaintext);
  return { id: created.value.key.id, plaintext: created.value.plaintext };
}

const enabled = async (id: string) => (await rawRows("SELECT enabled FROM api_keys WHERE id = ?", [id]))[0]?.enabled;

async function verifyCode(key: string): Promise<unknown> {
  const response = await handleVerifyApi(new Request("http://test/api/v1/keys/verify", { method: "POST", body: JSON.stringify({ key, resource: "graphql", access: "read" }) }));
  return ((await response.json()) as { code: unknown }).code;
}

const UNISSUED_RANDOM = "0123456789ABCDEFGHIJabcdefghij";
const UNISSUED = `rpa_${UNISSUED_RANDOM}${computeKeyChecksum(UNISSUED_RANDOM)}`;
const badChecksum = (key: string) => key.slice(0, -1) + (key.endsWith("0") ? "1" : "0");

beforeAll(async () => {
  const [a, b] = await Promise.all([createAccount(uniqueEmail("leaks-a"), "password-a-123"), createAccount(uniqueEmail("leaks-b"), "password-b-123")]);
  if (!a.ok || !b.ok) throw new Error("setup: accounts");
  accountA = a.value.id;
  accountB = b.value.id;
});

beforeEach(() => {
  lookedUp.length = 0;
});

afterAll(async () => {
  await gateway?.close();
  await removeTestDatabase();
});

describe("POST /api/v1/leaks", () => {
  it("disables a key at once: true_positive by its hash, and the key is refused KEY_DISABLED right after", async () => {
    const key = await newKey(accountA, "ci");
    expect(await verifyCode(key.plaintext)).toBe("VALID"); // now in the decision cache
    const reply = await report([finding(key.plaintext)]);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual([{ token_hash: hashKey(key.plaintext), token_type: "keyscope_api_key", label: "true_positive" }]);
    expect(await verifyCode(key.plaintext)).toBe("KEY_DISABLED");
    expect(await enabled(key.id)).toBe(0);
    const [entry] = await rawRows("SELECT details, actor FROM audit_log WHERE action = 'api_key.leaked' AND target_id = ?", [key.id]);
    expect(JSON.parse(String(entry!.details))).toMatchObject({ url: "https://github.com/o/r/blob/main/.env", source: "commit", type: "keyscope_api_key" });
  });

  it("answers every token in order; unknown, mistyped and foreign tokens are false_positive", async () => {
    const key = await newKey(accountA, "order");
    const findings = [
      finding(UNISSUED, { type: "a" }),
      finding(key.plaintext, { type: "b" }),
      finding(badChecksum(key.plaintext), { type: "c" }),
      finding("ghp_notoursatall0123456789", { type: "github_pat" }),
      finding("x", { type: "" }),
    ];
    const reply = await report(findings);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual(
      findings.map((f, i) => ({ token_hash: hashKey(f.token), token_type: f.type, label: i === 1 ? "true_positive" : "false_positive" })),
    );
  });

  it("a checksum-invalid rpa_ token, or a shape no key has, is never looked up", async () => {
    const key = await newKey(accountA, "lookups");
    await report([finding(badChecksum(key.plaintext)), finding("rpa_short"), finding(UNISSUED)]);
    expect(lookedUp).toEqual([[hashKey(UNISSUED)]]);
    expect(await enabled(key.id)).toBe(1);
  });

  it("a legacy key is a key too", async () => {
    const plaintext = "LEAKSAPILEGACY0123456789ABCDEFGH";
    tokens.push(plaintext);
    const imported = await importLegacyApiKeys(
      accountA,
      [{ line: 1, name: "old", permission: "read", keyHash: hashKey(plaintext), hint: formatDisplayHint(plaintext, "legacy") }],
      { type: "dashboard" },
    );
    if (!imported.ok) throw new Error("setup: legacy");
    expect(await verifyCode(plaintext)).toBe("VALID");
    expect((await report([finding(plaintext)])).json).toEqual([expect.objectContaining({ label: "true_positive" })]);
    expect(await verifyCode(plaintext)).toBe("KEY_DISABLED");
  });

  it("a key's previous secret, still in its grace period, disables the key (both secrets with it)", async () => {
    const key = await newKey(accountA, "rolled");
    const rolled = await rollApiKey(accountA, key.id, "24h", { type: "dashboard" });
    if (!rolled.ok) throw new Error("setup: roll");
    tokens.push(rolled.value.plaintext);
    expect(await verifyCode(key.plaintext)).toBe("VALID");
    expect((await report([finding(key.plaintext)])).json).toEqual([expect.objectContaining({ label: "true_positive" })]);
    expect(await verifyCode(key.plaintext)).toBe("KEY_DISABLED");
    expect(await verifyCode(rolled.value.plaintext)).toBe("KEY_DISABLED");
  });

  it("duplicates are answered each time; the key is disabled and audited once", async () => {
    const key = await newKey(accountA, "dup");
    const reply = await report([finding(key.plaintext), finding(UNISSUED), finding(key.plaintext)]);
    expect((reply.json as Answer[]).map((answer) => answer.label)).toEqual(["true_positive", "false_positive", "true_positive"]);
    expect(await countRows("audit_log", "action = 'api_key.leaked' AND target_id = ?", [key.id])).toBe(1);
    // Reported again later: still a key here, still true_positive.
    expect((await report([finding(key.plaintext)])).json).toEqual([expect.objectContaining({ label: "true_positive" })]);
  });

  it("another account's key is disabled all the same: a leak is a leak", async () => {
    const a = await newKey(accountA, "a");
    const b = await newKey(accountB, "b");
    expect((await report([finding(a.plaintext), finding(b.plaintext)])).json).toEqual([
      expect.objectContaining({ label: "true_positive" }),
      expect.objectContaining({ label: "true_positive" }),
    ]);
    expect(await verifyCode(b.plaintext)).toBe("KEY_DISABLED");
    expect((await rawRows("SELECT account_id FROM audit_log WHERE action = 'api_key.leaked' AND target_id = ?", [b.id]))[0]).toEqual({ account_id: accountB });
  });

  it("type, url and source are kept as given after trimming, with disguising characters replaced and long ones cut", async () => {
    const key = await newKey(accountA, "dressed");
    const reply = await report([finding(key.plaintext, { type: "  keyscope\u202Eyek  ", url: ` https://x/${"a".repeat(5_000)} `, source: "commit\u0007\n" })]);
    expect((reply.json as Answer[])[0]!.token_type).toBe("keyscope\uFFFDyek");
    const [row] = await rawRows("SELECT leak_url, leak_source FROM api_keys WHERE id = ?", [key.id]);
    expect(row).toEqual({ leak_url: `https://x/${"a".repeat(2_048 - "https://x/".length)}`, leak_source: "commit\uFFFD" });
  });

  it("1,000 findings are answered; 1,001 are refused with 400 and change nothing", async () => {
    const key = await newKey(accountA, "thousand");
    const many = (n: number) => [finding(key.plaintext), ...Array.from({ length: n - 1 }, () => finding(UNISSUED))];
    const refused = await report(many(1_001));
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: { code: "BAD_REQUEST" } });
    expect(await enabled(key.id)).toBe(1);
    const answered = await report(many(1_000));
    expect(answered.status).toBe(200);
    expect(answered.json).toHaveLength(1_000);
    expect(await enabled(key.id)).toBe(0);
  });

  const tooLarge = () => {
    const key = `[${JSON.stringify({ token: UNISSUED, type: "t", url: "u", source: "s" })}]`;
    return key + " ".repeat(1024 * 1024 + 1 - key.length);
  };

  it.each<[string, () => string]>([
    ["not JSON", () => "[{token:"],
    ["empty", () => ""],
    ["an object", () => JSON.stringify(finding(UNISSUED))],
    ["an empty array", () => "[]"],
    ["a token that is not a string", () => JSON.stringify([{ token: 1, type: "t", url: "u", source: "s" }])],
    ["an empty token", () => JSON.stringify([{ token: "", type: "t", url: "u", source: "s" }])],
    ["a token over 1,024 characters", () => JSON.stringify([{ token: "rpa_" + "a".repeat(1_021), type: "t", url: "u", source: "s" }])],
    ["a missing url", () => JSON.stringify([{ token: UNISSUED, type: "t", source: "s" }])],
    ["nested too deep", () => "[".repeat(100) + "]".repeat(100)],
    ["1 byte over 1 MB", tooLarge],
  ])("a body that is %s is 400 BAD_REQUEST", async (_label, body) => {
    const reply = await send({ body: body() });
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ error: { code: "BAD_REQUEST", message: expect.any(String) } });
    expect(lookedUp).toEqual([]);
  });

  it("exactly 1 MB is read", async () => {
    const body = tooLarge().slice(0, -1);
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    expect((await send({ body })).status).toBe(200);
  });

  describe("the signature", () => {
    let key: { id: string; plaintext: string };
    let body = "";
    beforeAll(async () => {
      key = await newKey(accountA, "signed");
      body = JSON.stringify([finding(key.plaintext)]);
    });

    const hex = () => signLeakReport(body, SECRET).slice("sha256=".length);
    it.each<[string, () => string | null]>([
      ["missing", () => null],
      ["empty", () => ""],
      ["without its sha256= prefix", () => hex()],
      ["under another secret", () => signLeakReport(body, SECRET + "x")],
      ["of another body", () => signLeakReport(body + " ", SECRET)],
      ["one hex digit short", () => `sha256=${hex().slice(1)}`],
      ["one hex digit long", () => `sha256=${hex()}0`],
      ["with a non-hex digit", () => `sha256=${hex().slice(1)}g`],
      ["named sha1", () => `sha1=${hex()}`],
      ["sent twice", () => `${signLeakReport(body, SECRET)}, ${signLeakReport(body, SECRET)}`],
      ["with trailing junk", () => `${signLeakReport(body, SECRET)};v=1`],
    ])("%s → 401, and nothing is disabled", async (_label, signature) => {
      const reply = await send({ body, signature: signature() });
      expect(reply.status).toBe(401);
      expect(reply.json).toMatchObject({ error: { code: "UNAUTHENTICATED", message: expect.stringContaining("Keyscope-Signature") } });
      expect(lookedUp).toEqual([]);
      expect(await enabled(key.id)).toBe(1);
    });

    it("an unsigned malformed body is 401, not 400: nothing is parsed before the signature holds", async () => {
      expect((await send({ body: "{not json", signature: null })).status).toBe(401);
      expect((await send({ body: "{not json", signature: signLeakReport("other", SECRET) })).status).toBe(401);
    });

    it("upper-case hex is the same signature", async () => {
      const reply = await send({ body, signature: `sha256=${hex().toUpperCase()}` });
      expect(reply.status).toBe(200);
      expect(await enabled(key.id)).toBe(0);
    });
  });

  it("without LEAK_REPORT_SECRET there is no such route: 404 for every request, signed or not", async () => {
    const key = await newKey(accountA, "no secret");
    const body = JSON.stringify([finding(key.plaintext)]);
    for (const secret of [undefined, ""]) {
      for (const input of [{ body }, { body, signature: null }, { body: "junk", signature: null }, { body, method: "GET" }]) {
        const reply = await read(toResponse(await leaksApi(request(input), { secret })));
        expect(reply.status).toBe(404);
        expect(reply.json).toEqual({ error: { code: "NOT_FOUND", message: "No such route." } });
      }
    }
    expect(await enabled(key.id)).toBe(1);
  });

  it("any method but POST is 404", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) expect((await send({ body: "[]", method })).status).toBe(404);
  });

  it("Next.js serves the same handler", () => {
    expect(route.POST).toBe(handleLeaksApi);
    expect(route.dynamic).toBe("force-dynamic");
  });
});

describe("through the gateway", () => {
  beforeAll(async () => {
    gateway = await startTestGateway();
  });

  const post = async (body: string | ReadableStream<Uint8Array>, signature: string | null) => {
    const response = await fetch(`${gateway!.origin}/api/v1/leaks`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(signature === null ? {} : { "keyscope-signature": signature }) },
      body,
      duplex: "half",
    } as RequestInit);
    return read(response);
  };

  it("is routed by path to the same handler, on the Fetch path", () => {
    expect(routeRequest("/api/v1/leaks")).toBe(handleLeaksApi);
    expect(fastRoute("/api/v1/leaks", "")).toBeNull();
  });

  it("a signed report disables the key; the gateway refuses it right after", async () => {
    const key = await newKey(accountA, "via gateway");
    const health = () => fetch(`${gateway!.origin}/graphql`, { method: "POST", headers: { authorization: `Bearer ${key.plaintext}`, "content-type": "application/json" }, body: '{"query":"{ myself { id } }"}' });
    expect((await health()).status).toBe(200);
    const body = JSON.stringify([finding(key.plaintext), finding(UNISSUED)]);
    const reply = await post(body, signLeakReport(body, SECRET));
    expect(reply.status).toBe(200);
    expect((reply.json as Answer[]).map((answer) => answer.label)).toEqual(["true_positive", "false_positive"]);
    const refused = await health();
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "KEY_DISABLED" } });
  });

  it("bad signature 401, malformed 400, over 1 MB 400 (streamed, without a Content-Length)", async () => {
    const body = JSON.stringify([finding(UNISSUED)]);
    expect((await post(body, signLeakReport(body, "wrong-secret-wrong-secret-wrong-secret"))).status).toBe(401);
    expect((await post("[", signLeakReport("[", SECRET))).status).toBe(400);
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 1024 * 1024) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const reply = await post(stream, "sha256=" + "0".repeat(64));
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ error: { code: "BAD_REQUEST", message: expect.stringContaining("larger than") } });
  });
});

describe("never a token", () => {
  it("in any answer this file received", () => {
    const all = seen.join("\n");
    expect(seen.length).toBeGreaterThan(20);
    for (const token of new Set(tokens)) if (token.length >= 8) expect(all).not.toContain(token);
  });
});
