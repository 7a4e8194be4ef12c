/**
 * Upper bounds (ms) of the latency buckets: √2 apart from 1 ms to about 35 minutes, so a quantile read from them is
 * within ~20% of the true value whatever the scale (a JSON answer of 300 ms or a stream of 4 minutes).
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Array.from(
  { length: 43 },
  (_, i) => Math.round(2 ** (i / 2) * 100) / 100,
);

/** What one read of a RateRing returns: `bins` aligned bins of `stepS` seconds, oldest first, the last one now. */
export interface RingWindow {
  /** Epoch seconds at which the first bin starts. */
  startS: number;
  stepS: number;
  /** Per series: the count in each bin. */
  counts: Record<string, number[]>;
  /** Per series: the sum over the whole window. */
  totals: Record<string, number>;
  /** Latency quantiles over the whole window (null without samples). */
  latency: { p50: number | null; p95: number | null; samples: number };
  /** The p95 latency of each bin (null for a bin without samples). */
  latencyP95: Array<number | null>;
}

/**
 * The `q` quantile (0..1) of a histogram whose bucket `i` counts samples ≤ `bounds[i]` (the last bucket counts
 * everything above the last bound), interpolated linearly inside the bucket it falls in; null without samples.
 */
export function histogramQuantile(
  bounds: readonly number[],
  counts: ArrayLike<number>,
  q: number,
): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      // Above the last bound there is no upper edge to interpolate to: report the bound itself.
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const upper = bounds[i]!;
      return lower + ((upper - lower) * Math.max(rank - seen, 0)) / c;
    }
    seen += c;
  }
  return bounds[bounds.length - 1]!;
}

/**
 * Per-second counters of a few named series plus a small latency histogram per second, for the last `seconds`
 * seconds, in fixed-size typed arrays: memory does not grow with traffic and nothing leaves the process (the ops
 * page's charts, not a metrics store). Each slot remembers which epoch second it holds; a slot still holding an
 * older second is cleared when written and reads as zero, so idle periods cost nothing. Time is passed in (epoch
 * milliseconds), so the class is pure and a test drives it with any clock. A sample stamped earlier than a second
 * the ring has already moved past in its slot (a clock stepping back) is dropped.
 */
export class RateRing {
  readonly series: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly stamps: Float64Array;
  private readonly counts: Float64Array;
  private readonly latency: Uint32Array;
  private readonly buckets: number;

  constructor(
    /** How many seconds the ring holds: reads reach back this far at most. */
    readonly seconds: number,
    series: readonly string[],
    private readonly bounds: readonly number[] = LATENCY_BOUNDS_MS,
  ) {
    if (!Number.isInteger(seconds) || seconds < 1)
      throw new RangeError(`seconds must be ≥ 1, got ${seconds}`);
    this.series = [...series];
    this.series.forEach((name, i) => this.index.set(name, i));
    this.buckets = bounds.length + 1;
    this.stamps = new Float64Array(seconds).fill(-1);
    this.counts = new Float64Array(seconds * this.series.length);
    this.latency = new Uint32Array(seconds * this.buckets);
  }

  /** Adds `n` to `series` in the second of `nowMs`. An unknown series name is ignored. */
  add(series: string, nowMs: number, n = 1): void {
    const s = this.index.get(series);
    if (s === undefined || !(n > 0)) return;
    const slot = this.slotFor(Math.floor(nowMs / 1000));
    if (slot >= 0) this.counts[slot * this.series.length + s]! += n;
  }

  /** Records one latency sample (ms) in the second of `nowMs`. */
  observe(ms: number, nowMs: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const slot = this.slotFor(Math.floor(nowMs / 1000));
    if (slot < 0) return;
    this.latency[slot * this.buckets + this.bucketOf(ms)]! += 1;
  }

  /**
   * The last `windowS` seconds up to `nowMs` (at most the ring's length) in bins of `stepS` seconds aligned to
   * multiples of `stepS` since the epoch (so a chart does not shift between two reads in the same bin); the last
   * bin is the one under way.
   */
  read(nowMs: number, windowS = this.seconds, stepS = 1): RingWindow {
    const step = Math.max(1, Math.floor(stepS));
    const nowS = Math.floor(nowMs / 1000);
    const bins = Math.max(1, Math.floor(Math.min(windowS, this.seconds) / step));
    const lastStart = nowS - (nowS % step);
    const startS = lastStart - (bins - 1) * step;
    const oldest = nowS - this.seconds + 1;
    const counts: Record<string, number[]> = {};
    const totals: Record<string, number> = {};
    for (const name of this.series) {
      counts[name] = new Array<number>(bins).fill(0);
      totals[name] = 0;
    }
    const all = new Float64Array(this.buckets);
    const bin = new Float64Array(this.buckets);
    const latencyP95: Array<number | null> = [];
    for (let b = 0; b < bins; b++) {
      bin.fill(0);
      for (let sec = startS + b * step; sec < startS + (b + 1) * step && sec <= nowS; sec++) {
        if (sec < oldest) continue;
        const slot = sec % this.seconds;
        if (this.stamps[slot] !== sec) continue;
        this.series.forEach((name, s) => {
          const v = this.counts[slot * this.series.length + s]!;
          counts[name]![b]! += v;
          totals[name]! += v;
        });
        for (let k = 0; k < this.buckets; k++) bin[k]! += this.latency[slot * this.buckets + k]!;
      }
      for (let k = 0; k < this.buckets; k++) all[k]! += bin[k]!;
      latencyP95.push(histogramQuantile(this.bounds, bin, 0.95));
    }
    let samples = 0;
    for (let k = 0; k < this.buckets; k++) samples += all[k]!;
    return {
      startS,
      stepS: step,
      counts,
      totals,
      latency: {
        p50: histogramQuantile(this.bounds, all, 0.5),
        p95: histogramQuantile(this.bounds, all, 0.95),
        samples,
      },
      latencyP95,
    };
  }

  /** The slot of epoch second `sec`, cleared first when it still holds an older second; -1 for a stale second. */
  private slotFor(sec: number): number {
    const slot = sec % this.seconds;
    const held = this.stamps[slot]!;
    if (held === sec) return slot;
    if (held > sec) return -1;
    this.stamps[slot] = sec;
    this.counts.fill(0, slot * this.series.length, (slot + 1) * this.series.length);
    this.latency.fill(0, slot * this.buckets, (slot + 1) * this.buckets);
    return slot;
  }

  private bucketOf(ms: number): number {
    // Binary search for the first bound ≥ ms; past the last bound: the overflow bucket.
    let lo = 0;
    let hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.bounds[mid]! >= ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
