import { headerValue, type HeaderBag } from '../protocol/outcome';

/** The rate-limit families Anthropic reports as `anthropic-ratelimit-<family>-{limit,remaining,reset}`. */
export type RateLimitFamily = 'requests' | 'tokens' | 'input_tokens' | 'output_tokens';

/** What one response header family told us, as the admin API shows it. */
export interface LearnedLimitSnapshot {
  limit: number | null;
  /** The upstream's remaining minus what this pool has sent since; null once the reset has passed. */
  remaining: number | null;
  reset: string | null;
}

export const RATE_LIMIT_FAMILIES: readonly RateLimitFamily[] = [
  'requests',
  'tokens',
  'input_tokens',
  'output_tokens',
];

/** Each family's three header names, built once (they are looked up on every response). */
const FAMILY_HEADERS: Readonly<Record<RateLimitFamily, { limit: string; remaining: string; reset: string }>> =
  Object.fromEntries(
    RATE_LIMIT_FAMILIES.map((family) => {
      const prefix = `anthropic-ratelimit-${family.replace('_', '-')}-`;
      return [family, { limit: `${prefix}limit`, remaining: `${prefix}remaining`, reset: `${prefix}reset` }];
    }),
  ) as Record<RateLimitFamily, { limit: string; remaining: string; reset: string }>;

/** One family's header values as observed (what replicas share in cluster mode). */
export interface LearnedObservation {
  limit?: number;
  remaining?: number;
  resetAtMs?: number;
  observedAtMs: number;
}

interface Learned extends LearnedObservation {
  /** Sent through this pool since the header was observed (requests, or estimated input tokens). */
  spent: number;
}

/**
 * The upstream's own limits of one key, learned from `anthropic-ratelimit-*` response headers. They only steer
 * the key pool: its utilisation, and no picks while `remaining` cannot cover a request until its reset.
 */
export class LearnedLimits {
  private readonly families: Partial<Record<RateLimitFamily, Learned>> = {};

  constructor(private readonly windowMs: number) {}

  /** Learns every family the headers report; returns the families that changed (empty for most non-Anthropic answers). */
  observe(headers: HeaderBag, now: number): RateLimitFamily[] {
    // Most answers of providers other than Anthropic carry no rate-limit headers: one pass over the names spares
    // them the twelve lookups.
    if (!hasRateLimitHeaders(headers)) return [];
    const changed: RateLimitFamily[] = [];
    for (const family of RATE_LIMIT_FAMILIES) if (this.learn(family, headers, now)) changed.push(family);
    return changed;
  }

  /** Counts one picked request of about `estimate` input tokens against what was learned. */
  spend(estimate: number): void {
    for (const family of RATE_LIMIT_FAMILIES) {
      const l = this.families[family];
      if (l) l.spent += family === 'requests' ? 1 : family === 'output_tokens' ? 0 : estimate;
    }
  }

  /** 0 when the learned remainings cover a request of `estimate` input tokens, else how long until their reset. */
  waitMs(now: number, estimate: number): number {
    let wait = 0;
    for (const family of RATE_LIMIT_FAMILIES) {
      const l = this.families[family];
      if (!l) continue;
      const remaining = this.effectiveRemaining(l, now);
      if (remaining === undefined) continue;
      const wanted = family === 'requests' || family === 'output_tokens' ? 1 : estimate;
      const need = Math.max(1, l.limit === undefined ? wanted : Math.min(wanted, l.limit));
      if (remaining < need) wait = Math.max(wait, this.expiry(l) - now);
    }
    return wait;
  }

  /** The highest fraction used of any learned limit (0 when none is known). */
  utilisation(now: number): number {
    let used = 0;
    for (const family of RATE_LIMIT_FAMILIES) {
      const l = this.families[family];
      const remaining = l ? this.effectiveRemaining(l, now) : undefined;
      if (l?.limit && remaining !== undefined) used = Math.max(used, 1 - Math.max(0, remaining) / l.limit);
    }
    return used;
  }

  /** Every family learned so far, as the admin API shows it. */
  snapshot(now: number): Partial<Record<RateLimitFamily, LearnedLimitSnapshot>> {
    const out: Partial<Record<RateLimitFamily, LearnedLimitSnapshot>> = {};
    for (const family of RATE_LIMIT_FAMILIES) {
      const l = this.families[family];
      if (!l) continue;
      out[family] = {
        limit: l.limit ?? null,
        remaining: this.effectiveRemaining(l, now) ?? null,
        reset: l.resetAtMs === undefined ? null : new Date(l.resetAtMs).toISOString(),
      };
    }
    return out;
  }

  /** The family's last observation (what a replica shares with the others), or undefined. */
  observation(family: RateLimitFamily): LearnedObservation | undefined {
    const l = this.families[family];
    return (
      l && { limit: l.limit, remaining: l.remaining, resetAtMs: l.resetAtMs, observedAtMs: l.observedAtMs }
    );
  }

  /**
   * Takes another replica's observation of the family when it is newer than this pool's own: its remaining is
   * then the freshest word of the upstream, and what this pool sent before it is already in it.
   */
  adopt(family: RateLimitFamily, o: LearnedObservation): boolean {
    const previous = this.families[family];
    if (previous && previous.observedAtMs >= o.observedAtMs) return false;
    this.families[family] = {
      limit: o.limit ?? previous?.limit,
      remaining: o.remaining,
      resetAtMs: o.resetAtMs,
      observedAtMs: o.observedAtMs,
      spent: 0,
    };
    return true;
  }

  private learn(family: RateLimitFamily, headers: HeaderBag, now: number): boolean {
    const names = FAMILY_HEADERS[family];
    const limit = parseCount(headerValue(headers, names.limit));
    const remaining = parseCount(headerValue(headers, names.remaining));
    const resetRaw = headerValue(headers, names.reset);
    const resetAt = resetRaw === undefined ? NaN : Date.parse(resetRaw);
    if (limit === undefined && remaining === undefined && Number.isNaN(resetAt)) return false;
    const previous = this.families[family];
    this.families[family] = {
      limit: limit ?? previous?.limit,
      remaining,
      // Anthropic's limits are per minute: a reset further out than one window is clock skew, not information.
      resetAtMs: Number.isNaN(resetAt) ? undefined : Math.min(resetAt, now + this.windowMs),
      observedAtMs: now,
      spent: 0,
    };
    return true;
  }

  /** The learned remaining less what this pool sent since, or undefined when unknown or past its reset. */
  private effectiveRemaining(l: Learned, now: number): number | undefined {
    if (l.remaining === undefined || now >= this.expiry(l)) return undefined;
    return l.remaining - l.spent;
  }

  private expiry(l: Learned): number {
    return l.resetAtMs ?? l.observedAtMs + this.windowMs;
  }
}

function hasRateLimitHeaders(headers: HeaderBag): boolean {
  for (const name in headers) if (name.startsWith('anthropic-ratelimit-')) return true;
  return false;
}

function parseCount(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}
