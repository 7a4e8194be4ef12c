import {
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/**
 * Even rotation over the routable providers in config order. It remembers the last provider it picked rather than
 * a counter, so a provider leaving or rejoining the set does not make the rotation skip or repeat the others.
 */
export class RoundRobinStrategy implements RoutingStrategy {
  readonly name = 'round_robin';
  private lastIndex = -1;

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    const ring = eligible(candidates, ctx);
    if (ring.length === 0) return [];
    let start = ring.findIndex((c) => c.index > this.lastIndex);
    if (start < 0) start = 0;
    this.lastIndex = ring[start]!.index;
    // The rest follows the ring, so failovers spread over the providers as evenly as picks do.
    return [...ring.slice(start), ...ring.slice(0, start)];
  }
}
