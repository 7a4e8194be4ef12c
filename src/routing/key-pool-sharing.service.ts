import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { CLUSTER_REDIS, REPLICA_ID } from '../cluster/cluster.tokens';
import { RoutingService } from './routing.service';
import { SharedKeyPools, type SharedKeyPoolsStats, type SharedKeyRedis } from './shared-key-pools';

/**
 * Wires the key pools to the cluster (cluster.mode: redis): every provider's pool is shared through the cluster's
 * Redis connection (CLUSTER_REDIS: a ClusterRedis, used through the SharedKeyRedis shape it has), reloads
 * included. With cluster.mode: local (no connection) it does nothing and
 * every pool decides alone, as before.
 */
@Injectable()
export class KeyPoolSharingService implements OnModuleInit, OnApplicationShutdown {
  private shared: SharedKeyPools | undefined;

  constructor(
    private readonly routing: RoutingService,
    @Optional() @Inject(CLUSTER_REDIS) private readonly redis: SharedKeyRedis | null = null,
    @Optional() @Inject(REPLICA_ID) private readonly replicaId: string | null = null,
  ) {}

  onModuleInit(): void {
    if (!this.redis) return;
    this.shared = new SharedKeyPools(
      this.redis,
      { replicaId: this.replicaId ?? undefined },
      new Logger(SharedKeyPools.name),
    );
    this.routing.shareKeyPools(this.shared);
    // The connection comes up in the background: until it does, the pools decide locally.
    void this.shared.start();
  }

  /** The shared key pools' counters (undefined in cluster.mode: local), for metrics and the admin view. */
  stats(): SharedKeyPoolsStats | undefined {
    return this.shared?.stats();
  }

  async onApplicationShutdown(): Promise<void> {
    const shared = this.shared;
    this.shared = undefined;
    if (!shared) return;
    this.routing.shareKeyPools(undefined);
    await shared.stop();
  }
}
