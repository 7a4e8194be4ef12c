import { Inject, Injectable, Optional } from '@nestjs/common';
import { CLOCK, systemClock, type Clock } from '../common/clock';
import { mathRandom, RNG, type Rng } from '../common/rng';
import { providerAuthStyle, providerBaseUrl } from '../config/provider-defaults';
import { RelayConfig, type ProviderConfig } from '../config/relay-config';
import { BreakerRegistry } from '../health/breaker-registry';
import { KeyPool } from './key-pool';
import type { ProviderRuntime } from './provider-runtime';
import type { AttemptOutcome } from '../protocol/outcome';
import { ProviderLease, type AttemptMetrics } from './provider-lease';
import type { KeyPoolSharing } from './key-sync';
import { RetryBudget } from './retry-budget';
import { decideNext, type RetryDecision, type RetryState } from './retry-policy';
import {
  buildRoutePlan,
  fallbackModels,
  ModelTable,
  providerServesModel,
  type ModelEntry,
  type PlanStep,
} from './route-plan';
import type { RoutingContext, RoutingStrategy } from './strategies/routing-strategy';
import { createStrategy } from './strategies/strategy-factory';

export type { ProviderRuntime } from './provider-runtime';

/**
 * Wires the pure routing pieces to the app: one strategy, one retry budget and one runtime per provider.
 * Routing sees breakers only through the `isRoutable` predicate.
 */
@Injectable()
export class RoutingService {
  strategy: RoutingStrategy;
  budget: RetryBudget;
  private readonly runtimes = new Map<string, ProviderRuntime>();
  private enabled: ProviderConfig[];
  private models: ModelTable;
  private readonly lookup = (model: string): ModelEntry => this.models.get(model);
  /** Shares the providers' key pools with the other replicas (cluster.mode: redis), when set. */
  private keySharing: KeyPoolSharing | undefined;

  constructor(
    private readonly config: RelayConfig,
    readonly breakers: BreakerRegistry,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = systemClock,
    @Optional() @Inject(RNG) private readonly rng: Rng = mathRandom,
  ) {
    this.budget = new RetryBudget(config.routing.retry.budget_ratio, clock);
    this.strategy = createStrategy(config.routing.strategy, config.routing, rng);
    this.enabled = [];
    this.models = new ModelTable([], config.routing.fallbacks);
    this.applyConfig(config);
  }

  /**
   * Takes a config (at start, and each reload, already swapped into the shared RelayConfig), in one synchronous
   * step: a new strategy and model table; a provider that remains keeps its runtime (load) and its key pool, whose
   * keys keep their windows, cooldowns and parking when their secret is unchanged (KeyPool.reconfigure); new
   * providers get fresh runtimes; removed or disabled ones are dropped with their state. Requests in flight keep the
   * runtime they hold.
   */
  applyConfig(config: RelayConfig): void {
    if (this.budget.ratio !== config.routing.retry.budget_ratio) {
      this.budget = new RetryBudget(config.routing.retry.budget_ratio, this.clock);
    }
    this.strategy = createStrategy(config.routing.strategy, config.routing, this.rng);
    this.enabled = config.providers.filter((p) => p.enabled);
    this.models = new ModelTable(this.enabled, config.routing.fallbacks);
    const kept = new Map(this.runtimes);
    this.runtimes.clear();
    const sharing = this.keySharing;
    for (const p of this.enabled) {
      const maxConnections = p.max_connections ?? config.server.max_connections_per_provider;
      const rt = kept.get(p.name);
      if (rt) {
        rt.config = p;
        rt.baseUrl = providerBaseUrl(p);
        rt.auth = providerAuthStyle(p);
        rt.maxConnections = maxConnections;
        rt.keys.reconfigure(p.keys);
        this.runtimes.set(p.name, rt);
      } else {
        const keys = new KeyPool(p.name, p.keys, this.clock, this.rng);
        sharing?.attach(keys);
        this.runtimes.set(p.name, {
          name: p.name,
          config: p,
          baseUrl: providerBaseUrl(p),
          auth: providerAuthStyle(p),
          keys,
          maxConnections,
          inFlight: 0,
        });
      }
    }
    if (sharing) for (const name of kept.keys()) if (!this.runtimes.has(name)) sharing.detach(name);
  }

