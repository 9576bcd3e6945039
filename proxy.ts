import { NextResponse, type NextRequest } from "next/server";
import { newNonce, pageContentSecurityPolicy } from "@/lib/security/content-security-policy";

// A fresh CSP nonce per page response. Next.js reads the nonce back from the request's
// Content-Security-Policy header and puts it on its own scripts; pages are rendered per request
// (they read the session), so every response gets its own.
export function proxy(request: NextRequest) {
  const policy = pageContentSecurityPolicy({
    nonce: newNonce(),
    development: process.env.NODE_ENV === "development",
    https: request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https" || request.nextUrl.protocol === "https:",
  });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("Content-Security-Policy", policy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("Content-Security-Policy", policy);
  return response;
}

export const config = {
  matcher: [
    // Pages only: the JSON APIs (/v2, /graphql, /api) get a static policy from next.config.ts,
    // and static files need none. Prefetches included: a `Purpose: prefetch` request gets the
    // whole page, and the browser may show it, so it carries its policy like any other.
    "/((?!api|v2|graphql|_next/static|_next/image|favicon.ico).*)",
  ],
};
