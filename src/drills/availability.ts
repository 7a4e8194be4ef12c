import { counts, succeeded, type AnswerSample } from '../metrics/window-stats';

/** Upper bounds (ms) of the time-to-first-byte buckets; the last bucket is open-ended. */
export const TTFB_BUCKETS_MS = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000] as const;

export const DAY_MS = 86_400_000;

/** One provider's tallies for one UTC day: a bounded record whatever the traffic. */
export interface DayTally {
  /** Answers that should have succeeded (client errors but 429, and client aborts, excluded). */
  expected: number;
  succeeded: number;
  /** Successful answers that came from a fallback model. */
  fallback: number;
  /** Counts per TTFB_BUCKETS_MS bucket (+1 open-ended), successful answers only. */
  ttfb: number[];
}

/** The UTC day of an epoch-ms time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A zeroed tally. */
export function emptyTally(): DayTally {
  return {
    expected: 0,
    succeeded: 0,
    fallback: 0,
    ttfb: new Array<number>(TTFB_BUCKETS_MS.length + 1).fill(0),
  };
}

/** The provider an answer is booked under: the one that answered, or `relay` for the relay's own errors. */
export function bookedProvider(sample: Pick<AnswerSample, 'provider'>): string {
  return sample.provider ?? 'relay';
}

/** Adds one answer to its tally in place; returns false when it does not count (client error or abort). */
export function addToTally(tally: DayTally, sample: AnswerSample): boolean {
  if (!counts(sample)) return false;
  tally.expected += 1;
  if (!succeeded(sample)) return true;
  tally.succeeded += 1;
  if (sample.fallback) tally.fallback += 1;
  if (sample.ttfbMs !== undefined) {
    const i = bucketOf(sample.ttfbMs);
    tally.ttfb[i] = (tally.ttfb[i] ?? 0) + 1;
  }
  return true;
}

/** The bucket of a TTFB in ms. */
export function bucketOf(ms: number): number {
  const i = TTFB_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return i === -1 ? TTFB_BUCKETS_MS.length : i;
}

/**
 * The percentile (0..100) from bucket counts, as the upper bound of the bucket holding its rank (so "p95 ≤ 250 ms");
 * null without samples, and the last bound with a `>` marker past it.
 */
export function bucketPercentile(buckets: readonly number[], p: number): number | string | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] ?? 0;
    if (seen >= rank) return TTFB_BUCKETS_MS[i] ?? `>${TTFB_BUCKETS_MS[TTFB_BUCKETS_MS.length - 1]}`;
  }
  return null;
}

/** Adds `b` into `a` in place. */
export function mergeTally(a: DayTally, b: DayTally): DayTally {
  a.expected += b.expected;
  a.succeeded += b.succeeded;
  a.fallback += b.fallback;
  for (let i = 0; i < a.ttfb.length; i++) a.ttfb[i] = (a.ttfb[i] ?? 0) + (b.ttfb[i] ?? 0);
  return a;
}

/** One day × provider (or the day's total) as GET /admin/availability shows it. */
export interface AvailabilityFigures {
  expected: number;
  succeeded: number;
  /** succeeded / expected, null on a day without countable answers. */
  availability: number | null;
  /** Upper bounds of the TTFB buckets holding p50 and p95, ms. */
  ttfb_ms: { p50: number | string | null; p95: number | string | null };
  /** Share of successful answers served by a fallback model. */
  fallback_share: number | null;
}

/** The figures of one tally. */
export function figures(t: DayTally): AvailabilityFigures {
  return {
    expected: t.expected,
    succeeded: t.succeeded,
    availability: t.expected === 0 ? null : t.succeeded / t.expected,
    ttfb_ms: { p50: bucketPercentile(t.ttfb, 50), p95: bucketPercentile(t.ttfb, 95) },
    fallback_share: t.succeeded === 0 ? null : t.fallback / t.succeeded,
  };
}

/** One day of the report. */
export interface AvailabilityDay extends AvailabilityFigures {
  day: string;
  providers: Record<string, AvailabilityFigures>;
}

/**
 * The report: the last `days` UTC days up to `nowMs` (newest first, days without traffic included, so a gap is
 * visible), each with its total and per-provider figures. `tallies` maps day → provider → tally.
 */
export function availabilityReport(
  tallies: ReadonlyMap<string, ReadonlyMap<string, DayTally>>,
  nowMs: number,
  days: number,
): AvailabilityDay[] {
  const out: AvailabilityDay[] = [];
  for (let i = 0; i < days; i++) {
    const day = utcDay(nowMs - i * DAY_MS);
    const perProvider = tallies.get(day) ?? new Map<string, DayTally>();
    const total = emptyTally();
    const providers: Record<string, AvailabilityFigures> = {};
    for (const [name, t] of [...perProvider].sort(([a], [b]) => a.localeCompare(b))) {
      mergeTally(total, t);
      providers[name] = figures(t);
    }
    out.push({ day, ...figures(total), providers });
  }
  return out;
}
