import { describe, expect, it } from 'vitest';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';
import { WeightedRoundRobinStrategy } from './weighted-round-robin.strategy';

const cands = (weights: Record<string, number>): ProviderCandidate[] =>
  Object.entries(weights).map(([name, weight], index) => ({ name, priority: 0, weight, index }));
const ctx = (down: () => string[] = () => []): RoutingContext => ({
  model: 'm',
  isRoutable: (n) => !down().includes(n),
  inFlight: () => 0,
});
function picks(s: WeightedRoundRobinStrategy, list: ProviderCandidate[], n: number, c = ctx()): string[] {
  return Array.from({ length: n }, () => s.order(list, c)[0]!.name);
}
function maxRun(seq: string[], name: string): number {
  let best = 0;
  let run = 0;
  for (const p of seq) {
    run = p === name ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}
function count(seq: string[], name: string): number {
  return seq.filter((p) => p === name).length;
}

describe('WeightedRoundRobinStrategy', () => {
  it('interleaves 3:1 as A A B A, not A A A B', () => {
    const seq = picks(new WeightedRoundRobinStrategy(), cands({ a: 3, b: 1 }), 8);
    expect(seq).toEqual(['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });

  it('does not burst when weights are not reduced (6:2 interleaves like 3:1)', () => {
    const seq = picks(new WeightedRoundRobinStrategy(), cands({ a: 6, b: 2 }), 800);
    expect(seq.slice(0, 8)).toEqual(['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
    // one B in every four picks means runs of at most three A's; a bursty WRR would give AAAAAABB
    expect(maxRun(seq, 'a')).toBe(3);
    expect(maxRun(seq, 'b')).toBe(1);
  });

  it('gives each provider exactly its weight in every cycle of sum(weights) picks', () => {
    const s = new WeightedRoundRobinStrategy();
    const list = cands({ a: 5, b: 3, c: 2 });
    for (let cycle = 0; cycle < 20; cycle++) {
      const seq = picks(s, list, 10);
      expect([count(seq, 'a'), count(seq, 'b'), count(seq, 'c')]).toEqual([5, 3, 2]);
    }
  });

  it.each([
    [{ a: 5, b: 1, c: 1 }],
    [{ a: 5, b: 3, c: 2 }],
    [{ a: 7, b: 5, c: 3, d: 1 }],
    [{ a: 100, b: 1, c: 1 }],
  ])('is smooth: after every pick each share is within one pick of exact (%o)', (weights) => {
    const s = new WeightedRoundRobinStrategy();
    const list = cands(weights);
    const total = Object.values(weights).reduce((x, y) => x + y, 0);
    const counts = new Map<string, number>();
    for (let n = 1; n <= 1000; n++) {
      const p = s.order(list, ctx())[0]!.name;
      counts.set(p, (counts.get(p) ?? 0) + 1);
      for (const [name, w] of Object.entries(weights)) {
        expect(Math.abs((counts.get(name) ?? 0) - (n * w) / total)).toBeLessThan(1);
      }
    }
  });

  it('handles fractional weights', () => {
    const seq = picks(new WeightedRoundRobinStrategy(), cands({ a: 0.75, b: 0.25 }), 400);
    expect(count(seq, 'a')).toBe(300);
  });

  it('gives an open-circuit provider effectively zero weight and re-balances when it returns', () => {
    const s = new WeightedRoundRobinStrategy();
    const list = cands({ a: 1, b: 1 });
    let down = ['a'];
    const c = ctx(() => down);
    expect(picks(s, list, 4, c)).toEqual(['b', 'b', 'b', 'b']);
    down = [];
    const seq = picks(s, list, 10, c);
    expect(count(seq, 'a')).toBe(5);
    expect(maxRun(seq, 'b')).toBe(1);
  });

  it('drains weight 0', () => {
    const seq = picks(new WeightedRoundRobinStrategy(), cands({ a: 0, b: 2 }), 5);
    expect(seq).toEqual(['b', 'b', 'b', 'b', 'b']);
  });

  it('lists the others as failover order, strongest claim first', () => {
    const order = new WeightedRoundRobinStrategy().order(cands({ a: 1, b: 3, c: 2 }), ctx());
    expect(order.map((c) => c.name)).toEqual(['b', 'c', 'a']);
  });

  it('returns nothing when nothing is routable', () => {
    expect(
      new WeightedRoundRobinStrategy().order(
        cands({ a: 1 }),
        ctx(() => ['a']),
      ),
    ).toEqual([]);
  });
});
