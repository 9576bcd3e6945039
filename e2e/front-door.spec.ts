import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { request as playwrightRequest, type Browser } from "@playwright/test";
import { createEndpoint, createKey, E2E_PORT, expect, PASSWORD, scopeRow, signUp, test, uniqueEmail } from "./fixtures";
import { rawExchange } from "../testing/raw-http";

// The Next.js server's front door (lib/http/front-door.ts), the same one the gateway has:
// lib/http/gateway.test.ts runs the gateway side of these tables.

const root = path.resolve(__dirname, "..");

type AppServer = { origin: string; port: number; stop(): Promise<void> };

/** Every server started here, stopped in afterAll even when its start timed out or failed. */
const started = new Set<() => Promise<void>>();

/** Another app server on its own fresh database, with settings of its own. */
async function startAppServer(port: number, env: Record<string, string>): Promise<AppServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "keyscope-e2e-"));
  const inherited = { ...process.env };
  delete inherited.TRUST_PROXY;
  const child: ChildProcess = spawn(path.join(root, "node_modules/.bin/tsx"), ["scripts/next-server.ts", "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: root,
    env: { ...inherited, NEXT_TELEMETRY_DISABLED: "1", DATABASE_URL: `file:${path.join(dataDir, "keyscope.db")}`, KEYSCOPE_DATA_DIR: dataDir, ...env },
    stdio: "ignore",
    detached: true,
  });
  const origin = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.pid && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  started.add(stop);
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    if (await fetch(`${origin}/api/health`).then((r) => r.ok, () => false)) return { origin, port, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error("app server did not start");
}


const portOf = (baseURL: string) => Number(new URL(baseURL).port);

test.describe("malformed paths", () => {
  for (const target of ["/v2/%ff/health", "/api/auth/%ff", "/settings/%E0%A4%A", "/graphql%ff", "/%"]) {
    test(`${target} is a 400 JSON error with the security headers, not a 500`, async ({ baseURL }) => {
      // Raw, so that no client tidies the path up first.
      const raw = await rawExchange(portOf(baseURL!), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      const [head, body] = raw.split("\r\n\r\n");
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(head).toMatch(/^content-type: application\/json/im);
      expect(head).toMatch(/^x-content-type-options: nosniff/im);
      expect(head).toMatch(/^content-security-policy: default-src 'none'/im);
      expect(JSON.parse(body!)).toEqual({ error: { code: "BAD_REQUEST", message: "The request path is not valid percent-encoding." } });
    });
  }
});

test("two Authorization headers are refused 401, as on the gateway, whichever of them is valid", async ({ page, baseURL }) => {
  await signUp(page);
  const endpointId = await createEndpoint(page, "front-door");
  const key = await createKey(page, "reader", async () => {
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read", exact: true }).check();
  });
  const health = (authorizations: string[]) =>
    rawExchange(
      portOf(baseURL!),
      `GET /v2/${endpointId}/health HTTP/1.1\r\nHost: 127.0.0.1\r\n${authorizations.map((a) => `Authorization: ${a}\r\n`).join("")}Connection: close\r\n\r\n`,
    );
  expect(await health([`Bearer ${key}`])).toMatch(/^HTTP\/1\.1 200 /);
  for (const pair of [[`Bearer ${key}`, "Bearer rpa_x"], ["Bearer rpa_x", `Bearer ${key}`], [`Bearer ${key}`, `Bearer ${key}`]]) {
    const raw = await health(pair);
    expect(raw).toMatch(/^HTTP\/1\.1 401 /);
    expect(raw).toContain('"code":"UNAUTHENTICATED"');
  }
});

test("a body refused before it was read closes the connection, and the client's next request is answered at once", async ({ page, baseURL }) => {
  await signUp(page);
  const endpointId = await createEndpoint(page, "chunked");
  const key = await createKey(page, "writer", async () => {
    await scopeRow(page, "All endpoints").getByRole("radio", { name: "Read / Write", exact: true }).check();
  });
  const origin = new URL(baseURL!);
  for (const authorization of [`Bearer ${key}`, "Bearer rpa_wrong"]) {
    // Over 1 MB, chunked (no Content-Length to refuse it by), on a kept-alive connection.
    const status = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(
        { host: origin.hostname, port: origin.port, path: `/v2/${endpointId}/run`, method: "POST", headers: { authorization, "content-type": "application/json", connection: "keep-alive", "transfer-encoding": "chunked" } },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
        },
      );
      req.on("error", reject);
      req.write('{"input":"');
      const chunk = "a".repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 2_000_000) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end('"}');
      };
      pump();
    }).catch((error: Error) => ({ status: 0, connection: error.message }));
    expect([400, 401, 0]).toContain(status.status);
    if (status.status !== 0) expect(status.connection).toBe("close");
    const next = await fetch(`${baseURL}/v2/${endpointId}/health`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(3000) });
    expect(next.status).toBe(200);
  }
});

