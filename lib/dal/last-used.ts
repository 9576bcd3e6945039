import "server-only";
import type { SqlRunner } from "@/db/handle";

// Forward-only: a flush never moves a key's last used date back, whichever process wrote last.
const FLUSH = `
  UPDATE api_keys SET last_used_at = u.at
  FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS at FROM json_each(?1)) AS u
  WHERE api_keys.id = u.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.at)`;

export type LastUsedRecorder = {
  record(keyId: string, at: number): void;
  /** Writes what was recorded in one statement; a failure keeps it for the next flush. */
  flush(): Promise<void>;
  /** For process exit: writes synchronously where the database allows it. */
  flushAtExit(): void;
  start(intervalMs: number): void;
  stop(): void;
  readonly stats: { flushes: number; failures: number; pending: number };
};

/**
 * Each allowed request notes its key here, in memory; a timer writes the latest time per key at
 * most once per interval, in one statement. Requests never wait for it and never fail by it.
 */
export function createLastUsedRecorder(sql: SqlRunner): LastUsedRecorder {
  let pending = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const stats = { flushes: 0, failures: 0, get pending() {
    return pending.size;
  } };

  function take(): string | null {
    if (pending.size === 0) return null;
    const batch = JSON.stringify([...pending]);
    pending = new Map();
    return batch;
  }

  function restore(batch: string) {
    for (const [keyId, at] of JSON.parse(batch) as [string, number][]) {
      if ((pending.get(keyId) ?? 0) < at) pending.set(keyId, at);
    }
  }

  return {
    record(keyId, at) {
      if ((pending.get(keyId) ?? 0) < at) pending.set(keyId, at);
    },
    async flush() {
      const batch = take();
      if (!batch) return;
      try {
        stats.flushes += 1;
        await sql.run(FLUSH, [batch]);
      } catch (error) {
        stats.failures += 1;
        restore(batch);
        console.error(`last-used flush failed: ${error instanceof Error ? error.name : "unknown"}`);
      }
    },
    flushAtExit() {
      const batch = take();
      if (!batch) return;
      try {
        stats.flushes += 1;
        if (sql.runAtExit(FLUSH, [batch]) === null) restore(batch);
      } catch {
        stats.failures += 1;
      }
    },
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => void this.flush(), intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    stats,
  };
}
