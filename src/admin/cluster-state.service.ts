import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { CACHE_ADMIN, type CacheAdminPort } from '../cache/cache-admin.port';
import { InFlightService } from '../common/in-flight.service';
import { ConfigHolder } from '../config/config-holder';
import { RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from '../health/breaker-registry';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import type { ClusterRedis } from '../cluster/cluster-redis';
import { CLUSTER_REDIS, REPLICA_ID } from '../cluster/cluster.tokens';
import {
  ReplicaHeartbeat,
  replicaViews,
  type ReplicaBeat,
  type ReplicaView,
} from '../cluster/replica-heartbeat';
import { SharedCircuits, type ClusterAck, type SharedCircuitState } from '../health/shared-circuits';

/** The package version (package.json beside dist/ or src/). */
function packageVersion(): string {
  try {
    const text = readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * `cluster.mode: redis` at run time: shares this replica's circuits (SharedCircuits), beats its heartbeat with what
 * the admin API shows about it, and answers the cluster-wide admin questions. Absent (`active` false) in local
 * mode, where every admin answer stays this replica's.
 */
@Injectable()
export class ClusterState implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterState.name);
  readonly circuits: SharedCircuits | undefined;
  readonly heartbeat: ReplicaHeartbeat | undefined;
  readonly version = packageVersion();
  private lastBeats: ReplicaBeat[] = [];
  private readonly resetListeners: Array<(provider: string) => void> = [];

  constructor(
    @Inject(CLUSTER_REDIS) private readonly redis: ClusterRedis | null,
    @Inject(REPLICA_ID) readonly replicaId: string,
    config: RelayConfig,
    private readonly registry: BreakerRegistry,
    holder: ConfigHolder,
    inFlight: InFlightService,
    @Optional() metrics?: RelayMetrics,
    @Optional() @Inject(CACHE_ADMIN) cache?: CacheAdminPort,
  ) {
    if (redis === null) return;
    const heartbeatMs = config.cluster.heartbeat_ms;
    const lag = metrics
      ? new Histogram({
          name: 'cc_relay_cluster_pubsub_lag_seconds',
          help: 'Delay between a shared circuit transition and its pub/sub message reaching this replica',
          buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers: [metrics.registry],
        })
      : undefined;
    this.circuits = new SharedCircuits(redis, registry, {
      replicaId,
      heartbeatMs,
      onLag: (ms) => lag?.observe(ms / 1_000),
    });
    this.circuits.onOperatorAction((provider, reason) => {
      if (reason !== 'reset') return;
      for (const listener of this.resetListeners) listener(provider);
    });
    this.heartbeat = new ReplicaHeartbeat(redis, {
      id: replicaId,
      version: this.version,
      heartbeatMs,
      describe: () => ({
        config_hash: holder.hash,
        in_flight: inFlight.count,
        circuits: Object.fromEntries(
          registry
            .snapshot()
            .map((s) => [s.name, { state: s.state, consecutive_failures: s.consecutive_failures }]),
        ),
        ...(cache ? { cache: { mode: cache.mode, stats: cache.stats() } } : {}),
      }),
    });
    if (metrics) this.registerMetrics(metrics, redis);
  }

  /** Whether this replica shares its state (cluster.mode: redis). */
  get active(): boolean {
    return this.circuits !== undefined;
  }

  onApplicationBootstrap(): void {
    if (!this.circuits || !this.heartbeat) return;
    this.circuits.start();
    this.heartbeat.start();
    this.logger.log(`cluster mode redis: replica ${this.replicaId} shares circuits and probes through Redis`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.circuits?.stop();
    await this.heartbeat?.stop();
  }

  /** Called on this replica whenever an operator reset of a provider reaches it (its keys go back in rotation). */
  onReset(listener: (provider: string) => void): void {
    this.resetListeners.push(listener);
  }

  /** Live replicas (GET /admin/replicas); undefined when Redis did not answer. */
  async replicas(): Promise<ReplicaView[] | undefined> {
    const beats = await this.beats();
    return beats === undefined ? undefined : replicaViews(beats);
  }

  /** The live replicas' beats, this one's as of now. */
  async beats(): Promise<ReplicaBeat[] | undefined> {
    if (!this.heartbeat) return undefined;
    await this.heartbeat.beat();
    const beats = await this.heartbeat.beats();
    if (beats !== undefined) this.lastBeats = beats;
    return beats;
  }

  /** The shared circuit of each provider, read now. */
  async sharedStates(): Promise<Map<string, SharedCircuitState>> {
    const out = new Map<string, SharedCircuitState>();
    if (!this.circuits) return out;
    await this.circuits.refresh();
    for (const name of this.registry.names()) {
      const state = this.circuits.sharedState(name);
      if (state) out.set(name, state);
    }
    return out;
  }

  /** Force-open or reset on every replica; who acknowledged within a second. */
  async command(
    provider: string,
    action: 'open' | 'reset',
    durationMs = 0,
    reason = '',
  ): Promise<ClusterAck> {
    if (!this.circuits) return { shared: false, acknowledged: [this.replicaId] };
    return this.circuits.command(provider, action, durationMs, reason);
  }

  private registerMetrics(metrics: RelayMetrics, redis: ClusterRedis): void {
    const registers = [metrics.registry];
    new Counter({
      name: 'cc_relay_cluster_sync_errors_total',
      help: 'Shared-state Redis calls that failed or outlived cluster.redis.timeout_ms (each one decided locally)',
      registers,
      collect() {
        this.reset();
        this.inc(redis.syncErrors);
      },
    });
    new Counter({
      name: 'cc_relay_cluster_fallback_seconds_total',
      help: 'Time this replica decided on its local state because the cluster Redis was unreachable',
      registers,
      collect() {
        this.reset();
        this.inc(redis.fallbackSeconds());
      },
    });
    new Counter({
      name: 'cc_relay_cluster_topology_refreshes_total',
      help: 'Redis Cluster slot maps fetched again after failed calls and put in use (failovers, reshardings)',
      registers,
      collect() {
        this.reset();
        this.inc(redis.topologyRefreshes);
      },
    });
    new Gauge({
      name: 'cc_relay_cluster_redis_up',
      help: '1 while the cluster Redis connection is up, else 0',
      registers,
      collect() {
        this.set(redis.isUp() ? 1 : 0);
      },
    });
    const seen = (): number => this.lastBeats.length;
    const refresh = (): Promise<unknown> => this.beats();
    new Gauge({
      name: 'cc_relay_cluster_replicas',
      help: 'Live replicas seen through their heartbeats (this one included)',
      registers,
      async collect() {
        await refresh();
        this.set(seen());
      },
    });
  }
}
