import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import {
  HealthCheckConfig,
  ProviderConfig,
  ProviderHealthCheckConfig,
  ProviderKeyConfig,
} from '../config/relay-config';
import type { BreakerSnapshot } from './circuit-breaker';
import { classifyOutcome } from '../protocol/outcome';
import { buildProbeRequest, probeKindOf, probeModelOf } from '../providers/probe-request';
import { isProbeSuccess, nextProbeDelayMs, selectProvidersToProbe } from './probe-policy';

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
  const UA = { 'user-agent': 'cc-relay-health-probe' };

  describe('models', () => {
    it('probes GET {base_url}/v1/models with x-api-key for anthropic providers', () => {
      const request = buildProbeRequest(
        provider({
          name: 'a',
          type: 'anthropic',
          base_url: 'https://relay.example/',
          keys: [key('k1'), key('k2')],
        }),
        'models',
      );
      expect(request).toEqual({
        provider: 'a',
        kind: 'models',
        method: 'GET',
        url: 'https://relay.example/v1/models',
        headers: { 'anthropic-version': '2023-06-01', ...UA, 'x-api-key': 'k1' },
      });
    });

    it('keeps a base path and uses a Bearer token for other provider types', () => {
      const request = buildProbeRequest(
        provider({ name: 'z', type: 'zai', base_url: 'https://api.z.ai/api/anthropic', keys: [key('zk')] }),
        'models',
      );
      expect(request.url).toBe('https://api.z.ai/api/anthropic/v1/models');
      expect(request.headers).toEqual({
        'anthropic-version': '2023-06-01',
        ...UA,
        authorization: 'Bearer zk',
      });
    });

    it('falls back to the type default base URL and sends no auth header without keys', () => {
      expect(buildProbeRequest(provider({ name: 'o', type: 'ollama' }), 'models')).toEqual({
        provider: 'o',
        kind: 'models',
        method: 'GET',
        url: 'http://127.0.0.1:11434/v1/models',
        headers: { 'anthropic-version': '2023-06-01', ...UA },
      });
      expect(buildProbeRequest(provider({ name: 'a' }), 'models').url).toBe(
        'https://api.anthropic.com/v1/models',
      );
    });
  });

  describe('messages (opt-in)', () => {
    it('sends the smallest Messages request: max_tokens 1, one word, not streamed, the cheapest model', () => {
      const request = buildProbeRequest(
        provider({
          name: 'a',
          base_url: 'https://relay.example',
          keys: [key('k1')],
          models: ['claude-opus-*', 'claude-sonnet-4-6', 'claude-haiku-4-5'],
        }),
        'messages',
      );
      expect(request).toEqual({
        provider: 'a',
        kind: 'messages',
        method: 'POST',
        url: 'https://relay.example/v1/messages',
        headers: {
          'anthropic-version': '2023-06-01',
          ...UA,
          'x-api-key': 'k1',
          'content-type': 'application/json',
        },
        body: expect.any(String) as string,
      });
      expect(JSON.parse(request.body!)).toEqual({
        model: 'claude-haiku-4-5',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'ping' }],
      });
    });

    it('is not the default: the spec probes with a lightweight test, not a full API call (models)', () => {
      expect(new HealthCheckConfig().probe).toBe('models');
      const p = provider({ name: 'a', keys: [key('k1')], models: ['claude-sonnet-4-6'] });
      expect(buildProbeRequest(p).kind).toBe('models');
      expect(buildProbeRequest(p, 'messages').kind).toBe('messages');
    });

    it('names the model as the upstream knows it, preferring the target of a haiku mapping', () => {
      const zai = provider({
        name: 'z',
        type: 'zai',
        keys: [key('zk')],
        models: ['claude-sonnet-4-5', 'claude-haiku-4-5'],
        model_mapping: { 'claude-sonnet-4-5': 'glm-4.6', 'claude-haiku-4-5': 'glm-4.5-air' },
      });
      expect(probeModelOf(zai)).toBe('glm-4.5-air');
      expect(JSON.parse(buildProbeRequest(zai, 'messages').body!)).toMatchObject({ model: 'glm-4.5-air' });
      // Mapping targets alone, no haiku anywhere: the first.
      expect(probeModelOf({ models: [], model_mapping: { 'claude-*': 'glm-4.6', x: 'glm-4.5' } })).toBe(
        'glm-4.6',
      );
      expect(probeModelOf({ models: ['claude-opus-4-6', 'claude-sonnet-4-6'], model_mapping: {} })).toBe(
        'claude-opus-4-6',
      );
    });

    it('falls back to GET /v1/models, saying why, when the provider serves any model and names none', () => {
      const request = buildProbeRequest(
        provider({ name: 'any', keys: [key('k1')], models: ['claude-*'] }),
        'messages',
      );
      expect(request).toMatchObject({
        kind: 'models',
        method: 'GET',
        url: 'https://api.anthropic.com/v1/models',
      });
      expect(request.fallback).toMatch(/serves any model/);
      expect(request.body).toBeUndefined();
    });

    it('falls back to GET /v1/models for a provider without keys (an unauthenticated probe only meets a 401)', () => {
      const request = buildProbeRequest(
        provider({ name: 'o', type: 'ollama', models: ['qwen3'] }),
        'messages',
      );
      expect(request).toMatchObject({ kind: 'models', method: 'GET' });
      expect(request.fallback).toMatch(/no keys/);
    });
  });

  it('count_tokens: POST /v1/messages/count_tokens with the same prompt and model, no max_tokens', () => {
    const request = buildProbeRequest(
      provider({ name: 'a', keys: [key('k1')], models: ['claude-haiku-4-5'] }),
      'count_tokens',
    );
    expect(request).toMatchObject({
      kind: 'count_tokens',
      method: 'POST',
      url: 'https://api.anthropic.com/v1/messages/count_tokens',
    });
    expect(JSON.parse(request.body!)).toEqual({
      model: 'claude-haiku-4-5',
      messages: [{ role: 'user', content: 'ping' }],
    });
  });

  it("a provider's own health_check.probe overrides the global default", () => {
    const p = provider({ name: 'a', keys: [key('k1')], models: ['claude-haiku-4-5'] });
    p.health_check = Object.assign(new ProviderHealthCheckConfig(), { probe: 'models' });
    expect(probeKindOf(p, 'messages')).toBe('models');
    expect(buildProbeRequest(p, 'messages')).toMatchObject({ kind: 'models', method: 'GET' });
    expect(buildProbeRequest(p, 'messages').fallback).toBeUndefined();
    p.health_check = new ProviderHealthCheckConfig();
    expect(buildProbeRequest(p, 'count_tokens').kind).toBe('count_tokens');
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
