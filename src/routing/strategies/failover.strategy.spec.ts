import { describe, expect, it } from 'vitest';
import { FailoverStrategy } from './failover.strategy';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';

const cand = (name: string, priority: number, index: number, weight = 1): ProviderCandidate => ({
  name,
  priority,
  weight,
  index,
});
const ctx = (down: string[] = []): RoutingContext => ({
  model: 'claude-sonnet-4-5',
  isRoutable: (n) => !down.includes(n),
  inFlight: () => 0,
});
const names = (list: ProviderCandidate[]) => list.map((c) => c.name);

describe('FailoverStrategy', () => {
  const providers = [cand('a', 1, 0), cand('b', 5, 1), cand('c', 5, 2), cand('d', 3, 3)];

  it('orders by priority, highest first, config order breaking ties', () => {
    expect(names(new FailoverStrategy().order(providers, ctx()))).toEqual(['b', 'c', 'd', 'a']);
  });

  it('always picks the same provider while it is routable', () => {
    const s = new FailoverStrategy();
    for (let i = 0; i < 5; i++) expect(s.order(providers, ctx())[0]?.name).toBe('b');
  });

  it('skips to the next in the chain when a circuit is open', () => {
    expect(names(new FailoverStrategy().order(providers, ctx(['b'])))).toEqual(['c', 'd', 'a']);
  });

  it('drops drained providers (weight 0)', () => {
    const list = [cand('a', 9, 0, 0), cand('b', 1, 1)];
    expect(names(new FailoverStrategy().order(list, ctx()))).toEqual(['b']);
  });

  it('returns nothing when nothing is routable', () => {
    expect(new FailoverStrategy().order(providers, ctx(['a', 'b', 'c', 'd']))).toEqual([]);
  });
});
