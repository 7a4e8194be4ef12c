import { DynamicModule, Global, Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CACHE_ADMIN, type CacheAdminPort } from './cache-admin.port';
import { CLOCK, systemClock, type Clock } from '../common/clock';
import { mathRandom, RNG, type Rng } from '../common/rng';
import { RelayConfig } from '../config/relay-config';
import { CACHE_HEALTH_INDICATOR, type CacheHealthIndicatorLike } from '../health/cache-health-indicator';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import { can, type Cache } from './cache';
import { CacheInterceptor } from './cache.interceptor';
import { DisabledCache } from './disabled-cache';
import { RedisCache } from './redis-cache';
import { CACHE_BACKEND, ResponseCache } from './response-cache.service';
import { SingleCache } from './single-cache';

/**
 * The cache stats that are a level now, each exported as a gauge of its own; every other stat is a count since the
 * process started and goes into the `cc_relay_cache_events_total` counter family. With `ha` these levels are the
 * shared Redis's, the same on every replica (take max(), not sum(), across pods).
 */
const CACHE_LEVELS: Record<string, { name: string; help: string }> = {
  backend_key_count: { name: 'cc_relay_cache_entries', help: 'Entries the response cache holds' },
  backend_bytes_used: {
    name: 'cc_relay_cache_bytes',
    help: "Bytes the response cache uses (single: the entries' cost; ha: Redis used_memory)",
  },
  backend_connected: {
    name: 'cc_relay_cache_redis_connected',
    help: '1 while the ha cache is connected to Redis, else 0',
  },
  backend_pending_write_bytes: {
    name: 'cc_relay_cache_redis_pending_write_bytes',
    help: 'Bytes of ha cache writes Redis has not answered yet (past 32 MiB further writes are dropped)',
  },
  backend_pending_commands: {
    name: 'cc_relay_cache_redis_pending_commands',
    help: 'ha cache commands Redis has not answered yet (past 1,000 reads are misses and writes are dropped)',
  },
};

function createBackend(config: RelayConfig, clock: Clock = systemClock, rng: Rng = mathRandom): Cache {
  switch (config.cache.mode) {
    case 'single':
      return new SingleCache(config.cache, clock, rng);
    case 'ha':
      return new RedisCache(config.cache, { logger: new Logger('RedisCache'), clock, random: rng });
    case 'disabled':
      return new DisabledCache();
  }
}

/**
 * The response cache: the backend chosen by `cache.mode`, the ResponseCache policy, the interceptor the Messages
 * controller uses, and the cache's controls for the admin API and its check for GET /health (global, so those
 * modules can inject them without importing this one).
 */
@Global()
@Module({
  providers: [
    {
      provide: CACHE_BACKEND,
      useFactory: createBackend,
      inject: [RelayConfig, { token: CLOCK, optional: true }, { token: RNG, optional: true }],
    },
    ResponseCache,
    {
      provide: CACHE_ADMIN,
      useFactory: (cache: ResponseCache): CacheAdminPort => ({
        mode: cache.mode,
        stats: () => cache.stats(),
        flush: () => cache.flush(),
      }),
      inject: [ResponseCache],
    },
    {
      provide: CACHE_HEALTH_INDICATOR,
      useFactory: (backend: Cache, config: RelayConfig): CacheHealthIndicatorLike => ({
        check: async () => {
          if (!can(backend, 'ping')) return { status: 'up', detail: { mode: config.cache.mode } };
          try {
            await backend.ping();
            return { status: 'up', detail: { mode: config.cache.mode } };
          } catch (err) {
            return { status: 'down', detail: { mode: config.cache.mode, error: (err as Error).message } };
          }
        },
      }),
      inject: [CACHE_BACKEND, RelayConfig],
    },
  ],
  exports: [ResponseCache, CACHE_ADMIN, CACHE_HEALTH_INDICATOR],
})
export class CacheModule implements OnModuleInit {
  /** The cache, with its interceptor installed only when a cache mode is on. */
  static forRoot(config: RelayConfig): DynamicModule {
    return {
      module: CacheModule,
      providers:
        config.cache.mode === 'disabled' ? [] : [{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }],
    };
  }

  constructor(
    private readonly cache: ResponseCache,
    @Inject(RelayMetrics) private readonly metrics: RelayMetrics,
  ) {}

  onModuleInit(): void {
    const cache = this.cache;
    this.metrics.addCollectedCounter(
      'cc_relay_cache_events_total',
      'Response cache events since the process started (lookups, hits, misses, stored, errors...; backend_* as ' +
        'the backend counts them, with ha backend_evictions for the whole Redis)',
      ['event', 'mode'],
      (sink) => {
        for (const [event, count] of Object.entries(cache.stats())) {
          if (!Object.hasOwn(CACHE_LEVELS, event)) sink([event, cache.mode], count);
        }
      },
    );
    for (const [stat, { name, help }] of Object.entries(CACHE_LEVELS)) {
      this.metrics.addCollectedGauge(name, help, ['mode'], (set) => {
        const value = cache.stats()[stat];
        if (value !== undefined) set({ mode: cache.mode }, value);
      });
    }
  }
}
