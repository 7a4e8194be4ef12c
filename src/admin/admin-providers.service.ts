import { Injectable, Optional } from '@nestjs/common';
import { ClusterState } from './cluster-state.service';
import type { ClusterAck, SharedCircuitState } from '../health/shared-circuits';
import type { ReplicaBeat } from '../cluster/replica-heartbeat';
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
    @Optional() private readonly cluster?: ClusterState,
  ) {
    // cluster.mode: redis — a reset taken on another replica puts this replica's keys back in rotation too.
    cluster?.onReset((name) => this.routing.runtime(name)?.keys.clearPenalties());
  }

  /** Whether answers are the cluster's (cluster.mode: redis). */
  private get clustered(): ClusterState | undefined {
    return this.cluster?.active ? this.cluster : undefined;
  }

  /**
   * Every configured provider; in cluster mode with the cluster's shared circuit state (read from Redis now) in
   * the breaker fields, the live replicas, and each replica's own view where it differs from the shared one.
   */
  async listAll(): Promise<ProviderListDto> {
    const local = this.list();
    const cluster = this.clustered;
    if (!cluster) return local;
    const [shared, beats] = await Promise.all([cluster.sharedStates(), cluster.beats()]);
    return {
      ...local,
      replicas: beats?.map((b) => b.id) ?? null,
      providers: local.providers.map((p) => withCluster(p, shared.get(p.name), beats)),
    };
  }

  /** One provider, as listAll() shows it. */
  async getOne(name: string): Promise<ProviderAnswerDto> {
    const local = this.get(name);
    const cluster = this.clustered;
    if (!cluster) return local;
    const [shared, beats] = await Promise.all([cluster.sharedStates(), cluster.beats()]);
    return { ...withCluster(local, shared.get(local.name), beats), instance: local.instance };
  }

  /** reset(), on every replica in cluster mode, saying which acknowledged within a second. */
  async resetAll(name: string, log: AdminActionLog): Promise<ResetAnswerDto> {
    const cluster = this.clustered;
    if (!cluster) return this.reset(name, log);
    const { provider, breaker } = this.find(name);
    const before = breaker.snapshot();
    const ack = await cluster.command(provider.name, 'reset');
    const answer = this.reset(name, log, false);
    answer.cleared.circuit = before.state !== 'closed' || before.forced || before.consecutive_failures > 0;
    return { ...answer, ...(await this.acks(cluster, ack)) };
  }

  /** forceOpen(), on every replica in cluster mode, saying which acknowledged within a second. */
  async forceOpenAll(
    name: string,
    durationMs: number,
    reason: string | undefined,
    log: AdminActionLog,
  ): Promise<ProviderAnswerDto> {
    const cluster = this.clustered;
    if (!cluster) return this.forceOpen(name, durationMs, reason, log);
    const { provider } = this.find(name);
    const why = reason?.trim() || 'admin API';
    const ack = await cluster.command(provider.name, 'open', durationMs, why);
    log.warn(
      `provider "${provider.name}" circuit forced open for ${durationMs} ms by the admin API on the cluster ` +
        `(acknowledged by ${ack.acknowledged.join(', ')}): ${why}`,
    );
    return { ...(await this.getOne(name)), ...(await this.acks(cluster, ack)) };
  }

  /** Who applied an action within a second, and which live replicas did not (yet). */
  private async acks(
    cluster: ClusterState,
    ack: ClusterAck,
  ): Promise<{ acknowledged_by: string[]; not_acknowledged: string[]; shared: boolean }> {
    const live = (await cluster.beats())?.map((b) => b.id) ?? [];
    return {
      acknowledged_by: ack.acknowledged,
      not_acknowledged: live.filter((id) => !ack.acknowledged.includes(id)),
      shared: ack.shared,
    };
  }

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
  reset(name: string, log: AdminActionLog, resetBreaker = true): ResetAnswerDto {
    const { provider, breaker } = this.find(name);
    const before = breaker.snapshot();
    if (resetBreaker) breaker.reset();
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

/** A provider's view with the cluster's shared circuit and the replicas whose own breaker differs from it. */
function withCluster<T extends ProviderStatusDto>(
  view: T,
  shared: SharedCircuitState | undefined,
  beats: ReplicaBeat[] | undefined,
): T {
  if (shared === undefined) return { ...view, cluster: { shared: null, replicas_differing: [] } };
  const differing = (beats ?? []).flatMap((b) => {
    const own = b.circuits?.[view.name];
    if (own === undefined || own.state === shared.state) return [];
    return [{ replica: b.id, state: own.state, consecutive_failures: own.consecutive_failures }];
  });
  return {
    ...view,
    state: shared.state,
    consecutive_failures: shared.consecutive_failures,
    opened_at: shared.opened_at,
    retry_at: shared.retry_at,
    forced: shared.forced,
    half_open_successes: shared.half_open_successes,
    cluster: { shared, replicas_differing: differing },
  };
}
