import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server';
import { InFlightService } from '../common/in-flight.service';
import { ConfigHolder } from '../config/config-holder';
import { ProviderConfig, RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from '../health/breaker-registry';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import { ClusterRedis } from '../cluster/cluster-redis';
import { ClusterState } from './cluster-state.service';

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

describe('ClusterState metrics', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('exports replicas seen, Redis up, sync errors and fallback time, which grow while Redis is away', async () => {
    const config = new RelayConfig();
    config.providers = [Object.assign(new ProviderConfig(), { name: 'p' })];
    config.cluster.mode = 'redis';
    config.health.circuit_breaker.failure_threshold = 1;
    Object.assign(config.cluster.redis, {
      url: server.url,
      cluster_nodes: [],
      key_prefix: 'cc-relay-test:m:',
    });
    const redis = new ClusterRedis(config.cluster.redis, {
      logger: { warn: () => undefined, log: () => undefined },
    });
    const registry = BreakerRegistry.fromConfig(config);
    const inFlight = new InFlightService();
    const metrics = new RelayMetrics(registry, inFlight);
    const state = new ClusterState(
      redis,
      'r1',
      config,
      registry,
      new ConfigHolder(config),
      inFlight,
      metrics,
    );
    try {
      state.onApplicationBootstrap();
      await until(() => redis.isUp());
      let text = await metrics.registry.metrics();
      expect(metricValue(text, 'cc_relay_cluster_replicas')).toBe(1);
      expect(metricValue(text, 'cc_relay_cluster_redis_up')).toBe(1);
      const errorsBefore = metricValue(text, 'cc_relay_cluster_sync_errors_total');
      await server.stop();
      await until(() => !redis.isUp());
      const breaker = registry.get('p')!;
      breaker.record(breaker.tryAcquire()!, 'failure');
      await new Promise((r) => setTimeout(r, 300));
      expect(breaker.state).toBe('open'); // decided here alone, without waiting for Redis
      await metrics.registry.metrics(); // its heartbeat write fails: one more sync error
      text = await metrics.registry.metrics();
      expect(metricValue(text, 'cc_relay_cluster_redis_up')).toBe(0);
      expect(metricValue(text, 'cc_relay_cluster_sync_errors_total')).toBeGreaterThan(errorsBefore);
      expect(metricValue(text, 'cc_relay_cluster_fallback_seconds_total')).toBeGreaterThanOrEqual(0.2);
      expect(text).toContain('cc_relay_cluster_pubsub_lag_seconds_bucket');
    } finally {
      await state.onApplicationShutdown();
      await redis.close();
    }
  });
});
