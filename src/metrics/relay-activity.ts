import { RateRing, type RingWindow } from './rate-ring';

/** How far back the ops page looks: 15 minutes. */
export const ACTIVITY_WINDOW_S = 900;
/** Slack past the window so an aligned first bin of up to a minute is still whole. */
const RING_SECONDS = ACTIVITY_WINDOW_S + 60;

/** The series kept per provider (and summed over all of them). */
export const PROVIDER_SERIES = ['requests', 'errors', 'fallbacks'] as const;
/** The cache's series. */
export const CACHE_SERIES = ['hits', 'misses'] as const;

/** Attempt outcomes that are not the provider failing: the client left, or the endpoint does not exist there. */
const NOT_ERRORS = new Set(['success', 'client_cancelled', 'unsupported']);

/** One provider's (or the total's) window as the admin API shows it. */
export interface ActivitySeries {
  requests: number[];
  errors: number[];
  fallbacks: number[];
  totals: { requests: number; errors: number; fallbacks: number };
  latency_ms: { p50: number | null; p95: number | null; samples: number };
  latency_p95_ms: Array<number | null>;
}

/** GET /admin/stats/timeseries, without the replica name. */
export interface ActivitySnapshot {
  now: string;
  started_at: string;
  window_s: number;
  step_s: number;
  /** When the first bin starts. */
  start: string;
  total: ActivitySeries;
  providers: Record<string, ActivitySeries & { state: string | null; state_since: string | null }>;
  cache: { hits: number[]; misses: number[]; totals: { hits: number; misses: number } };
}

const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);

function seriesOf(w: RingWindow): ActivitySeries {
  return {
    requests: w.counts.requests!,
    errors: w.counts.errors!,
    fallbacks: w.counts.fallbacks!,
    totals: { requests: w.totals.requests!, errors: w.totals.errors!, fallbacks: w.totals.fallbacks! },
    latency_ms: { p50: round(w.latency.p50), p95: round(w.latency.p95), samples: w.latency.samples },
    latency_p95_ms: w.latencyP95.map(round),
  };
}

/**
 * The last 15 minutes of upstream activity in memory, per second: attempts, failed attempts and fallback answers
 * per provider and in total, attempt latencies, cache hits and misses, and when each circuit last changed state.
 * One RateRing per provider name (names come from the config, so their number is bounded). Pure: the caller
 * passes the time.
 */
export class RelayActivity {
  private readonly providers = new Map<string, RateRing>();
  private readonly total = new RateRing(RING_SECONDS, PROVIDER_SERIES);
  private readonly cache = new RateRing(RING_SECONDS, CACHE_SERIES);
  private readonly states = new Map<string, { state: string; since: number }>();

  constructor(private readonly startedAt: number) {}

  /** One upstream attempt's outcome and, when it reached the upstream, how long it took. */
  attempt(provider: string, outcome: string, nowMs: number, latencyMs?: number): void {
    const ring = this.ring(provider);
    ring.add('requests', nowMs);
    this.total.add('requests', nowMs);
    if (!NOT_ERRORS.has(outcome)) {
      ring.add('errors', nowMs);
      this.total.add('errors', nowMs);
    }
    if (latencyMs !== undefined && outcome !== 'client_cancelled') {
      ring.observe(latencyMs, nowMs);
      this.total.observe(latencyMs, nowMs);
    }
  }

  /** An answer a fallback model gave (on `provider`) instead of the requested one. */
  fallback(provider: string | undefined, nowMs: number): void {
    if (provider !== undefined) this.ring(provider).add('fallbacks', nowMs);
    this.total.add('fallbacks', nowMs);
  }

  /** A cache lookup's result (HIT counts as a hit, MISS as a miss; BYPASS is neither). */
  cacheResult(result: string, nowMs: number): void {
    if (result === 'HIT') this.cache.add('hits', nowMs);
    else if (result === 'MISS') this.cache.add('misses', nowMs);
  }

  /** A circuit changed state. */
  transition(provider: string, to: string, at: number): void {
    this.states.set(provider, { state: to, since: at });
  }

  /** The window up to `nowMs` in bins of `stepS` seconds. */
  snapshot(nowMs: number, stepS: number): ActivitySnapshot {
    const total = this.total.read(nowMs, ACTIVITY_WINDOW_S, stepS);
    const providers: ActivitySnapshot['providers'] = {};
    const names = new Set([...this.providers.keys(), ...this.states.keys()]);
    for (const name of names) {
      const state = this.states.get(name);
      providers[name] = {
        ...seriesOf(this.ring(name).read(nowMs, ACTIVITY_WINDOW_S, stepS)),
        state: state?.state ?? null,
        state_since: state ? new Date(state.since).toISOString() : null,
      };
    }
    const cache = this.cache.read(nowMs, ACTIVITY_WINDOW_S, stepS);
    return {
      now: new Date(nowMs).toISOString(),
      started_at: new Date(this.startedAt).toISOString(),
      window_s: total.counts.requests!.length * total.stepS,
      step_s: total.stepS,
      start: new Date(total.startS * 1000).toISOString(),
      total: seriesOf(total),
      providers,
      cache: {
        hits: cache.counts.hits!,
        misses: cache.counts.misses!,
        totals: { hits: cache.totals.hits!, misses: cache.totals.misses! },
      },
    };
  }

  private ring(provider: string): RateRing {
    let ring = this.providers.get(provider);
    if (!ring) {
      ring = new RateRing(RING_SECONDS, PROVIDER_SERIES);
      this.providers.set(provider, ring);
    }
    return ring;
  }
}
