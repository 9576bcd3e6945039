/** Path of a `file:` database URL, or null for remote (libsql://, http(s)://) databases. */
export function filePathOf(url: string): string | null {
  if (!url.startsWith("file:")) return null;
  return url.slice("file:".length).replace(/^\/\/(?=\/)/, "").split("?")[0] ?? null;
}
