import { systemClock, type Clock } from '../common/clock';
import type { CircuitBreakerConfig, RelayConfig } from '../config/relay-config';
import {
  CircuitBreaker,
  type BreakerLink,
  type BreakerSnapshot,
  type BreakerTransition,
} from './circuit-breaker';

/** One provider's breaker as the admin API lists it. */
export interface ProviderBreakerSnapshot extends BreakerSnapshot {
  name: string;
}

/** A transition of one provider's breaker. */
export type ProviderTransitionListener = (provider: string, transition: BreakerTransition) => void;

/**
 * One circuit breaker per provider name. Routing asks only `isRoutable(name)`; the attempt loop records outcomes on
 * `get(name)`; the admin API and GET /health read `snapshot()`.
 */
/** The wait a client turned away is told while a circuit is HALF_OPEN. */
export const HALF_OPEN_RETRY_HINT_MS = 1_000;

export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly unsubscribers = new Map<string, () => void>();
  private readonly listeners: ProviderTransitionListener[] = [];
  /** Cluster mode: the link of each provider's breaker to the shared state (src/cluster). */
  private linkFor: ((name: string) => BreakerLink) | undefined;

  constructor(
    private config: CircuitBreakerConfig,
    providerNames: Iterable<string>,
    private readonly clock: Clock = systemClock,
  ) {
    this.sync(providerNames);
  }

  /** A registry with one breaker per configured provider (enabled or not, so the admin API can show them all). */
  static fromConfig(config: RelayConfig, clock: Clock = systemClock): BreakerRegistry {
    return new BreakerRegistry(
      config.health.circuit_breaker,
      config.providers.map((p) => p.name),
      clock,
    );
  }

  /** The provider's breaker, or undefined for a name that is not configured. */
  get(name: string): CircuitBreaker | undefined {
    return this.breakers.get(name);
  }

  /**
   * Whether routing may pick the provider now. An unknown name is not routable: a provider without a breaker
   * would have its failures recorded nowhere.
   */
  isRoutable(name: string): boolean {
    return this.breakers.get(name)?.isRoutable() ?? false;
  }

  /** Provider names in configuration order. */
  names(): string[] {
    return [...this.breakers.keys()];
  }

  /**
   * When a client turned away because no circuit admits it should come back, in ms: the soonest OPEN circuit's
   * move to HALF_OPEN, or HALF_OPEN_RETRY_HINT_MS while a circuit is HALF_OPEN (its test requests decide soon; the
   * open duration, the answer before, sent clients away for 30 s from a provider about to close). Undefined when
   * no breaker says.
   */
  soonestRetryMs(): number | undefined {
    const now = this.clock.now();
    let soonest = Infinity;
    for (const breaker of this.breakers.values()) {
      const snap = breaker.snapshot();
      if (snap.state === 'half_open') soonest = Math.min(soonest, HALF_OPEN_RETRY_HINT_MS);
      else if (snap.retry_at) soonest = Math.min(soonest, Math.max(0, Date.parse(snap.retry_at) - now));
    }
    return Number.isFinite(soonest) ? soonest : undefined;
  }

  /** Every provider's breaker, in configuration order. */
  snapshot(): ProviderBreakerSnapshot[] {
    return [...this.breakers].map(([name, breaker]) => ({ name, ...breaker.snapshot() }));
  }

  /**
   * Applies a reloaded provider list: existing providers keep their breaker and its state (a reload must not
   * reopen traffic to a provider that is down), new ones start CLOSED, removed ones are dropped.
   */
  sync(providerNames: Iterable<string>): void {
    const wanted = [...new Set(providerNames)];
    const wantedSet = new Set(wanted);
    for (const name of [...this.breakers.keys()]) {
      if (!wantedSet.has(name)) {
        this.unsubscribers.get(name)?.();
        this.unsubscribers.delete(name);
        this.breakers.delete(name);
      }
    }
    const kept = new Map(this.breakers);
    this.breakers.clear();
    for (const name of wanted) {
      const breaker = kept.get(name) ?? this.create(name);
      this.breakers.set(name, breaker);
    }
  }

  /**
   * A reloaded config: the breakers of providers that remain keep their state and take the new settings, new
   * providers start CLOSED, removed ones are dropped (see sync).
   */
  applyConfig(config: RelayConfig): void {
    this.config = config.health.circuit_breaker;
    this.sync(config.providers.map((p) => p.name));
    for (const breaker of this.breakers.values()) breaker.reconfigure(this.config);
  }

  /**
   * Shares every breaker's counting, present and future (providers added by a reload), through the link the
   * factory makes for its provider (cluster.mode: redis); undefined detaches them.
   */
  attachLinks(linkFor: ((name: string) => BreakerLink) | undefined): void {
    this.linkFor = linkFor;
    for (const [name, breaker] of this.breakers) breaker.attach(linkFor?.(name));
  }

  /** Subscribes to transitions of every provider's breaker, present and future; returns the unsubscribe function. */
  onTransition(listener: ProviderTransitionListener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  private create(name: string): CircuitBreaker {
    const breaker = new CircuitBreaker(this.config, this.clock);
    breaker.attach(this.linkFor?.(name));
    const unsubscribe = breaker.onTransition((transition) => {
      for (const listener of [...this.listeners]) {
        try {
          listener(name, transition);
        } catch {
          // Same rule as the breaker's own listeners: observers never change routing.
        }
      }
    });
    this.unsubscribers.set(name, unsubscribe);
    return breaker;
  }
}
