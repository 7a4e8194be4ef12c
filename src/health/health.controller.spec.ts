import 'reflect-metadata';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import type { HealthCheckResult } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderConfig, RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from './breaker-registry';
import { CACHE_HEALTH_INDICATOR, type CacheHealthIndicatorLike } from './cache-health-indicator';
import { DrainState } from '../common/drain-state';
import { HealthModule } from './health.module';

@Global()
@Module({})
class TestGlobalsModule {
  static with(config: RelayConfig, cache?: CacheHealthIndicatorLike): DynamicModule {
    const providers = [{ provide: RelayConfig, useValue: config }];
    if (cache) providers.push({ provide: CACHE_HEALTH_INDICATOR as never, useValue: cache as never });
    return { module: TestGlobalsModule, providers, exports: providers.map((p) => p.provide) };
  }
}

function configWith(...names: string[]): RelayConfig {
  const config = new RelayConfig();
  config.providers = names.map((name) =>
    Object.assign(new ProviderConfig(), { name, base_url: 'http://127.0.0.1:9' }),
  );
  config.health.health_check.enabled = false;
  return config;
}

function openCircuit(registry: BreakerRegistry, name: string): void {
  const breaker = registry.get(name)!;
  for (let i = 0; i < 5; i++) breaker.record(breaker.tryAcquire()!, 'failure');
}

describe('HealthController (real sockets)', () => {
  let app: NestFastifyApplication | undefined;
  let base: string;

  async function boot(
    config: RelayConfig,
    cache?: CacheHealthIndicatorLike,
  ): Promise<NestFastifyApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [TestGlobalsModule.with(config, cache), ScheduleModule.forRoot(), HealthModule],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    return app;
  }

  async function get(
    path: string,
  ): Promise<{ status: number; body: HealthCheckResult; cacheControl: string | null }> {
    const res = await fetch(`${base}${path}`);
    const body = (await res.json()) as HealthCheckResult;
    return { status: res.status, body, cacheControl: res.headers.get('cache-control') };
  }

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('readiness is 503 while starting, 200 once ready and 503 again once draining; liveness stays 200', async () => {
    const drain = (await boot(configWith('a'))).get(DrainState);

    expect(await get('/health/ready')).toMatchObject({
      status: 503,
      body: { status: 'error', error: { relay: { status: 'down', phase: 'starting' } } },
    });
    expect((await get('/health/live')).status).toBe(200);

    drain.markReady();
    const ready = await get('/health/ready');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ok', info: { relay: { status: 'up' } } } });
    expect(ready.cacheControl).toBe('no-cache, no-store, must-revalidate');

    drain.startDraining();
    expect(await get('/health/ready')).toMatchObject({
      status: 503,
      body: { error: { relay: { status: 'down', phase: 'draining' } } },
    });
    expect(await get('/health/live')).toEqual({
      status: 200,
      body: { status: 'ok', info: {}, error: {}, details: {} },
      cacheControl: 'no-cache, no-store, must-revalidate',
    });
  });

  it('readiness does not depend on providers: every circuit open is still ready', async () => {
    const running = await boot(configWith('a', 'b'));
    running.get(DrainState).markReady();
    const registry = running.get(BreakerRegistry);
    openCircuit(registry, 'a');
    openCircuit(registry, 'b');

    expect((await get('/health/ready')).status).toBe(200);
  });

  it('GET /health shows every breaker; it is 503 only when no provider can take traffic', async () => {
    const running = await boot(configWith('a', 'b'));
    running.get(DrainState).markReady();
    const registry = running.get(BreakerRegistry);
    openCircuit(registry, 'a');

    const partly = await get('/health');
    expect(partly.status).toBe(200);
    expect(partly.body.details.providers).toMatchObject({
      status: 'up',
      routable: ['b'],
      breakers: [
        { name: 'a', state: 'open', consecutive_failures: 5 },
        { name: 'b', state: 'closed' },
      ],
    });
    expect(partly.body.details.cache).toBeUndefined();

    openCircuit(registry, 'b');
    const none = await get('/health');
    expect(none.status).toBe(503);
    expect(none.body.error?.providers).toMatchObject({ status: 'down', routable: [] });
  });

  it('GET /health reports the cache backend through the optional indicator', async () => {
    let cacheUp = true;
    const cache: CacheHealthIndicatorLike = {
      async check() {
        if (!cacheUp) throw new Error('redis: connection refused');
        return { status: 'up', detail: { mode: 'ha' } };
      },
    };
    (await boot(configWith('a'), cache)).get(DrainState).markReady();

    expect(await get('/health')).toMatchObject({
      status: 200,
      body: { details: { cache: { status: 'up', mode: 'ha' } } },
    });

    cacheUp = false;
    expect(await get('/health')).toMatchObject({
      status: 503,
      body: { error: { cache: { status: 'down', message: 'redis: connection refused' } } },
    });
    expect((await get('/health/ready')).status).toBe(200);
  });
});
