import {
  byPriority,
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/** The default: highest priority first, config order breaks ties; stateless. */
export class FailoverStrategy implements RoutingStrategy {
  readonly name = 'failover';

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    return eligible(candidates, ctx).sort(byPriority);
  }
}
