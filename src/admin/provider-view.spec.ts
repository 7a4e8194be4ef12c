import { describe, expect, it } from 'vitest';
import { ProviderConfig, ProviderKeyConfig } from '../config/relay-config';
import { CircuitBreaker } from '../health/circuit-breaker';
import { KeyPool } from '../routing/key-pool';
import { maskUrlCredentials, providerView, scrubSecrets } from './provider-view';

const KEY = 'sk-ant-api03-provider-secret-abcdef0123456789';

function provider(patch: Partial<ProviderConfig> = {}): ProviderConfig {
  const key = Object.assign(new ProviderKeyConfig(), { key: KEY });
  return Object.assign(new ProviderConfig(), { name: 'main', keys: [key], priority: 3, weight: 2 }, patch);
}

class ManualClock {
  constructor(public ms = Date.parse('2025-06-01T12:00:00Z')) {}
  now(): number {
    return this.ms;
  }
}

const breakerConfig = {
  failure_threshold: 2,
  open_duration_ms: 30_000,
  max_open_duration_ms: 300_000,
  half_open_probes: 1,
};

describe('maskUrlCredentials', () => {
  it('masks user and password before the host', () => {
    expect(maskUrlCredentials('https://ops:hunter2@gw.example/anthropic')).toBe(
      'https://***:***@gw.example/anthropic',
    );
  });

  it('masks a bare token used as the user name', () => {
    expect(maskUrlCredentials('https://tok_123456@gw.example')).toBe('https://***@gw.example');
  });

  it('masks every query value but keeps the names', () => {
    expect(maskUrlCredentials('https://gw.example/a?key=abc&region=eu#x')).toBe(
      'https://gw.example/a?key=***&region=***#x',
    );
  });

  it('leaves a URL without credentials unchanged, @ in the path included', () => {
    expect(maskUrlCredentials('https://user:p@ss@host.example/x')).toBe('https://***:***@host.example/x');
    expect(maskUrlCredentials('https://gw.example/x#access_token=abc')).toBe('https://gw.example/x#***');
    expect(maskUrlCredentials('https://gw.example/x#section')).toBe('https://gw.example/x#section');
    expect(maskUrlCredentials('https://api.anthropic.com')).toBe('https://api.anthropic.com');
    expect(maskUrlCredentials('http://127.0.0.1:8080/v1/@team')).toBe('http://127.0.0.1:8080/v1/@team');
  });
});

describe('scrubSecrets', () => {
  it('masks a secret wherever it appears inside nested strings', () => {
    const out = scrubSecrets(
      { message: `upstream said: bad key ${KEY}!`, list: [KEY, 'fine'], n: 4, nil: null },
      [KEY],
    );
    expect(JSON.stringify(out)).not.toContain(KEY);
    expect(out.message).toBe('upstream said: bad key sk-ant-…6789!');
    expect(out.list).toEqual(['sk-ant-…6789', 'fine']);
    expect(out.n).toBe(4);
    expect(out.nil).toBeNull();
  });

  it('masks the longer of two overlapping secrets as a whole', () => {
    const short = 'abcdefgh12';
    const long = `${short}-and-more-9999`;
    expect(scrubSecrets({ s: long }, [short, long]).s).toBe('ab…9999');
  });

  it('ignores secrets too short to scrub safely', () => {
    expect(scrubSecrets({ s: 'a short word' }, ['short'])).toEqual({ s: 'a short word' });
  });
});

describe('providerView', () => {
  it('shows a closed provider with its config and masked keys', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(breakerConfig, clock);
    const pool = new KeyPool('main', provider().keys, clock, () => 0.5);
    const view = providerView(provider(), 'https://ops:pw@gw.example', breaker.snapshot(), {
      inFlight: 2,
      keys: pool.snapshot(),
    });
    expect(view).toMatchObject({
      name: 'main',
      type: 'anthropic',
      base_url: 'https://***:***@gw.example',
      enabled: true,
      priority: 3,
      weight: 2,
      state: 'closed',
      consecutive_failures: 0,
      opened_at: null,
      retry_at: null,
      forced: false,
      half_open_in_flight: 0,
      half_open_successes: 0,
      last_error: null,
      in_flight: 2,
    });
    expect(view.keys).toHaveLength(1);
    expect(JSON.stringify(view)).not.toContain(KEY);
  });

  it('shows an opened circuit with its timers and the last error, status null when there was none', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(breakerConfig, clock);
    for (let i = 0; i < 2; i++) breaker.record(breaker.tryAcquire()!, 'failure');
    breaker.recordError({ message: 'connection refused' });
    const view = providerView(provider(), 'https://gw.example', breaker.snapshot(), undefined);
    expect(view).toMatchObject({
      state: 'open',
      consecutive_failures: 2,
      opened_at: '2025-06-01T12:00:00.000Z',
      retry_at: '2025-06-01T12:00:30.000Z',
      last_error: { status: null, message: 'connection refused', at: '2025-06-01T12:00:00.000Z' },
    });
  });

  it('shows a HALF_OPEN circuit with its test requests in flight and those that succeeded', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ ...breakerConfig, half_open_probes: 3 }, clock);
    for (let i = 0; i < 2; i++) breaker.record(breaker.tryAcquire()!, 'failure');
    clock.ms += 30_000;
    breaker.record(breaker.tryAcquire()!, 'success');
    breaker.tryAcquire();
    const view = providerView(provider(), 'https://gw.example', breaker.snapshot(), undefined);
    expect(view).toMatchObject({ state: 'half_open', half_open_in_flight: 1, half_open_successes: 1 });
    expect(view.half_open_successes).toBe(breaker.snapshot().half_open_successes);
  });

  it('shows a disabled provider without a live pool as idle with no keys', () => {
    const breaker = new CircuitBreaker(breakerConfig, new ManualClock());
    const view = providerView(
      provider({ enabled: false }),
      'https://gw.example',
      breaker.snapshot(),
      undefined,
    );
    expect(view).toMatchObject({ enabled: false, in_flight: 0, keys: [] });
  });
});
