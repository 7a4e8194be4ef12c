import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { ProviderConfig, ProviderKeyConfig } from '../config/relay-config';
import type { BreakerSnapshot } from './circuit-breaker';
import { classifyOutcome } from '../routing/outcome';
import { buildProbeRequest, isProbeSuccess, nextProbeDelayMs, selectProvidersToProbe } from './probe-policy';

function provider(fields: Partial<ProviderConfig> & { name: string }): ProviderConfig {
  return Object.assign(new ProviderConfig(), fields);
}

function key(value: string): ProviderKeyConfig {
  return Object.assign(new ProviderKeyConfig(), { key: value });
}

function snapshot(state: BreakerSnapshot['state'], forced = false): BreakerSnapshot {
  return {
    state,
    consecutive_failures: 0,
    opened_at: null,
    retry_at: null,
    half_open_in_flight: 0,
    half_open_successes: 0,
    last_error: null,
    forced,
    open_duration_ms: 30_000,
    reopens: 0,
  };
}

describe('selectProvidersToProbe', () => {
  it('picks only enabled providers whose circuit is OPEN and not forced by an operator', () => {
    const providers = [
      provider({ name: 'closed' }),
      provider({ name: 'open' }),
      provider({ name: 'half' }),
      provider({ name: 'drill' }),
      provider({ name: 'disabled-open', enabled: false }),
      provider({ name: 'unknown' }),
    ];
    const states: Record<string, BreakerSnapshot> = {
      closed: snapshot('closed'),
      open: snapshot('open'),
      half: snapshot('half_open'),
      drill: snapshot('open', true),
      'disabled-open': snapshot('open'),
    };
    expect(selectProvidersToProbe(providers, (name) => states[name]).map((p) => p.name)).toEqual(['open']);
  });
});

describe('buildProbeRequest', () => {
  it('probes GET {base_url}/v1/models with x-api-key for anthropic providers', () => {
    const request = buildProbeRequest(
      provider({
        name: 'a',
        type: 'anthropic',
        base_url: 'https://relay.example/',
        keys: [key('k1'), key('k2')],
      }),
    );
    expect(request).toEqual({
      provider: 'a',
      url: 'https://relay.example/v1/models',
      headers: { 'anthropic-version': '2023-06-01', 'x-api-key': 'k1' },
    });
  });

  it('keeps a base path and uses a Bearer token for other provider types', () => {
    const request = buildProbeRequest(
      provider({ name: 'z', type: 'zai', base_url: 'https://api.z.ai/api/anthropic', keys: [key('zk')] }),
    );
    expect(request.url).toBe('https://api.z.ai/api/anthropic/v1/models');
    expect(request.headers).toEqual({ 'anthropic-version': '2023-06-01', authorization: 'Bearer zk' });
  });

  it('falls back to the type default base URL and sends no auth header without keys', () => {
    expect(buildProbeRequest(provider({ name: 'o', type: 'ollama' }))).toEqual({
      provider: 'o',
      url: 'http://127.0.0.1:11434/v1/models',
      headers: { 'anthropic-version': '2023-06-01' },
    });
    expect(buildProbeRequest(provider({ name: 'a' })).url).toBe('https://api.anthropic.com/v1/models');
  });
});

describe('isProbeSuccess', () => {
  it.each([200, 204, 400, 401, 403, 404, 405, 408, 409, 499])('HTTP %i means the host is up', (status) => {
    expect(isProbeSuccess({ status })).toBe(true);
  });

  it.each([429, 500, 502, 503, 504, 529])('HTTP %i is still a failure', (status) => {
    expect(isProbeSuccess({ status })).toBe(false);
  });

  // Real traffic counts these against the breaker (outcome.ts): a probe that took them for "up" would move a
  // redirecting provider to HALF_OPEN every interval only for its next request to open the circuit again.
  it.each([101, 301, 302, 307, 308])('HTTP %i is a failure, as it is for real traffic', (status) => {
    expect(isProbeSuccess({ status })).toBe(false);
  });

  it.each([200, 301, 302, 401, 404, 405, 429, 503])(
    'agrees with the breaker classification of real traffic for HTTP %i',
    (status) => {
      const traffic = classifyOutcome({ status, relayKey: true });
      expect(isProbeSuccess({ status })).toBe(!traffic.breakerFailure);
    },
  );

  it('a transport error is a failure', () => {
    expect(isProbeSuccess({ error: 'connect ECONNREFUSED 127.0.0.1:1' })).toBe(false);
  });
});

describe('nextProbeDelayMs', () => {
  it('waits between 90 % and 100 % of the interval, never longer', () => {
    expect(nextProbeDelayMs(10_000, () => 0)).toBe(10_000);
    expect(nextProbeDelayMs(10_000, () => 0.5)).toBe(9_500);
    expect(nextProbeDelayMs(10_000, () => 0.999999)).toBe(9_000);
  });

  it('counts the interval from the start of the run that just ended: a slow run shortens the wait, never below 0', () => {
    expect(nextProbeDelayMs(10_000, () => 0, 5_000)).toBe(5_000);
    expect(nextProbeDelayMs(10_000, () => 0.5, 5_000)).toBe(4_500);
    expect(nextProbeDelayMs(5_000, () => 0, 5_000)).toBe(0);
    expect(nextProbeDelayMs(1_000, () => 0, 1_500)).toBe(0);
    expect(nextProbeDelayMs(10_000, () => 0, -3)).toBe(10_000);
  });
});
