import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../test/fakes/fake-clock';
import { validateConfig } from '../config/config-validation';
import type { RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from '../health/breaker-registry';
import { classifyOutcome } from '../protocol/outcome';
import type { AttemptMetrics } from './provider-lease';
import { RoutingService } from './routing.service';

const MODEL = 'claude-sonnet-4-6';

function config(keys: string[], failureThreshold: number): RelayConfig {
  return validateConfig({
    server: { listen: '127.0.0.1:0' },
    providers: [
      {
        name: 'p1',
        type: 'anthropic',
        base_url: 'http://upstream.invalid',
        keys: keys.map((key) => ({ key })),
        models: [MODEL, 'claude-haiku-4-5'],
        model_mapping: { 'claude-haiku-4-5': 'mapped-haiku' },
      },
    ],
    routing: { fallbacks: { 'claude-sonnet-4*': ['claude-haiku-4-5'] } },
    health: { health_check: { enabled: false }, circuit_breaker: { failure_threshold: failureThreshold } },
    cache: { mode: 'disabled' },
  }).config;
}

function world(
  keys = ['sk-ant-lease-key-one-0123456789', 'sk-ant-lease-key-two-0123456789'],
  failureThreshold = 5,
) {
  const cfg = config(keys, failureThreshold);
  const clock = new FakeClock();
  const breakers = BreakerRegistry.fromConfig(cfg, clock);
  const routing = new RoutingService(cfg, breakers, clock, () => 0.5);
  const metrics: AttemptMetrics & Record<string, ReturnType<typeof vi.fn>> = {
    attempt: vi.fn(),
    usage: vi.fn(),
    fallbackAnswer: vi.fn(),
  };
  const rt = routing.runtime('p1')!;
  const breaker = breakers.get('p1')!;
  return { routing, metrics, rt, breaker, clock };
}

const ok = classifyOutcome({ status: 200 });
const overloaded = classifyOutcome({ status: 529 });

describe('ProviderLease', async () => {
  it('holds a key and a connection from admit to settle, then gives both back once', async () => {
    const w = world();
    const step = w.routing.plan(MODEL)[0]!;
    const lease = w.routing.lease(step, w.metrics)!;
    const admission = await lease.admit(100);
    expect(admission).toMatchObject({ kind: 'admitted', key: { keyId: expect.any(String) } });
    lease.connect();
    expect(w.rt.inFlight).toBe(1);
    expect(w.rt.keys.snapshot().reduce((n, k) => n + k.in_flight, 0)).toBe(1);
    lease.disconnect();
    lease.returnKey();
    lease.settle({ outcome: ok, answer: { status: 200, headers: {} }, delivered: true, cutShort: false });
    lease.release();
    lease.release();
    expect(w.rt.inFlight).toBe(0);
    expect(w.rt.keys.snapshot().every((k) => k.in_flight === 0 && k.reserved_input_tokens === 0)).toBe(true);
    expect(w.metrics.attempt).toHaveBeenCalledWith('p1', 'success', expect.any(Number));
  });

  it('gives back what is held when the attempt threw before settling', async () => {
    const w = world();
    const lease = w.routing.lease(w.routing.plan(MODEL)[0]!, w.metrics)!;
    await lease.admit(100);
    lease.connect();
    lease.release();
    expect(w.rt.inFlight).toBe(0);
    expect(w.rt.keys.snapshot().every((k) => k.in_flight === 0 && k.reserved_input_tokens === 0)).toBe(true);
    expect(w.breaker.snapshot().consecutive_failures).toBe(0);
  });

  it('records a failure to the breaker, unless the deadline had cut the attempt short', async () => {
    const w = world(undefined, 1);
    const step = w.routing.plan(MODEL)[0]!;
    const cut = w.routing.lease(step, w.metrics)!;
    await cut.admit(0);
    cut.settle({
      outcome: overloaded,
      answer: { status: 529, headers: {} },
      delivered: false,
      cutShort: true,
    });
    cut.release();
    expect(w.breaker.state).toBe('closed');

    const failed = w.routing.lease(step, w.metrics)!;
    await failed.admit(0);
    failed.settle({
      outcome: overloaded,
      answer: { status: 529, headers: {} },
      delivered: false,
      cutShort: false,
    });
    failed.release();
    expect(w.breaker.state).toBe('open');
    expect(await w.routing.lease(step, w.metrics)!.admit(0)).toEqual({ kind: 'refused' });
  });

  it('cools the key down on a 429 and says when no key is left', async () => {
    const w = world(['sk-ant-lease-only-key-0123456789']);
    const step = w.routing.plan(MODEL)[0]!;
    const lease = w.routing.lease(step, w.metrics)!;
    await lease.admit(0);
    lease.returnKey();
    lease.settle({
      outcome: classifyOutcome({ status: 429, headers: { 'retry-after': '2' } }),
      answer: { status: 429, headers: { 'retry-after': '2' } },
      delivered: false,
      cutShort: false,
    });
    lease.release();
    const next = w.routing.lease(step, w.metrics)!;
    expect(await next.admit(0)).toEqual({ kind: 'exhausted', retryAfterMs: 2_000, allRejected: false });
    next.release();
    // The cooldown runs on the injected clock.
    w.clock.advance(2_000);
    const later = w.routing.lease(step, w.metrics)!;
    expect((await later.admit(0)).kind).toBe('admitted');
    later.release();
  });

  it('labels a fallback answer with the config rule and spends the tokens on the key', async () => {
    const w = world();
    const step = w.routing.plan(`${MODEL}-20260101`).find((s) => s.fallbackIndex > 0)!;
    expect(step).toMatchObject({
      model: 'claude-haiku-4-5',
      upstreamModel: 'mapped-haiku',
      fallbackRule: 'claude-sonnet-4*',
    });
    const lease = w.routing.lease(step, w.metrics)!;
    await lease.admit(10);
    lease.returnKey();
    lease.settle({
      outcome: ok,
      answer: { status: 200, headers: {} },
      usage: { input_tokens: 7, output_tokens: 3 },
      delivered: true,
      cutShort: false,
    });
    lease.release();
    expect(w.metrics.usage).toHaveBeenCalledWith('p1', 7, 3);
    expect(w.metrics.fallbackAnswer).toHaveBeenCalledWith('claude-sonnet-4*', 'claude-haiku-4-5', 'p1');
  });
});
