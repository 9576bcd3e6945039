import { request as playwrightRequest, type APIResponse, type Page } from "@playwright/test";
import { createEndpoint, createKey, expect, keyRow, PASSWORD, signIn, signUp, test, uniqueEmail } from "./fixtures";

/** Directive name → its sources, from a Content-Security-Policy header. */
function directives(policy: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (policy ?? "").split(";")) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), sources);
  }
  return map;
}

function expectPagePolicy(response: APIResponse): string {
  const headers = response.headers();
  const policy = headers["content-security-policy"];
  expect(policy, "Content-Security-Policy").toBeTruthy();
  const csp = directives(policy);
  expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
  expect(csp.get("object-src")).toEqual(["'none'"]);
  expect(csp.get("base-uri")).toEqual(["'self'"]);
  expect(csp.get("form-action")).toEqual(["'self'"]);
  const scripts = csp.get("script-src") ?? [];
  expect(scripts).not.toContain("'unsafe-eval'");
  expect(scripts).not.toContain("'unsafe-inline'");
  const nonce = scripts.find((source) => source.startsWith("'nonce-"));
  expect(nonce, "script-src carries a nonce").toBeTruthy();
  expect(policy).not.toContain("unsafe-eval");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
  expect(headers["x-frame-options"]).toBe("DENY");
  return nonce!.slice("'nonce-".length, -1);
}

/** Collects every CSP violation the page reports, across navigations. */
function watchForViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|CSP violation/i.test(message.text())) violations.push(message.text());
  });
  page.on("pageerror", (error) => {
    if (/Content Security Policy/i.test(error.message)) violations.push(error.message);
  });
  // Added through the DevTools protocol, so the page's CSP does not apply to this script itself.
  void page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
    });
  });
  return violations;
}

test.describe("security headers", () => {
  test("the sign-in page carries a strict CSP with a fresh nonce per response, nosniff and a referrer policy", async ({ request }) => {
    const first = await request.get("/signin");
    expect(first.status()).toBe(200);
    const nonce = expectPagePolicy(first);
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    // Next.js stamps its own scripts with this response's nonce.
    expect(await first.text()).toContain(`nonce="${nonce}"`);

    const second = await request.get("/signin");
    expect(expectPagePolicy(second)).not.toBe(nonce);
  });

  test("signed-in pages carry the same headers, and the session cookie is HttpOnly and SameSite=Lax", async ({ page, context }) => {
    await signUp(page);
    for (const path of ["/settings/api-keys", "/settings/endpoints"]) {
      const response = await page.request.get(path, { maxRedirects: 0 });
      expect(response.status(), path).toBe(200);
      expectPagePolicy(response);
    }

    const session = (await context.cookies()).find((cookie) => cookie.name.endsWith("authjs.session-token"));
    expect(session, "session cookie").toBeDefined();
    expect(session!.httpOnly).toBe(true);
    expect(session!.sameSite).toBe("Lax");
    // Plain HTTP here; behind a TLS-terminating proxy it is Secure (next test).
    expect(session!.secure).toBe(false);
    expect(await page.evaluate(() => document.cookie)).not.toContain("session-token");
  });

  test("pages render with no CSP violations, dialogs and actions included", async ({ page }) => {
    const violations = watchForViolations(page);
    await page.goto("/signin");
    await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
    await page.goto("/signup");
    await expect(page.getByRole("button", { name: "Create account" })).toBeVisible();
    const missing = await page.goto("/no-such-page");
    expect(missing?.status()).toBe(404);
    expect(directives(await missing?.headerValue("content-security-policy") ?? "").get("frame-ancestors")).toEqual(["'none'"]);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();

    await signUp(page);
    await expect(page.getByRole("heading", { name: "API keys" })).toBeVisible();
    await createEndpoint(page, "csp-endpoint");
    // Dialogs lock scrolling with an injected <style>: it must carry the nonce.
    await createKey(page, "csp-key");
    const toggle = page.getByRole("switch", { name: "Enable csp-key" });
    await toggle.click();
    await expect(toggle).not.toBeChecked();
    await keyRow(page, "csp-key").getByRole("button", { name: "Edit scopes" }).click();
    await expect(page.getByRole("dialog").getByRole("radiogroup", { name: "csp-endpoint", exact: true })).toBeVisible();
    await page.keyboard.press("Escape");
    await keyRow(page, "csp-key").getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("alertdialog")).toBeVisible();
    await page.getByRole("button", { name: "Cancel" }).click();

    await page.goto("/settings/endpoints");
    const item = page.getByRole("listitem", { name: "csp-endpoint", exact: true });
    await item.getByRole("button", { name: "Rename" }).click();
    await expect(page.getByRole("dialog")).toBeVisible();
    await page.keyboard.press("Escape");
    // Client-side navigation between settings pages.
    await page.getByRole("link", { name: "API keys" }).click();
    await expect(page.getByRole("heading", { name: "API keys" })).toBeVisible();

    expect(violations).toEqual([]);
  });

  test("JSON APIs keep working and carry nosniff and a deny-all CSP", async ({ request }) => {
    const cases = [
      await request.get("/v2/no-such-endpoint/health"),
      await request.post("/graphql", { data: { query: "{ myself { id } }" } }),
      await request.post("/api/v1/keys/verify", { data: { key: "rpa_x", resource: "graphql", access: "read" } }),
    ];
    for (const response of cases) {
      const headers = response.headers();
      expect(headers["content-type"], response.url()).toContain("application/json");
      expect(headers["x-content-type-options"], response.url()).toBe("nosniff");
      expect(headers["cache-control"], response.url()).toContain("no-store");
      expect(directives(headers["content-security-policy"]).get("default-src"), response.url()).toEqual(["'none'"]);
      await response.json();
    }
    expect(cases[0]!.status()).toBe(401);
    expect(cases[1]!.status()).toBe(401);
    expect(cases[2]!.status()).toBe(200);
  });
});

