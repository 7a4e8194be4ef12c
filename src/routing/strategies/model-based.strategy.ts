import { FailoverStrategy } from './failover.strategy';
import {
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/**
 * Routes by model: the longest prefix of the request's model found in `model_routes` names the providers, in that
 * list's order. A key may end with `*` (same meaning as without). No match: every provider in failover order.
 * A match whose providers are all unroutable yields nothing, because the others were not meant to serve it.
 */
export class ModelBasedStrategy implements RoutingStrategy {
  readonly name = 'model_based';
  private readonly routes: Array<[prefix: string, providers: readonly string[]]>;
  private readonly fallback = new FailoverStrategy();

  constructor(modelRoutes: Readonly<Record<string, readonly string[]>>) {
    this.routes = Object.entries(modelRoutes)
      .map(([prefix, providers]): [string, readonly string[]] => [prefix.replace(/\*$/, ''), providers])
      .sort((a, b) => b[0].length - a[0].length);
  }

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    const route = this.routes.find(([prefix]) => ctx.model.startsWith(prefix));
    if (!route) return this.fallback.order(candidates, ctx);
    const byName = new Map(eligible(candidates, ctx).map((c) => [c.name, c]));
    const ordered: ProviderCandidate[] = [];
    for (const name of route[1]) {
      const c = byName.get(name);
      if (c) {
        ordered.push(c);
        byName.delete(name);
      }
    }
    return ordered;
  }
}
