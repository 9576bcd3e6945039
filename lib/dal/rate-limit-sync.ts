import "server-only";
import { randomBytes } from "node:crypto";
import type { Transaction } from "@libsql/client";
import { getDb } from "@/db/handle";
import { allocate, baseShare, heldBy, type ShareLimiter, type SlotShare } from "@/lib/core/restrictions/rate-limit";

// SPEC §9, across processes: the rate limits' budgets are shared through two bookkeeping tables
// (migration 0008), in one short write transaction per process every `intervalMs`, off the
// request path. Each process marks itself live, then for each key window it is counting (and the
// next one, reserved ahead) records what it has used and takes its allowance out of what the other
// live processes do not hold (lib/core/restrictions/rate-limit.ts says why that keeps the sum of
// allowances within the limit). Requests only ever read the allowances this process holds.

/** A process not seen for this long is not live: its share goes back to the others. */
export const LIVE_FOR_MS = 1_000;
/** Rows of processes gone this long are deleted. */
const FORGET_AFTER_MS = 10_000;

type Row = { key_id: string; window_start: number; process_id: string; allowance: number; used: number };

/** One sync: answers the shares it committed, or throws (the limiter then keeps what it had). */
export async function syncRateLimits(limiter: ShareLimiter, processId: string, now: number): Promise<{ live: number; shares: SlotShare[] }> {
  const reports = limiter.reports(now);
  const db = await getDb();
  let tx: Transaction | undefined;
  try {
    tx = await db.$client.transaction("write");
    await tx.execute({
      sql: "INSERT INTO data_plane_processes (id, seen_at) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
      args: [processId, now],
    });
    await tx.execute({ sql: "DELETE FROM data_plane_processes WHERE seen_at < ?1", args: [now - FORGET_AFTER_MS] });
    // Windows that ended over two hours ago (the longest window is an hour), and processes gone.
    await tx.execute({
      sql: "DELETE FROM rate_limit_shares WHERE window_start < ?1 OR process_id NOT IN (SELECT id FROM data_plane_processes)",
      args: [now - 7_200_000],
    });
    const liveRows = await tx.execute({ sql: "SELECT id FROM data_plane_processes WHERE seen_at >= ?1", args: [now - LIVE_FOR_MS] });
    const live = new Set(liveRows.rows.map((row) => String(row.id)));
    live.add(processId);

    const shares: SlotShare[] = [];
    if (reports.length > 0) {
      const wanted = JSON.stringify(reports.map((report) => [report.keyId, report.start]));
      const result = await tx.execute({
        sql: `SELECT s.key_id, s.window_start, s.process_id, s.allowance, s.used FROM rate_limit_shares s
              JOIN (SELECT json_extract(value, '$[0]') AS key_id, json_extract(value, '$[1]') AS window_start FROM json_each(?1)) w
                ON s.key_id = w.key_id AND s.window_start = w.window_start`,
        args: [wanted],
      });
      const held = new Map<string, Row[]>();
      for (const raw of result.rows) {
        const row = raw as unknown as Row;
        const id = `${row.key_id}@${Number(row.window_start)}`;
        const list = held.get(id) ?? [];
        list.push(row);
        held.set(id, list);
      }
      const writes: [string, number, number, number][] = [];
      for (const report of reports) {
        const rows = held.get(`${report.keyId}@${report.start}`) ?? [];
        const base = baseShare(report.rule.limit, live.size);
        // A live process without a row may admit its base share: count it as holding that.
        let othersHold = 0;
        let othersUsed = 0;
        for (const process of live) {
          if (process === processId) continue;
          const row = rows.find((candidate) => candidate.process_id === process);
          othersHold += row ? Number(row.allowance) : base;
          othersUsed += row ? Number(row.used) : 0;
        }
        const mine = heldBy(report, limiter.liveProcesses);
        const allowance = allocate({ limit: report.rule.limit, used: report.used, demand: report.demand, held: mine, othersHold, othersUsed, live: live.size });
        writes.push([report.keyId, report.start, allowance, report.used]);
        shares.push({ keyId: report.keyId, per: report.rule.per, start: report.start, allowance, othersUsed });
      }
      await tx.execute({
        sql: `INSERT INTO rate_limit_shares (key_id, window_start, process_id, allowance, used)
              SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2, json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?1)
              WHERE true -- without a WHERE, SQLite would read the ON CONFLICT below as a join's ON
              ON CONFLICT (key_id, window_start, process_id) DO UPDATE SET allowance = excluded.allowance, used = excluded.used`,
        args: [JSON.stringify(writes), processId],
      });
    }
    await tx.commit();
    return { live: live.size, shares };
  } finally {
    tx?.close();
  }
}

export type RateLimitSync = { readonly processId: string; syncNow(): Promise<void>; stop(): void };

/** Syncs every `intervalMs` (never two at once); a failed sync leaves the allowances as they were. */
export function startRateLimitSync(limiter: ShareLimiter, options: { intervalMs: number; now?: () => number }): RateLimitSync {
  const processId = `proc_${randomBytes(8).toString("hex")}`;
  const now = options.now ?? Date.now;
  let running: Promise<void> | undefined;
  const syncNow = (): Promise<void> => {
    running ??= syncRateLimits(limiter, processId, now())
      .then(({ live, shares }) => limiter.applyShares(shares, live))
      .catch((error: unknown) => {
        limiter.syncFailed();
        console.error(`rate-limit sync failed: ${error instanceof Error ? error.name : "unknown"}`);
      })
      .finally(() => (running = undefined));
    return running;
  };
  // With no limited key in use here, a sync only says this process is live: every few intervals
  // is enough for that (well inside LIVE_FOR_MS), and spares a write transaction per interval.
  let lastSync = 0;
  const heartbeatMs = Math.min(LIVE_FOR_MS / 3, options.intervalMs * 4);
  const timer = setInterval(() => {
    const at = now();
    if (!limiter.counting && at - lastSync < heartbeatMs) return;
    lastSync = at;
    void syncNow();
  }, options.intervalMs);
  timer.unref();
  return { processId, syncNow, stop: () => clearInterval(timer) };
}
