import {
  byPriority,
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/** Fewest in-flight requests first; ties by priority, then config order. */
export class LeastLoadedStrategy implements RoutingStrategy {
  readonly name = 'least_loaded';

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    const load = new Map(candidates.map((c) => [c.name, ctx.inFlight(c.name)]));
    return eligible(candidates, ctx).sort(
      (a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || byPriority(a, b),
    );
  }
}
