// SPEC §9: per-key rate limits, as fixed windows aligned to the epoch (a second, a minute or an
// hour). Pure: the clock comes in as an argument, and what other processes hold comes in through
// `applyShares` (lib/dal/rate-limit-sync.ts reads and writes it in the database, off the request
// path).
//
// One process alone is exact: it may admit `limit` requests per window. Several processes on one
// database share each key's budget through allowances: every live process may admit up to its own
// allowance, and the allowances of a key's window never add up to more than the limit. A process
// that has no allowance recorded yet for a window admits its base share, floor(limit / live
// processes), which every other process counts as held by it. Allowances move in a write
// transaction each process runs every sync interval: it asks for room for what it admitted in the
// last interval (twice over) or its part of what is unused, whichever is more, out of what the
// others do not hold, and gives back what it does not use. So the budget is exact across processes in steady state; the README states the bound that
// holds while the set of processes changes.

export const RATE_WINDOWS = ["second", "minute", "hour"] as const;
export type RateWindow = (typeof RATE_WINDOWS)[number];
export const RATE_WINDOW_MS: Readonly<Record<RateWindow, number>> = { second: 1_000, minute: 60_000, hour: 3_600_000 };
export const MAX_RATE_LIMIT = 1_000_000;

export type RateRule = { limit: number; per: RateWindow };

/** What a response to a key with a limit says about it (the `RateLimit-*` headers), and whether it was admitted. */
export type RateState = {
  allowed: boolean;
  limit: number;
  /** Requests left in this window as far as this process knows (never below 0). */
  remaining: number;
  /** Whole seconds until the window ends (at least 1). */
  resetSeconds: number;
  /** For a refusal: whole seconds a client should wait (at least 1). */
  retryAfterSeconds: number;
};

export function windowStart(at: number, per: RateWindow): number {
  const size = RATE_WINDOW_MS[per];
  return Math.floor(at / size) * size;
}

/** One key's window in this process. */
type Slot = {
  keyId: string;
  rule: RateRule;
  start: number;
  used: number;
  /** Requests admitted or refused since the last sync: the demand the next sync asks room for. */
  sinceSync: number;
  /** Null until a sync recorded one: the base share applies. */
  allowance: number | null;
  /** What the other processes had used at the last sync. */
  othersUsed: number;
  /**
   * While a sync is in flight: at most what it asked for. The allowance it commits is never below
   * this (nor below what the old one allows, which the others could not take), so nothing admitted
   * meanwhile can exceed what the database then records for this process.
   */
  inflightCap: number | null;
};

/** What a sync writes for one key and window, and what it must know to allocate. */
export type SlotReport = { keyId: string; rule: RateRule; start: number; used: number; demand: number; allowance: number | null };

/** What a process holds of a window as the others count it: its recorded allowance, else its base share. */
export function heldBy(report: Pick<SlotReport, "allowance" | "rule">, live: number): number {
  return report.allowance ?? baseShare(report.rule.limit, live);
}

/** What a sync decided for one key and window. */
export type SlotShare = { keyId: string; per: RateWindow; start: number; allowance: number; othersUsed: number };

/**
 * The allowance a process takes for one key and window, inside the sync's transaction: room for
 * the larger of its recent `demand` and its 1/`live` part of what no process has used yet (so a
 * generous limit never refuses early, and busy processes split a tight one), never more than the
 * limit minus what the others hold. Never less than it has used, nor than what it may have
 * admitted while this sync was in flight: the lower of what it `held` and `used + demand` (which
 * the others could not take, since they counted it as held).
 */
export function allocate(input: { limit: number; used: number; demand: number; held: number; othersHold: number; othersUsed: number; live: number }): number {
  const free = Math.max(0, input.limit - input.othersHold);
  const inFlight = Math.min(input.held, input.used + input.demand);
  // Alone, a process holds the whole budget: exact, whatever the shape of its traffic.
  if (input.live <= 1) return Math.max(input.used, inFlight, free);
  const unused = Math.max(0, input.limit - input.othersUsed - input.used);
  const fair = Math.ceil(unused / input.live);
  return Math.max(input.used, inFlight, Math.min(free, input.used + Math.max(1, input.demand, fair)));
}

/** The base share of each of `live` processes: what one may admit before it has synced. */
export function baseShare(limit: number, live: number): number {
  return Math.floor(limit / Math.max(1, live));
}

export class ShareLimiter {
  readonly #slots = new Map<string, Slot>();
  #live = 1;

  /** Whether any key's window is being counted here (the sync has something to share). */
  get counting(): boolean {
    return this.#slots.size > 0;
  }

  /** How many processes serve this database, as the last sync saw (this one included). */
  get liveProcesses(): number {
    return this.#live;
  }

  #slot(keyId: string, rule: RateRule, at: number): Slot {
    const start = windowStart(at, rule.per);
    const id = `${keyId}@${rule.per}`;
    let slot = this.#slots.get(id);
    if (!slot || slot.start !== start) {
      // A new window: what a sync reserved ahead for it applies.
      const ahead = `${id}@${start}`;
      slot = { keyId, rule, start, used: 0, sinceSync: 0, allowance: this.#ahead.get(ahead) ?? null, othersUsed: 0, inflightCap: this.#aheadCaps.get(ahead) ?? null };
      this.#slots.set(id, slot);
    } else if (slot.rule.limit !== rule.limit) {
      // A changed limit applies at once; what was reserved under the old one is re-asked.
      slot.rule = rule;
      slot.allowance = null;
    }
    return slot;
  }

