"use client";

// Radix's scroll lock (react-remove-scroll) injects a <style> element when a dialog opens; the
// page CSP (proxy.ts) only admits <style> elements that carry this document's nonce. Its helper
// reads the global `__webpack_nonce__` (Turbopack leaves that name alone), so set it from the
// nonce Next.js put on its own scripts. The IDL `nonce` property keeps the value after the
// browser hides the attribute, and the nonce never has to travel in the RSC payload.
if (typeof document !== "undefined") {
  const nonce = document.querySelector<HTMLScriptElement>("script[nonce]")?.nonce;
  if (nonce) (globalThis as { __webpack_nonce__?: string }).__webpack_nonce__ = nonce;
}

export function StyleNonce() {
  return null;
}
