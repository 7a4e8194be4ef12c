import { describe, expect, it } from 'vitest';
import { ModelBasedStrategy } from './model-based.strategy';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';

const list: ProviderCandidate[] = [
  { name: 'anthropic', priority: 1, weight: 1, index: 0 },
  { name: 'bedrock', priority: 5, weight: 1, index: 1 },
  { name: 'zai', priority: 0, weight: 1, index: 2 },
  { name: 'ollama', priority: 0, weight: 0, index: 3 },
];
const ctx = (model: string, down: string[] = []): RoutingContext => ({
  model,
  isRoutable: (n) => !down.includes(n),
  inFlight: () => 0,
});
const routes = {
  'claude-': ['anthropic', 'bedrock'],
  'claude-haiku': ['bedrock', 'anthropic'],
  'glm*': ['zai', 'ghost'],
  'local-': ['ollama'],
};
const order = (model: string, down: string[] = []) =>
  new ModelBasedStrategy(routes).order(list, ctx(model, down)).map((c) => c.name);

describe('ModelBasedStrategy', () => {
  it('uses the longest matching prefix and keeps the list order', () => {
    expect(order('claude-sonnet-4-5')).toEqual(['anthropic', 'bedrock']);
    expect(order('claude-haiku-4-5-20251001')).toEqual(['bedrock', 'anthropic']);
  });

  it('accepts a trailing * on a route and ignores names that are not candidates', () => {
    expect(order('glm-4.6')).toEqual(['zai']);
  });

  it('falls back to failover order over every provider when nothing matches', () => {
    expect(order('gpt-5')).toEqual(['bedrock', 'anthropic', 'zai']);
  });

  it('filters the route by routability and drained weight', () => {
    expect(order('claude-sonnet-4-5', ['anthropic'])).toEqual(['bedrock']);
    expect(order('local-llama')).toEqual([]);
  });

  it('does not reach for providers outside the route when the route is all down', () => {
    expect(order('claude-haiku-4-5', ['bedrock', 'anthropic'])).toEqual([]);
  });
});
