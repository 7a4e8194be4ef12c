import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { RelayConfig } from '../config/relay-config';
import { ClusterRedis } from './cluster-redis';
import { CLUSTER_REDIS } from './cluster.tokens';

/** The cluster's Redis connection: one per process, null in `cluster.mode: local`. */
export function clusterRedisFor(config: RelayConfig): ClusterRedis | null {
  if (config.cluster.mode !== 'redis') return null;
  return new ClusterRedis(config.cluster.redis);
}

/**
 * Shared state of `cluster.mode: redis` (docs/cluster.md). Global, so the health, routing and admin modules can
 * inject CLUSTER_REDIS without importing it.
 */
@Global()
@Module({
  providers: [{ provide: CLUSTER_REDIS, useFactory: clusterRedisFor, inject: [RelayConfig] }],
  exports: [CLUSTER_REDIS],
})
export class ClusterModule implements OnApplicationShutdown {
  constructor(@Inject(CLUSTER_REDIS) private readonly redis: ClusterRedis | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
  }
}
