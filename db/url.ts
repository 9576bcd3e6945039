import { resolve } from "node:path";

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

/**
 * The file of a database on disk, absolute; null for remote and in-memory databases, which have no
 * other process to wait for (and no native connection of ours).
 */
export function diskFileOf(url: string): string | null {
  const file = filePathOf(url);
  if (file === null || file === "" || file === ":memory:" || /[?&]mode=memory\b/.test(url)) return null;
  return resolve(file);
}
