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
/** Candidates with explicit config positions, as route-plan builds one list per model out of one provider list. */
const at = (...list: [name: string, weight: number, index: number][]): ProviderCandidate[] =>
  list.map(([name, weight, index]) => ({ name, priority: 0, weight, index }));
/** Alternates two models' candidate lists (first, second, first, ...) and returns the picks made for each. */
function alternate(
  s: WeightedRoundRobinStrategy,
  first: ProviderCandidate[],
  second: ProviderCandidate[],
  n: number,
  c = ctx(),
): [string[], string[]] {
  const out: [string[], string[]] = [[], []];
  for (let i = 0; i < n; i++) out[i % 2]!.push(s.order(i % 2 === 0 ? first : second, c)[0]!.name);
  return out;
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

  // big serves every model, small only sonnet (route-plan hands the strategy one candidate list per model). A haiku
  // call sees big alone: big earns 3/3 of a pick and pays 1, so it changes nothing, and the sonnet calls run an
  // undisturbed 3:1 cycle: big big small big, 50 of 200 for small. Restarting the cycle on every change of the
  // candidate set gave small none.
  it('keeps each provider its share when requests alternate between models with different providers', () => {
    const s = new WeightedRoundRobinStrategy();
    const [sonnet, haiku] = alternate(s, at(['big', 3, 0], ['small', 1, 1]), at(['big', 3, 0]), 400);
    expect(sonnet.slice(0, 8)).toEqual(['big', 'big', 'small', 'big', 'big', 'big', 'small', 'big']);
    expect([count(sonnet, 'big'), count(sonnet, 'small')]).toEqual([150, 50]);
    expect(maxRun(sonnet, 'small')).toBe(1);
    expect(count(haiku, 'big')).toBe(200);
  });

  // a serves both models; sonnet shares it with big (99), haiku with c (1). Scores count picks (weight / the call's
  // total), so a earns 200 x 1/100 = 2 sonnet picks and a and c 200 x 1/2 = 100 haiku picks each. In weight units
  // a's sonnet credit (up to 50) would buy about 25 haiku picks in a row, and its debt after a sonnet pick (100) would
  // hand c some 34 in a row.
  it('does not let credit earned against a large total buy a burst where the total is small', () => {
    const s = new WeightedRoundRobinStrategy();
    const [haiku, sonnet] = alternate(s, at(['a', 1, 0], ['c', 1, 2]), at(['a', 1, 0], ['big', 99, 1]), 800);
    expect([count(haiku, 'a'), count(haiku, 'c')]).toEqual([200, 200]);
    expect([count(sonnet, 'a'), count(sonnet, 'big')]).toEqual([4, 396]);
    expect(maxRun(haiku, 'a')).toBeLessThanOrEqual(2);
    expect(maxRun(haiku, 'c')).toBeLessThanOrEqual(2);
  });

  // small is cut off (open circuit) two sonnet picks into a cycle, holding half a pick of credit, and stays out for
  // 20 requests while the model mix goes on. It comes back without that credit (big takes the first sonnet pick,
  // where a kept credit would have sent small at once) and then gets every fourth sonnet pick, never two in a row.
  it('takes a provider back from an open circuit without credit, and without a burst', () => {
    const s = new WeightedRoundRobinStrategy();
    let down: string[] = [];
    const c = ctx(() => down);
    const sonnet = at(['big', 3, 0], ['small', 1, 1]);
    const haiku = at(['big', 3, 0]);
    expect(alternate(s, sonnet, haiku, 4, c)[0]).toEqual(['big', 'big']);
    down = ['small'];
    expect(alternate(s, sonnet, haiku, 20, c)[0]).toEqual(Array(10).fill('big'));
    down = [];
    const [back] = alternate(s, sonnet, haiku, 400, c);
    expect(back.slice(0, 6)).toEqual(['big', 'small', 'big', 'big', 'big', 'small']);
    expect(count(back, 'small')).toBe(50);
    expect(maxRun(back, 'small')).toBe(1);
  });

  it('drains weight 0 in a mixed set too, without disturbing the others', () => {
    const s = new WeightedRoundRobinStrategy();
    const [sonnet, haiku] = alternate(
      s,
      at(['big', 3, 0], ['small', 1, 1], ['idle', 0, 2]),
      at(['big', 3, 0], ['idle', 0, 2]),
      400,
    );
    expect([count(sonnet, 'big'), count(sonnet, 'small'), count(sonnet, 'idle')]).toEqual([150, 50, 0]);
    expect(count(haiku, 'idle')).toBe(0);
  });

  it('keeps scores only for names it was given, and starts over past its limit', () => {
    const s = new WeightedRoundRobinStrategy(8);
    for (let i = 0; i < 100; i++) s.order(at([`gone-${i}`, 1, 0], ['stays', 1, 1]), ctx());
    expect(s['scores'].size + s['excluded'].size).toBeLessThanOrEqual(8);
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
