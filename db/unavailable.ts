/**
 * What a locked or unreachable database looks like, and the one way to wait for it. Every error
 * leaving the database handle (db/handle.ts) has been through `toUnavailable`, on both of its
 * paths (drizzle and the prepared statements), so the rest of the code knows one class only.
 */

/**
 * The database is locked or unreachable past its timeout: a 503 with Retry-After for the APIs, a
 * "try again" message for dashboard actions — never a 500.
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

const LOCKED = "database locked past its timeout";
const BUSY_CODES = ["SQLITE_BUSY", "SQLITE_LOCKED"];
// A file that cannot be opened or read, or a libSQL server that does not answer.
const UNREACHABLE_CODES = ["SQLITE_CANTOPEN", "SQLITE_IOERR", "SERVER_ERROR"];
const MAX_PAUSE_MS = 50;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Another connection holds the lock: worth waiting for, up to the deadline. */
export function isBusyError(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && BUSY_CODES.some((prefix) => code.startsWith(prefix));
}

/** The one mapping: a busy or unreachable database becomes DatabaseUnavailableError (its cause kept); anything else passes. */
export function toUnavailable(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  if (isBusyError(error)) return new DatabaseUnavailableError(LOCKED, { cause: error });
  const code = codeOf(error);
  if (code !== undefined && UNREACHABLE_CODES.some((prefix) => code.startsWith(prefix))) return new DatabaseUnavailableError("database unavailable", { cause: error });
  return error;
}

/** `work`, its failure passed through toUnavailable. */
export async function mapUnavailable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toUnavailable(error);
  }
}

/**
 * DatabaseUnavailableError, as thrown or as the cause of drizzle's DrizzleQueryError. By name too:
 * Next.js may bundle this module twice, and then `instanceof` meets the other copy's class.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (current instanceof DatabaseUnavailableError || current.name === "DatabaseUnavailableError") return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The one retry loop: runs `attempt` until it is not busy, pausing (2, 4, … 50 ms) in between,
 * asynchronously, so the event loop keeps running; busy still at `deadline`: DatabaseUnavailableError.
 * Other errors are thrown as they are. An attempt must leave nothing behind when it fails.
 */
export async function retryWhileBusy<T>(deadline: number, attempt: () => T | Promise<T>): Promise<T> {
  for (let pause = 2; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isBusyError(error)) throw error;
      const left = deadline - Date.now();
      if (left <= 0) throw new DatabaseUnavailableError(LOCKED, { cause: error });
      await sleep(Math.min(pause, left));
    }
  }
}
