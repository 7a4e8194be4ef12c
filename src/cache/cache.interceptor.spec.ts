import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { lastValueFrom, of } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../test/fakes/fake-clock';
import { validateConfig } from '../config/config-validation';
import type { RelayMetrics } from '../metrics/relay-metrics.service';
import type { ProxyEndpoint, RawBodyCarrier } from '../protocol/request-carrier';
import { Cacheable, CacheInterceptor } from './cache.interceptor';
import { ResponseCache } from './response-cache.service';
import { SingleCache } from './single-cache';

const MODEL = 'claude-sonnet-4-6';

/** A route handler as Nest hands it to the interceptor, marked @Cacheable(endpoint) (or not at all). */
function handler(endpoint?: ProxyEndpoint): () => void {
  class Routes {
    route(): void {}
  }
  if (endpoint) {
    const descriptor = Object.getOwnPropertyDescriptor(Routes.prototype, 'route')!;
    Cacheable(endpoint)(Routes.prototype, 'route', descriptor);
  }
  return Routes.prototype.route;
}

function world() {
  const config = validateConfig({
    providers: [{ name: 'p' }],
    cache: { mode: 'single', stream: true },
  }).config;
  const cache = new ResponseCache(config, new SingleCache(config.cache, new FakeClock()));
  const metrics = { cacheResult: vi.fn() };
  const interceptor = new CacheInterceptor(
    cache,
    metrics as unknown as RelayMetrics,
    new Reflector(),
    config,
  );
  return { interceptor, metrics, cache };
}

function context(route: () => void, req: object) {
  const reply = { header: vi.fn(), getHeaders: () => ({}), hijack: vi.fn(), raw: {} };
  return {
    getHandler: () => route,
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => reply }),
  } as unknown as ExecutionContext;
}

function request(url: string, body: Record<string, unknown>): RawBodyCarrier & Record<string, unknown> {
  return { url, body, headers: {}, clientScope: 'client-a' };
}

describe('CacheInterceptor', () => {
  it('takes the endpoint from the route’s @Cacheable metadata, not from the URL', async () => {
    const w = world();
    // A count_tokens route reached under another path (a prefix, a rewrite): still counted as count_tokens.
    const req = request('/relay/v1/messages', { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    const next = { handle: () => of(undefined) };
    await lastValueFrom(w.interceptor.intercept(context(handler('count_tokens'), req), next), {
      defaultValue: undefined,
    });
    expect(w.metrics.cacheResult).toHaveBeenCalledWith('count_tokens', 'MISS');
  });

  it('reads the body’s facts once and leaves them and the capture budget in the request’s slot', async () => {
    const w = world();
    const req = request('/v1/messages', {
      model: MODEL,
      max_tokens: 8,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const next = { handle: () => of(undefined) };
    await lastValueFrom(w.interceptor.intercept(context(handler('messages'), req), next), {
      defaultValue: undefined,
    });
    expect(req.relay?.facts).toEqual({ model: MODEL, stream: true });
    expect(req.relay?.capture).toEqual({ limitBytes: w.cache.maxEntryBytes, budget: w.cache.captureBudget });
  });

  it('leaves a route without @Cacheable alone', async () => {
    const w = world();
    const req = request('/v1/messages', { model: MODEL });
    const handle = vi.fn(() => of('answer'));
    const out = await lastValueFrom(w.interceptor.intercept(context(handler(), req), { handle }));
    expect(out).toBe('answer');
    expect(w.metrics.cacheResult).not.toHaveBeenCalled();
    expect(req.relay).toBeUndefined();
  });
});
