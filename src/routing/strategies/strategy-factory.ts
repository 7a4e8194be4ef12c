import type { RoutingConfig, RoutingStrategyName } from '../../config/relay-config';
import type { Rng } from '../../common/rng';
import { FailoverStrategy } from './failover.strategy';
import { LeastLoadedStrategy } from './least-loaded.strategy';
import { ModelBasedStrategy } from './model-based.strategy';
import { RoundRobinStrategy } from './round-robin.strategy';
import type { RoutingStrategy } from './routing-strategy';
import { ShuffleStrategy } from './shuffle.strategy';
import { WeightedRoundRobinStrategy } from './weighted-round-robin.strategy';

/** A fresh strategy by its config name (`routing.strategy`). */
export function createStrategy(
  name: RoutingStrategyName,
  routing: Pick<RoutingConfig, 'model_routes'>,
  rng: Rng,
): RoutingStrategy {
  switch (name) {
    case 'failover':
      return new FailoverStrategy();
    case 'round_robin':
      return new RoundRobinStrategy();
    case 'weighted_round_robin':
      return new WeightedRoundRobinStrategy();
    case 'shuffle':
      return new ShuffleStrategy(rng);
    case 'least_loaded':
      return new LeastLoadedStrategy();
    case 'model_based':
      return new ModelBasedStrategy(routing.model_routes);
  }
}
