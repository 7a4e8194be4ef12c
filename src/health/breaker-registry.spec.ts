import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../common/clock';
import { CircuitBreakerConfig, ProviderConfig, RelayConfig } from '../config/relay-config';
import { BreakerRegistry, HALF_OPEN_RETRY_HINT_MS } from './breaker-registry';

class ManualClock implements Clock {
  constructor(private ms = Date.parse('2026-01-01T00:00:00.000Z')) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

function openCircuit(registry: BreakerRegistry, name: string): void {
  const breaker = registry.get(name)!;
  for (let i = 0; i < 5; i++) breaker.record(breaker.tryAcquire()!, 'failure');
}

function provider(name: string, enabled = true): ProviderConfig {
  return Object.assign(new ProviderConfig(), { name, enabled });
}

describe('BreakerRegistry', () => {
  it('creates one independent breaker per configured provider, in configuration order', () => {
    const config = new RelayConfig();
    config.providers = [provider('primary'), provider('backup'), provider('off', false)];
    config.health.circuit_breaker.failure_threshold = 2;
    const registry = BreakerRegistry.fromConfig(config, new ManualClock());

    expect(registry.names()).toEqual(['primary', 'backup', 'off']);
    const primary = registry.get('primary')!;
    primary.record(primary.tryAcquire()!, 'failure');
    primary.record(primary.tryAcquire()!, 'failure');
    expect(registry.isRoutable('primary')).toBe(false);
    expect(registry.isRoutable('backup')).toBe(true);
    expect(registry.snapshot().map((s) => [s.name, s.state])).toEqual([
      ['primary', 'open'],
      ['backup', 'closed'],
      ['off', 'closed'],
    ]);
  });

  it('tells a turned-away client the soonest OPEN circuit retry, or a short wait while one is HALF_OPEN', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry(new CircuitBreakerConfig(), ['a', 'b'], clock);
    expect(registry.soonestRetryMs()).toBeUndefined();
    openCircuit(registry, 'a');
    expect(registry.soonestRetryMs()).toBe(30_000);
    clock.advance(10_000);
    openCircuit(registry, 'b');
    expect(registry.soonestRetryMs()).toBe(20_000);
    clock.advance(20_000);
    // a is HALF_OPEN now: its test requests decide within moments, not another open duration.
    expect(registry.get('a')!.snapshot().state).toBe('half_open');
    expect(registry.soonestRetryMs()).toBe(HALF_OPEN_RETRY_HINT_MS);
  });

  it('answers undefined / not routable for an unknown provider', () => {
    const registry = new BreakerRegistry(new CircuitBreakerConfig(), ['a']);
    expect(registry.get('nope')).toBeUndefined();
    expect(registry.isRoutable('nope')).toBe(false);
  });

  it('snapshot carries the breaker detail', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry(new CircuitBreakerConfig(), ['a'], clock);
    openCircuit(registry, 'a');
    expect(registry.snapshot()).toEqual([
      {
        name: 'a',
        state: 'open',
        consecutive_failures: 5,
        opened_at: '2026-01-01T00:00:00.000Z',
        retry_at: '2026-01-01T00:00:30.000Z',
        half_open_in_flight: 0,
        half_open_successes: 0,
        last_error: null,
        forced: false,
        open_duration_ms: 30_000,
        reopens: 0,
      },
    ]);
  });

  it('sync keeps the state of existing breakers, adds new ones closed and drops removed ones', () => {
    const registry = new BreakerRegistry(new CircuitBreakerConfig(), ['a', 'b'], new ManualClock());
    openCircuit(registry, 'a');
    const a = registry.get('a');

    registry.sync(['c', 'a']);

    expect(registry.names()).toEqual(['c', 'a']);
    expect(registry.get('a')).toBe(a);
    expect(registry.get('a')!.state).toBe('open');
    expect(registry.get('c')!.state).toBe('closed');
    expect(registry.get('b')).toBeUndefined();
  });

  it('reports transitions of every provider, including ones added by sync, until unsubscribed', () => {
    const registry = new BreakerRegistry(new CircuitBreakerConfig(), ['a'], new ManualClock());
    const seen: string[] = [];
    const off = registry.onTransition((name, t) => seen.push(`${name}:${t.from}->${t.to}`));
    registry.onTransition(() => {
      throw new Error('bad observer');
    });

    openCircuit(registry, 'a');
    registry.sync(['a', 'b']);
    registry.get('b')!.forceOpen(1_000, 'drill');
    registry.sync(['b']);
    off();
    registry.get('b')!.reset();

    expect(seen).toEqual(['a:closed->open', 'b:closed->open']);
  });

  it('a dropped breaker no longer reports transitions', () => {
    const registry = new BreakerRegistry(new CircuitBreakerConfig(), ['a'], new ManualClock());
    const dropped = registry.get('a')!;
    const seen: string[] = [];
    registry.onTransition((name) => seen.push(name));
    registry.sync([]);
    dropped.forceOpen(1_000, 'x');
    expect(seen).toEqual([]);
  });
});
