import { hostname } from 'node:os';
import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { RelayConfig } from '../config/relay-config';
import { ClusterRedis } from './cluster-redis';
import { CLUSTER_REDIS, PROBE_LOCK, REPLICA_ID } from './cluster.tokens';
import { ProbeLock } from './probe-lock';
import { replicaIdOf } from './replica-id';

/** The cluster's Redis connection: one per process, null in `cluster.mode: local`. */
export function clusterRedisFor(config: RelayConfig): ClusterRedis | null {
  if (config.cluster.mode !== 'redis') return null;
  return new ClusterRedis(config.cluster.redis);
}

/**
 * The shared-state connection of `cluster.mode: redis` (docs/cluster.md), this replica's id and the probe lock.
 * Global, so the health, routing and admin modules inject them without importing it; the state built on them
 * (circuits, heartbeats, the cluster admin view) is ClusterStateModule's.
 */
@Global()
@Module({
  providers: [
    { provide: CLUSTER_REDIS, useFactory: clusterRedisFor, inject: [RelayConfig] },
    { provide: REPLICA_ID, useFactory: () => replicaIdOf(process.env, hostname(), process.pid) },
    {
      provide: PROBE_LOCK,
      useFactory: (redis: ClusterRedis | null, id: string) => (redis ? new ProbeLock(redis, id) : null),
      inject: [CLUSTER_REDIS, REPLICA_ID],
    },
  ],
  exports: [CLUSTER_REDIS, REPLICA_ID, PROBE_LOCK],
})
export class ClusterModule implements OnApplicationShutdown {
  constructor(@Inject(CLUSTER_REDIS) private readonly redis: ClusterRedis | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
  }
}