test("a page fetched as a prefetch carries its Content-Security-Policy", async ({ request }) => {
  const variants: Record<string, string>[] = [{ Purpose: "prefetch" }, { "Sec-Purpose": "prefetch" }];
  for (const headers of variants) {
    const response = await request.get("/signin", { headers });
    expect(response.status()).toBe(200);
    expect(response.headers()["content-security-policy"], JSON.stringify(headers)).toContain("script-src 'self' 'nonce-");
    expect(response.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
  }
});

/** Signs in through next-auth's own credentials route with the given extra headers. */
async function postCredentials(baseURL: string, email: string, password: string, extraHeaders: Record<string, string> = {}) {
  const api = await playwrightRequest.newContext({ baseURL, extraHTTPHeaders: extraHeaders });
  try {
    const csrf = await api.get("/api/auth/csrf");
    const { csrfToken } = (await csrf.json()) as { csrfToken: string };
    const response = await api.post("/api/auth/callback/credentials", {
      form: { email, password, csrfToken, callbackUrl: "/settings/api-keys" },
      maxRedirects: 0,
    });
    const setCookies = response
      .headersArray()
      .filter((header) => header.name.toLowerCase() === "set-cookie")
      .map((header) => header.value);
    const location = response.headers()["location"] ?? "";
    return { status: response.status(), code: location ? new URL(location, baseURL).searchParams.get("code") : null, setCookies };
  } finally {
    await api.dispose();
  }
}

/** Signs up a new account in a fresh context; "signed up", or the refusal the form shows. */
async function signUpFrom(browser: Browser, origin: string, forwardedFor: string): Promise<string> {
  const context = await browser.newContext({ baseURL: origin, extraHTTPHeaders: { "X-Forwarded-For": forwardedFor } });
  try {
    const page = await context.newPage();
    await page.goto("/signup");
    await page.getByLabel("Email").fill(uniqueEmail("spoof"));
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    // Not Next.js's route announcer, which is an (empty) alert too.
    const alert = page.getByRole("alert").filter({ hasText: /\S/ });
    await Promise.race([page.waitForURL(/\/settings\/api-keys$/), alert.waitFor()]);
    return page.url().endsWith("/settings/api-keys") ? "signed up" : ((await alert.textContent()) ?? "");
  } finally {
    await context.close();
  }
}

test.describe("client addresses: forwarding headers count only behind a trusted proxy", () => {
  test.describe.configure({ mode: "serial" });
  let direct: AppServer | undefined;
  let proxied: AppServer | undefined;
  const LIMITS = { SIGNIN_MAX_FAILURES_PER_ADDRESS: "3", SIGNUP_MAX_PER_ADDRESS: "2" };

  test.beforeAll(async ({}, testInfo) => {
    testInfo.setTimeout(90_000);
    [direct, proxied] = await Promise.all([startAppServer(E2E_PORT + 11, LIMITS), startAppServer(E2E_PORT + 12, { ...LIMITS, TRUST_PROXY: "1" })]);
  });
  test.afterAll(async () => {
    await Promise.all([...started].map((stop) => stop()));
  });

  test("without TRUST_PROXY, X-Forwarded-Proto does not make the session cookie Secure", async ({ browser }) => {
    const email = uniqueEmail("proto");
    const context = await browser.newContext({ baseURL: direct!.origin });
    const page = await context.newPage();
    await signUp(page, email);
    await context.close();
    const reply = await postCredentials(direct!.origin, email, PASSWORD, { "X-Forwarded-Proto": "https" });
    const cookie = reply.setCookies.find((value) => /^(__Secure-)?authjs\.session-token=/.test(value));
    expect(cookie, reply.setCookies.join("\n")).toMatch(/^authjs\.session-token=/);
    expect(cookie).not.toMatch(/;\s*Secure/i);
  });

  // In this order: each test spends part of the direct server's per-address budgets (2 sign-ups, 3 failed sign-ins).
  test("without TRUST_PROXY, rotating X-Forwarded-For gives no new sign-up budget", async ({ browser }) => {
    // The test before signed up once from this machine already.
    expect(await signUpFrom(browser, direct!.origin, "203.0.113.2")).toBe("signed up");
    expect(await signUpFrom(browser, direct!.origin, "203.0.113.3")).toMatch(/^Too many sign-up attempts\. Try again in \d+ minutes?\.$/);
  });

  test("without TRUST_PROXY, rotating X-Forwarded-For gives no new sign-in budget", async () => {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const reply = await postCredentials(direct!.origin, uniqueEmail("guess"), "wrong password", { "X-Forwarded-For": `198.51.100.${attempt}` });
      expect(reply.code).toBe("credentials");
    }
    const refused = await postCredentials(direct!.origin, uniqueEmail("guess"), "wrong password", { "X-Forwarded-For": "198.51.100.99" });
    expect(refused.code).toBe("rate_limited");
  });

  test("with TRUST_PROXY=1, the address the proxy appended is the client's: one client is limited, another is not", async () => {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      // What a client typed stands left of what the proxy appended, and is ignored.
      const reply = await postCredentials(proxied!.origin, uniqueEmail("guess"), "wrong password", { "X-Forwarded-For": `6.6.6.${attempt}, 203.0.113.7` });
      expect(reply.code).toBe("credentials");
    }
    expect((await postCredentials(proxied!.origin, uniqueEmail("guess"), "wrong password", { "X-Forwarded-For": "6.6.6.9, 203.0.113.7" })).code).toBe("rate_limited");
    expect((await postCredentials(proxied!.origin, uniqueEmail("guess"), "wrong password", { "X-Forwarded-For": "203.0.113.8" })).code).toBe("credentials");
  });

  test("with TRUST_PROXY=1, X-Forwarded-Proto: https gives a __Secure- session cookie with Secure, HttpOnly and SameSite=Lax", async ({ browser }) => {
    const email = uniqueEmail("tls");
    const context = await browser.newContext({ baseURL: proxied!.origin, extraHTTPHeaders: { "X-Forwarded-For": "203.0.113.50" } });
    const page = await context.newPage();
    await signUp(page, email);
    await context.close();
    const behindTls = await postCredentials(proxied!.origin, email, PASSWORD, { "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.51" });
    expect(behindTls.status).toBe(302);
    const secure = behindTls.setCookies.find((value) => value.startsWith("__Secure-authjs.session-token="));
    expect(secure, behindTls.setCookies.join("\n")).toBeDefined();
    expect(secure).toMatch(/;\s*Secure/i);
    expect(secure).toMatch(/;\s*HttpOnly/i);
    expect(secure).toMatch(/;\s*SameSite=Lax/i);
  });
});
