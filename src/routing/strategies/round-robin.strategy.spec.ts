import { describe, expect, it } from 'vitest';
import { RoundRobinStrategy } from './round-robin.strategy';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';

const cands = (...names: string[]): ProviderCandidate[] =>
  names.map((name, index) => ({ name, priority: 0, weight: 1, index }));
const ctx = (down: () => string[] = () => []): RoutingContext => ({
  model: 'm',
  isRoutable: (n) => !down().includes(n),
  inFlight: () => 0,
});
const pick = (s: RoundRobinStrategy, list: ProviderCandidate[], c: RoutingContext) =>
  s.order(list, c)[0]?.name;

describe('RoundRobinStrategy', () => {
  it('rotates evenly over the providers', () => {
    const s = new RoundRobinStrategy();
    const list = cands('a', 'b', 'c');
    const counts = new Map<string, number>();
    const seq: string[] = [];
    for (let i = 0; i < 300; i++) {
      const p = pick(s, list, ctx())!;
      seq.push(p);
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect(seq.slice(0, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect([...counts.values()]).toEqual([100, 100, 100]);
  });

  it('gives the rest of the ring as the failover order', () => {
    const s = new RoundRobinStrategy();
    const list = cands('a', 'b', 'c');
    s.order(list, ctx());
    expect(s.order(list, ctx()).map((c) => c.name)).toEqual(['b', 'c', 'a']);
  });

  it('leaves out a provider whose circuit is open, and takes it back without skipping the others', () => {
    const s = new RoundRobinStrategy();
    const list = cands('a', 'b', 'c');
    let down: string[] = ['b'];
    const c = ctx(() => down);
    expect([pick(s, list, c), pick(s, list, c), pick(s, list, c)]).toEqual(['a', 'c', 'a']);
    down = [];
    expect([pick(s, list, c), pick(s, list, c), pick(s, list, c), pick(s, list, c)]).toEqual([
      'b',
      'c',
      'a',
      'b',
    ]);
  });

  it('drops drained providers (weight 0) and copes with providers being added', () => {
    const s = new RoundRobinStrategy();
    const drained = [{ name: 'a', priority: 0, weight: 0, index: 0 }, ...cands('x', 'b').slice(1)];
    expect([pick(s, drained, ctx()), pick(s, drained, ctx())]).toEqual(['b', 'b']);
    const grown = cands('a', 'b', 'c');
    expect([pick(s, grown, ctx()), pick(s, grown, ctx()), pick(s, grown, ctx())]).toEqual(['c', 'a', 'b']);
  });

  it('returns nothing when nothing is routable', () => {
    expect(
      new RoundRobinStrategy().order(
        cands('a'),
        ctx(() => ['a']),
      ),
    ).toEqual([]);
  });
});
