// Pure: the response headers that pages and APIs carry. proxy.ts sets the per-request page CSP;
// next.config.ts sets the static headers.

export type PagePolicyOptions = {
  /** Fresh per response; Next.js reads it back from the request's CSP and stamps its scripts. */
  nonce: string;
  /** `next dev` only: React rebuilds server error stacks with eval. Never in production. */
  development: boolean;
  /** The page was requested over HTTPS (directly or through a TLS-terminating proxy). */
  https: boolean;
};

/**
 * Scripts run only with this response's nonce ('strict-dynamic' lets them load the chunks they
 * import; 'self' is a fallback for browsers without it). Stylesheets from 'self', <style>
 * elements with the nonce. `next dev` also needs eval and nonce-less styles (hot reload).
 */
export function pageContentSecurityPolicy({ nonce, development, https }: PagePolicyOptions): string {
  const directives = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${development ? " 'unsafe-eval'" : ""}`,
    // <style> elements need the nonce (app/_components/style-nonce.tsx hands it to Radix);
    // style attributes may stay inline: they select nothing, and what they load obeys img-src / font-src.
    `style-src 'self' ${development ? "'unsafe-inline'" : `'nonce-${nonce}'`}`,
    `style-src-elem 'self' ${development ? "'unsafe-inline'" : `'nonce-${nonce}'`}`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "frame-src 'none'",
    "worker-src 'self'",
    "manifest-src 'self'",
  ];
  // Only over HTTPS: on a plain-HTTP origin it would send every subresource to a port that is not listening.
  if (https) directives.push("upgrade-insecure-requests");
  return directives.join("; ");
}

/** JSON APIs render nothing: nothing may load, and nobody may frame them. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Every response, pages, APIs and static files alike. */
export const COMMON_SECURITY_HEADERS: ReadonlyArray<{ key: string; value: string }> = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
  { key: "X-Frame-Options", value: "DENY" },
];

/** 128 random bits, base64: unguessable, and valid in a CSP nonce source. */
export function newNonce(randomBytes: (length: number) => Uint8Array = (length) => crypto.getRandomValues(new Uint8Array(length))): string {
  return btoa(String.fromCharCode(...randomBytes(16)));
}
