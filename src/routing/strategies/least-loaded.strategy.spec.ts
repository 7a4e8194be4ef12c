import { describe, expect, it } from 'vitest';
import { LeastLoadedStrategy } from './least-loaded.strategy';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';

const cand = (name: string, priority: number, index: number, weight = 1): ProviderCandidate => ({
  name,
  priority,
  weight,
  index,
});
const ctx = (load: Record<string, number>, down: string[] = []): RoutingContext => ({
  model: 'm',
  isRoutable: (n) => !down.includes(n),
  inFlight: (n) => load[n] ?? 0,
});
const names = (list: ProviderCandidate[]) => list.map((c) => c.name);

describe('LeastLoadedStrategy', () => {
  const list = [cand('a', 0, 0), cand('b', 0, 1), cand('c', 5, 2)];

  it('picks the provider with the fewest in-flight requests', () => {
    expect(names(new LeastLoadedStrategy().order(list, ctx({ a: 4, b: 1, c: 3 })))).toEqual(['b', 'c', 'a']);
  });

  it('breaks ties by priority, then config order', () => {
    expect(names(new LeastLoadedStrategy().order(list, ctx({ a: 2, b: 2, c: 2 })))).toEqual(['c', 'a', 'b']);
    expect(names(new LeastLoadedStrategy().order(list, ctx({ a: 0, b: 0, c: 1 })))).toEqual(['a', 'b', 'c']);
  });

  it('spreads a burst evenly when each pick adds load', () => {
    const s = new LeastLoadedStrategy();
    const load: Record<string, number> = {};
    const flat = [cand('a', 0, 0), cand('b', 0, 1), cand('c', 0, 2)];
    for (let i = 0; i < 30; i++) {
      const p = s.order(flat, ctx(load))[0]!.name;
      load[p] = (load[p] ?? 0) + 1;
    }
    expect(load).toEqual({ a: 10, b: 10, c: 10 });
  });

  it('excludes open circuits and drained providers', () => {
    const drained = [...list, cand('d', 0, 3, 0)];
    expect(names(new LeastLoadedStrategy().order(drained, ctx({}, ['b'])))).toEqual(['c', 'a']);
  });
});
