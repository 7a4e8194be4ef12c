import { describe, expect, it } from 'vitest';
import { ROUTING_STRATEGIES } from '../../config/relay-config';
import { seededRng } from '../../common/rng';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';
import { createStrategy } from './strategy-factory';

const list: ProviderCandidate[] = [
  { name: 'a', priority: 2, weight: 2, index: 0 },
  { name: 'b', priority: 1, weight: 1, index: 1 },
  { name: 'c', priority: 0, weight: 3, index: 2 },
  { name: 'z', priority: 9, weight: 0, index: 3 },
];
const routing = { model_routes: { 'claude-': ['a', 'b', 'c', 'z'] } };

describe('createStrategy', () => {
  it.each(ROUTING_STRATEGIES)('%s reports its own name', (name) => {
    expect(createStrategy(name, routing, seededRng(1)).name).toBe(name);
  });

  it.each(ROUTING_STRATEGIES)('%s never returns an unroutable or drained provider', (name) => {
    const s = createStrategy(name, routing, seededRng(1));
    const ctx: RoutingContext = { model: 'claude-x', isRoutable: (n) => n !== 'b', inFlight: () => 0 };
    for (let i = 0; i < 20; i++) {
      const names = s.order(list, ctx).map((c) => c.name);
      expect([...names].sort()).toEqual(['a', 'c']);
    }
  });

  it.each(ROUTING_STRATEGIES)('%s returns nothing when no provider is routable', (name) => {
    const s = createStrategy(name, routing, seededRng(1));
    expect(s.order(list, { model: 'claude-x', isRoutable: () => false, inFlight: () => 0 })).toEqual([]);
  });
});
