import { describe, expect, it } from 'vitest';
import { histogramQuantile, LATENCY_BOUNDS_MS, RateRing } from './rate-ring';
import { RelayActivity } from './relay-activity';

const T0 = 1_800_000_000_000; // an epoch millisecond on a whole 60-second boundary

describe('RateRing', () => {
  it('counts per second into aligned bins, oldest first, the last bin being the one under way', () => {
    const ring = new RateRing(60, ['requests', 'errors']);
    ring.add('requests', T0);
    ring.add('requests', T0 + 999);
    ring.add('requests', T0 + 5_000, 3);
    ring.add('errors', T0 + 9_500);
    const w = ring.read(T0 + 9_999, 10, 5);
    expect(w.startS).toBe(T0 / 1000);
    expect(w.stepS).toBe(5);
    expect(w.counts.requests).toEqual([2, 3]);
    expect(w.counts.errors).toEqual([0, 1]);
    expect(w.totals).toEqual({ requests: 5, errors: 1 });
  });

  it('forgets what is older than its length, reusing the slot, and reads idle seconds as zero', () => {
    const ring = new RateRing(10, ['requests']);
    ring.add('requests', T0, 7);
    expect(ring.read(T0 + 9_000, 10).totals.requests).toBe(7);
    // Ten seconds later the slot of T0 holds another second: the old count is gone, not added to.
    expect(ring.read(T0 + 10_000, 10).totals.requests).toBe(0);
    ring.add('requests', T0 + 10_000);
    expect(ring.read(T0 + 10_000, 10).counts.requests).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('never reads further back than its length, whatever window is asked for', () => {
    const ring = new RateRing(30, ['requests']);
    const w = ring.read(T0, 900, 1);
    expect(w.counts.requests).toHaveLength(30);
  });

  it('drops a sample stamped before a second its slot has already moved past (a clock stepping back)', () => {
    const ring = new RateRing(10, ['requests']);
    ring.add('requests', T0 + 10_000);
    ring.add('requests', T0); // same slot, older second
    expect(ring.read(T0 + 10_000, 10).totals.requests).toBe(1);
  });

  it('ignores unknown series, non-positive counts and invalid latencies', () => {
    const ring = new RateRing(10, ['requests']);
    ring.add('nope', T0);
    ring.add('requests', T0, 0);
    ring.add('requests', T0, -2);
    ring.observe(Number.NaN, T0);
    ring.observe(-1, T0);
    const w = ring.read(T0, 10);
    expect(w.totals.requests).toBe(0);
    expect(w.latency).toEqual({ p50: null, p95: null, samples: 0 });
  });

  it('reads latency quantiles over the window and a p95 per bin from the per-second histograms', () => {
    const ring = new RateRing(60, ['requests']);
    for (let i = 0; i < 95; i++) ring.observe(100, T0);
    for (let i = 0; i < 5; i++) ring.observe(10_000, T0 + 30_000);
    const w = ring.read(T0 + 59_000, 60, 30);
    expect(w.latency.samples).toBe(100);
    // Within a bucket's width (√2) of the true values.
    expect(w.latency.p50!).toBeGreaterThan(100 / Math.SQRT2);
    expect(w.latency.p50!).toBeLessThanOrEqual(100 * Math.SQRT2);
    expect(w.latency.p95!).toBeLessThanOrEqual(100 * Math.SQRT2);
    expect(w.latencyP95[0]!).toBeLessThanOrEqual(100 * Math.SQRT2);
    expect(w.latencyP95[1]!).toBeGreaterThan(10_000 / Math.SQRT2);
  });

  it('rejects a length below one second', () => {
    expect(() => new RateRing(0, ['x'])).toThrow(RangeError);
  });
});

describe('histogramQuantile', () => {
  it('interpolates inside the bucket the rank falls in; null without samples', () => {
    expect(histogramQuantile([10, 20], [0, 0, 0], 0.5)).toBeNull();
    expect(histogramQuantile([10, 20], [0, 4, 0], 0.5)).toBe(15);
    expect(histogramQuantile([10, 20], [2, 2, 0], 0.5)).toBe(10);
    // Above the last bound: the bound itself (there is no upper edge).
    expect(histogramQuantile([10, 20], [0, 0, 3], 0.95)).toBe(20);
  });

  it('has bounds growing by √2 from 1 ms past half an hour', () => {
    expect(LATENCY_BOUNDS_MS[0]).toBe(1);
    expect(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!).toBeGreaterThan(30 * 60_000);
  });
});

describe('RelayActivity', () => {
  it('counts attempts, failed attempts and fallbacks per provider and in total, and when a circuit changed', () => {
    const a = new RelayActivity(T0);
    a.attempt('primary', 'success', T0 + 1_000, 120);
    a.attempt('primary', 'transient', T0 + 2_000, 30);
    a.attempt('primary', 'client_cancelled', T0 + 2_000, 5_000);
    a.attempt('secondary', 'success', T0 + 3_000, 80);
    a.fallback('secondary', T0 + 3_000);
    a.cacheResult('HIT', T0 + 3_000);
    a.cacheResult('MISS', T0 + 3_000);
    a.cacheResult('BYPASS', T0 + 3_000);
    a.transition('primary', 'open', T0 + 2_500);
    const s = a.snapshot(T0 + 4_000, 5);
    expect(s.window_s).toBe(900);
    expect(s.providers.primary!.totals).toEqual({ requests: 3, errors: 1, fallbacks: 0 });
    expect(s.providers.primary!.latency_ms.samples).toBe(2); // a cancelled attempt's time says nothing
    expect(s.providers.primary!.state).toBe('open');
    expect(s.providers.primary!.state_since).toBe(new Date(T0 + 2_500).toISOString());
    expect(s.providers.secondary!.totals).toEqual({ requests: 1, errors: 0, fallbacks: 1 });
    expect(s.providers.secondary!.state).toBeNull();
    expect(s.total.totals).toEqual({ requests: 4, errors: 1, fallbacks: 1 });
    expect(s.cache.totals).toEqual({ hits: 1, misses: 1 });
    expect(s.total.requests).toHaveLength(180);
    expect(s.total.requests.at(-1)).toBe(4);
  });
});