  /** Allowances a sync reserved for windows that have not started, by `key@per@start`. */
  readonly #ahead = new Map<string, number>();
  /** For a window a sync in flight reserves ahead: the cap on what may be admitted until it commits. */
  readonly #aheadCaps = new Map<string, number>();

  #state(slot: Slot, at: number, allowed: boolean): RateState {
    const end = slot.start + RATE_WINDOW_MS[slot.rule.per];
    const resetSeconds = Math.max(1, Math.ceil((end - at) / 1000));
    const remaining = Math.max(0, slot.rule.limit - slot.used - slot.othersUsed);
    // Refused while the budget is not used up (another process holds it): a sync may free some soon.
    const retryAfterSeconds = remaining > 0 ? 1 : resetSeconds;
    return { allowed, limit: slot.rule.limit, remaining, resetSeconds, retryAfterSeconds };
  }

  /** Admits one request of the key, or refuses it; either way says where the key stands. */
  take(keyId: string, rule: RateRule, at: number): RateState {
    const slot = this.#slot(keyId, rule, at);
    const allowance = Math.min(slot.allowance ?? baseShare(rule.limit, this.#live), slot.inflightCap ?? Infinity);
    slot.sinceSync += 1;
    if (slot.used >= allowance) return this.#state(slot, at, false);
    slot.used += 1;
    return this.#state(slot, at, true);
  }

  /** Where the key stands, admitting nothing (for responses refused before the limit is checked). */
  peek(keyId: string, rule: RateRule, at: number): RateState {
    const slot = this.#slot(keyId, rule, at);
    return this.#state(slot, at, slot.used < Math.min(slot.allowance ?? baseShare(rule.limit, this.#live), slot.inflightCap ?? Infinity));
  }

  /**
   * Where the key stands, changing nothing at all — not even starting to count its window here
   * (Check access, SPEC §10): a window this process is not counting is answered as a fresh one.
   */
  inspect(keyId: string, rule: RateRule, at: number): RateState {
    const start = windowStart(at, rule.per);
    const counted = this.#slots.get(`${keyId}@${rule.per}`);
    const slot: Slot =
      counted && counted.start === start && counted.rule.limit === rule.limit
        ? counted
        : { keyId, rule, start, used: 0, sinceSync: 0, allowance: null, othersUsed: 0, inflightCap: null };
    return this.#state(slot, at, slot.used < Math.min(slot.allowance ?? baseShare(rule.limit, this.#live), slot.inflightCap ?? Infinity));
  }

  /**
   * What a sync needs: each key's current window and the next one (reserved ahead so that a new
   * window does not start at the base share when this process is the one using the key), with the
   * requests admitted and refused since the last sync as the demand. Windows that ended are dropped.
   */
  reports(at: number): SlotReport[] {
    const out: SlotReport[] = [];
    for (const [id, slot] of this.#slots) {
      if (windowStart(at, slot.rule.per) !== slot.start) {
        this.#slots.delete(id);
        continue;
      }
      // Twice the last interval's requests, or this process's part of what is unused if that is
      // more: the floor of what the sync will grant (and so the cap while it is in flight), which
      // must not pinch a process whose sync is slow when the budget is far from used up.
      const unused = Math.max(0, slot.rule.limit - slot.used - slot.othersUsed);
      const demand = Math.max(2 * Math.max(1, slot.sinceSync), Math.ceil(unused / this.#live));
      slot.sinceSync = 0;
      const current: SlotReport = { keyId: slot.keyId, rule: slot.rule, start: slot.start, used: slot.used, demand, allowance: slot.allowance };
      slot.inflightCap = Math.min(heldBy(current, this.#live), slot.used + demand);
      out.push(current);
      const next = slot.start + RATE_WINDOW_MS[slot.rule.per];
      const ahead: SlotReport = { keyId: slot.keyId, rule: slot.rule, start: next, used: 0, demand: Math.max(demand, slot.used), allowance: this.#ahead.get(`${id}@${next}`) ?? null };
      this.#aheadCaps.set(`${id}@${next}`, Math.min(heldBy(ahead, this.#live), ahead.demand));
      out.push(ahead);
    }
    for (const key of this.#ahead.keys()) {
      const start = Number(key.slice(key.lastIndexOf("@") + 1));
      if (start + 2 * RATE_WINDOW_MS.hour < at) this.#ahead.delete(key);
    }
    return out;
  }

  /** A sync that did not commit: the allowances recorded before it still hold. */
  syncFailed(): void {
    for (const slot of this.#slots.values()) slot.inflightCap = null;
    this.#aheadCaps.clear();
  }

  /** Applies what a committed sync decided, and how many processes are live. */
  applyShares(shares: SlotShare[], live: number): void {
    this.#live = Math.max(1, live);
    this.#aheadCaps.clear();
    for (const share of shares) {
      const slot = this.#slots.get(`${share.keyId}@${share.per}`);
      if (slot && slot.start === share.start) {
        slot.allowance = share.allowance;
        slot.othersUsed = share.othersUsed;
        slot.inflightCap = null;
      } else {
        this.#ahead.set(`${share.keyId}@${share.per}@${share.start}`, share.allowance);
      }
    }
  }
}
