import { Injectable } from '@nestjs/common';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import type { AdminActionLog } from './admin-log';
import { providerBaseUrl } from '../config/provider-defaults';
import { RelayConfig, type ProviderConfig } from '../config/relay-config';
import type { CircuitBreaker } from '../health/circuit-breaker';
import { RoutingService } from '../routing/routing.service';
import type {
  ProviderAnswerDto,
  ProviderListDto,
  ProviderStatusDto,
  ResetAnswerDto,
} from './provider-status.dto';
import { providerView, scrubSecrets, type ProviderLoad } from './provider-view';
import { RelayInstance } from './relay-instance';

/**
 * Reads providers through the routing service (runtimes, key pools) and its breaker registry, and applies the
 * operator actions. Every configured provider is listed, disabled ones too, so an operator sees the whole file.
 * All of it is this replica's state: every answer names the replica (`instance`).
 */
@Injectable()
export class AdminProvidersService {
  constructor(
    private readonly config: RelayConfig,
    private readonly routing: RoutingService,
    private readonly instance: RelayInstance,
  ) {}

  /** The running config's secrets (read per call: a config reload may change them). */
  private get secrets(): string[] {
    const config = this.config;
    return [
      ...config.providers.flatMap((p) => p.keys.map((k) => k.key)),
      ...config.server.auth.api_keys,
      ...(config.admin.token ? [config.admin.token] : []),
    ];
  }

  /** Every configured provider, in configuration order. */
  list(): ProviderListDto {
    const providers = this.config.providers.flatMap((p) => {
      const breaker = this.routing.breakers.get(p.name);
      return breaker ? [this.view(p, breaker)] : [];
    });
    return { instance: this.instance.name, providers };
  }

  /** One provider; 404 for a name that is not configured. */
  get(name: string): ProviderAnswerDto {
    const { provider, breaker } = this.find(name);
    return this.answer(provider, breaker);
  }

  /**
   * Manual recovery, for an operator who fixed the provider or its keys: the circuit CLOSED with a clean failure
   * count, every key back in rotation (401 parking and 429 cooldowns cleared) and the last error forgotten.
   * `log` is the admin request's (it carries its id).
   */
  reset(name: string, log: AdminActionLog): ResetAnswerDto {
    const { provider, breaker } = this.find(name);
    const before = breaker.snapshot();
    breaker.reset();
    const keys = this.routing.runtime(provider.name)?.keys.clearPenalties() ?? { parked: 0, cooling: 0 };
    const cleared = {
      circuit: before.state !== 'closed' || before.forced || before.consecutive_failures > 0,
      parked_keys: keys.parked,
      cooling_keys: keys.cooling,
      last_error: breaker.clearLastError(),
    };
    log.warn(
      `provider "${provider.name}" circuit reset to closed by the admin API` +
        ` (${keys.parked} parked and ${keys.cooling} cooling keys back in rotation)`,
    );
    return { ...this.answer(provider, breaker), cleared };
  }

  /** The failover drill: OPEN for `durationMs`, whatever the provider's health. */
  forceOpen(
    name: string,
    durationMs: number,
    reason: string | undefined,
    log: AdminActionLog,
  ): ProviderAnswerDto {
    const { provider, breaker } = this.find(name);
    const why = reason?.trim() || 'admin API';
    breaker.forceOpen(durationMs, why);
    log.warn(`provider "${provider.name}" circuit forced open for ${durationMs} ms by the admin API: ${why}`);
    return this.answer(provider, breaker);
  }

  private find(name: string): { provider: ProviderConfig; breaker: CircuitBreaker } {
    const provider = this.config.providers.find((p) => p.name === name);
    const breaker = provider ? this.routing.breakers.get(provider.name) : undefined;
    if (!provider || !breaker) {
      throw new RelayError(
        RelayErrorCode.NotFound,
        `no provider named ${JSON.stringify(name.slice(0, 100))}`,
      );
    }
    return { provider, breaker };
  }

  private answer(provider: ProviderConfig, breaker: CircuitBreaker): ProviderAnswerDto {
    return { instance: this.instance.name, ...this.view(provider, breaker) };
  }

  private view(provider: ProviderConfig, breaker: CircuitBreaker): ProviderStatusDto {
    const runtime = this.routing.runtime(provider.name);
    const load: ProviderLoad | undefined = runtime
      ? { inFlight: runtime.inFlight, keys: runtime.keys.snapshot() }
      : undefined;
    return scrubSecrets(
      providerView(provider, providerBaseUrl(provider), breaker.snapshot(), load),
      this.secrets,
    );
  }
}
