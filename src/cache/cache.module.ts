import { DynamicModule, Global, Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CACHE_ADMIN, type CacheAdminPort } from '../admin/cache-admin.port';
import { systemClock } from '../common/clock';
import { RelayConfig } from '../config/relay-config';
import { CACHE_HEALTH_INDICATOR, type CacheHealthIndicatorLike } from '../health/cache-health-indicator';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import { isPinger, type Cache } from './cache';
import { CacheInterceptor } from './cache.interceptor';
import { DisabledCache } from './disabled-cache';
import { RedisCache } from './redis-cache';
import { CACHE_BACKEND, ResponseCache } from './response-cache.service';
import { SingleCache } from './single-cache';

function createBackend(config: RelayConfig): Cache {
  switch (config.cache.mode) {
    case 'single':
      return new SingleCache(config.cache, systemClock);
    case 'ha':
      return new RedisCache(config.cache, { logger: new Logger('RedisCache') });
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
    { provide: CACHE_BACKEND, useFactory: createBackend, inject: [RelayConfig] },
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
          if (!isPinger(backend)) return { status: 'up', detail: { mode: config.cache.mode } };
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
    this.metrics.addCollectedGauge(
      'cc_relay_cache',
      'Response cache counters and backend stats',
      ['stat', 'mode'],
      (set) => {
        for (const [stat, value] of Object.entries(cache.stats())) set({ stat, mode: cache.mode }, value);
      },
    );
  }
}
