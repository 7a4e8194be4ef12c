import type { RoutingStrategyName } from '../../config/relay-config';

export type { RoutingStrategyName };

/** A provider as strategies see it: no URLs, keys or breakers, only what ordering needs. */
export interface ProviderCandidate {
  name: string;
  priority: number;
  weight: number;
  /** Position in the config file, the last tie-breaker everywhere. */
  index: number;
}

/** What a strategy may ask about the request and the providers' live state. */
export interface RoutingContext {
  model: string;
  /** False while the provider's circuit is OPEN (routing never learns why). */
  isRoutable(name: string): boolean;
  inFlight(name: string): number;
  /**
   * False while every upstream connection of the provider is taken (its max_connections): a request sent there now
   * would wait for one. Absent = always room.
   */
  hasRoom?(name: string): boolean;
}

/** One routing strategy. */
export interface RoutingStrategy {
  readonly name: RoutingStrategyName;
  /**
   * The routable candidates in preference order: the first is this request's pick, the rest the order to fail over
   * in. Rotating strategies advance their state on every call, so call it once per request.
   */
  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[];
}

/** The candidates a strategy may use: routable and not drained (weight 0), in config order. */
export function eligible(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
  return candidates.filter((c) => c.weight > 0 && ctx.isRoutable(c.name)).sort((a, b) => a.index - b.index);
}

/** Failover order: highest priority first, config order breaks ties. */
export function byPriority(a: ProviderCandidate, b: ProviderCandidate): number {
  return b.priority - a.priority || a.index - b.index;
}
