/** Path of a `file:` database URL, or null for remote (libsql://, http(s)://) databases. */
export function filePathOf(url: string): string | null {
  if (!url.startsWith("file:")) return null;
  // Read as @libsql/client reads it: an empty or `localhost` authority, a percent-encoded path.
  const path = (url.slice("file:".length).split(/[?#]/)[0] ?? "").replace(/^\/\/(localhost)?(?=\/)/i, "");
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