  /**
   * Shares every provider's key pool with the other replicas from now on (cluster.mode: redis), including the
   * pools of providers a reload adds; undefined stops sharing (each pool decides alone again, as in local mode).
   */
  shareKeyPools(sharing: KeyPoolSharing | undefined): void {
    const previous = this.keySharing;
    this.keySharing = sharing;
    for (const rt of this.runtimes.values()) {
      if (sharing) sharing.attach(rt.keys);
      else previous?.detach(rt.name);
    }
  }

  /** The ordered attempts for a model: its providers by strategy, then each fallback model's providers. */
  plan(model: string): PlanStep[] {
    return buildRoutePlan(
      model,
      this.enabled,
      this.config.routing,
      this.strategy,
      new ServiceContext(model, this),
      this.lookup,
    );
  }

  /** A request arrived: the retry budget allows retries in proportion to requests. */
  recordRequest(): void {
    this.budget.recordRequest();
  }

  /**
   * The attempt loop's hold on a plan step's provider for one attempt (see ProviderLease); undefined when the
   * provider is no longer enabled.
   */
  lease(step: PlanStep, metrics: AttemptMetrics): ProviderLease | undefined {
    const rt = this.runtimes.get(step.provider);
    return rt && new ProviderLease(step, rt, this.breakers.get(step.provider), metrics);
  }

  /** What follows an attempt (see decideNext), asked with the retry budget, retry settings and jitter of routing. */
  decideNext(outcome: AttemptOutcome, state: Omit<RetryState, 'budget' | 'config' | 'rng'>): RetryDecision {
    return decideNext(outcome, {
      ...state,
      budget: this.budget,
      config: this.config.routing.retry,
      rng: this.rng,
    });
  }

  /**
   * Whether the provider is healthy as far as the relay knows: its circuit CLOSED with no failure since its last
   * success (a move to it is no retry of a struggling upstream; see RetryState.freeFailover).
   */
  isFresh(name: string): boolean {
    return this.breakers.get(name)?.isFresh() ?? false;
  }

  /** The relay's clock (deadlines, retry waits). */
  now(): number {
    return this.clock.now();
  }

  /** Live in-flight count of a provider (least_loaded routing). */
  inFlightOf(name: string): number {
    return this.runtimes.get(name)?.inFlight ?? 0;
  }

  /** Whether every upstream connection the provider may hold is taken: a request sent now would wait for one. */
  isFull(rt: ProviderRuntime): boolean {
    return rt.inFlight >= rt.maxConnections;
  }

  /** Whether the provider can take a request at once: enabled, its circuit not OPEN, a connection free. */
  canServeNow(name: string): boolean {
    const rt = this.runtimes.get(name);
    return rt !== undefined && !this.isFull(rt) && this.breakers.isRoutable(name);
  }

  /** Whether any enabled provider serves the model or one of its fallbacks, routable or not. */
  servesModel(model: string): boolean {
    const models = [model, ...fallbackModels(model, this.config.routing.fallbacks)];
    return this.enabled.some((p) => models.some((m) => providerServesModel(p, m)));
  }

  /** Milliseconds until the first open circuit among the providers will admit a request again. */
  soonestBreakerRetryMs(): number {
    return this.breakers.soonestRetryMs() ?? this.config.health.circuit_breaker.open_duration_ms;
  }

  runtime(name: string): ProviderRuntime | undefined {
    return this.runtimes.get(name);
  }

  all(): ProviderRuntime[] {
    return [...this.runtimes.values()];
  }
}

/** One request's view of the providers' live state, as strategies ask for it (one object, no closures). */
class ServiceContext implements RoutingContext {
  constructor(
    readonly model: string,
    private readonly service: RoutingService,
  ) {}

  isRoutable(name: string): boolean {
    return this.service.breakers.isRoutable(name);
  }

  inFlight(name: string): number {
    return this.service.inFlightOf(name);
  }

  hasRoom(name: string): boolean {
    const rt = this.service.runtime(name);
    return rt === undefined || !this.service.isFull(rt);
  }
}