/** Signs in through next-auth's own credentials route, as a script (not the form) would. */
async function postCredentials(baseURL: string, email: string, password: string, extraHeaders: Record<string, string> = {}) {
  const api = await playwrightRequest.newContext({ baseURL, extraHTTPHeaders: extraHeaders });
  try {
    const csrf = await api.get("/api/auth/csrf");
    const { csrfToken } = (await csrf.json()) as { csrfToken: string };
    const cookie = csrf
      .headersArray()
      .filter((header) => header.name.toLowerCase() === "set-cookie")
      .map((header) => header.value.split(";")[0])
      .join("; ");
    const response = await api.post("/api/auth/callback/credentials", {
      form: { email, password, csrfToken, callbackUrl: "/settings/api-keys" },
      headers: { cookie },
      maxRedirects: 0,
    });
    const setCookies = response
      .headersArray()
      .filter((header) => header.name.toLowerCase() === "set-cookie")
      .map((header) => header.value);
    return { status: response.status(), location: response.headers()["location"] ?? "", setCookies };
  } finally {
    await api.dispose();
  }
}

// Behind a TLS-terminating proxy (TRUST_PROXY): e2e/front-door.spec.ts.

test.describe("sign-in rate limit", () => {
  const REFUSED = /^Too many sign-in attempts\. Try again in \d+ minutes?\.$/;

  test("after 5 wrong passwords an email is refused, even with the right password", async ({ page, context }) => {
    const email = await signUp(page);
    await context.clearCookies();
    // Not Next.js's route announcer, which is an (empty) alert too.
    const alert = page.getByRole("alert").filter({ hasText: /\S/ });
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await signIn(page, email, `wrong password ${attempt}`);
      await expect(alert).toHaveText("Wrong email or password.");
    }
    await signIn(page, email, "wrong password 6");
    await expect(alert).toHaveText(REFUSED);
    await expect(alert).toHaveText("Too many sign-in attempts. Try again in 15 minutes.");

    // The right password is refused too until the window passes: nothing is checked meanwhile.
    await signIn(page, email.toUpperCase(), PASSWORD);
    await expect(alert).toHaveText(REFUSED);
    await expect(page).toHaveURL(/\/signin$/);
    expect((await context.cookies()).some((cookie) => cookie.name.endsWith("authjs.session-token"))).toBe(false);
  });

  test("an unknown email is limited exactly like a known one, also on next-auth's own route", async ({ baseURL }) => {
    for (const email of [uniqueEmail("ghost"), uniqueEmail("ghost")]) {
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const { location } = await postCredentials(baseURL!, email, PASSWORD);
        expect(new URL(location).searchParams.get("code")).toBe("credentials");
      }
      const refused = await postCredentials(baseURL!, email, PASSWORD);
      expect(new URL(refused.location).searchParams.get("code")).toBe("rate_limited");
    }
  });

  test("a successful sign-in clears the email's failures", async ({ page, baseURL }) => {
    const email = await signUp(page);
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      expect(new URL((await postCredentials(baseURL!, email, "nope")).location).searchParams.get("code")).toBe("credentials");
    }
    const success = await postCredentials(baseURL!, email, PASSWORD);
    expect(success.location).toMatch(/\/settings\/api-keys$/);
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      expect(new URL((await postCredentials(baseURL!, email, "nope")).location).searchParams.get("code")).toBe("credentials");
    }
  });
});
