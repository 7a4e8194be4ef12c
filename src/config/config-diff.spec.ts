import { describe, expect, it } from 'vitest';
import { diffConfig, flattenConfig, keepRestartFields, maskedConfig, restartFieldsOf } from './config-diff';
import { validateConfig } from './config-validation';
import type { RelayConfig } from './relay-config';

const KEY = 'sk-ant-api03-secret-key-0123456789abcdef';

function config(patch: Record<string, unknown> = {}): RelayConfig {
  return validateConfig({
    server: { listen: '127.0.0.1:8787', auth: { api_keys: ['client-key-0123456789'] } },
    providers: [
      { name: 'a', type: 'anthropic', keys: [{ key: KEY }] },
      { name: 'b', type: 'anthropic', keys: [{ key: KEY + 'b' }] },
    ],
    admin: { token: 'admin-token-0123456789' },
    cache: { mode: 'single' },
    ...patch,
  }).config;
}

describe('diffConfig', () => {
  it('finds nothing between two loads of the same file', () => {
    expect(diffConfig(config(), config())).toEqual({ changed: [], restart: [] });
  });

  it('names changed leaves, providers by name (a reorder is no change)', () => {
    const next = config({
      providers: [
        { name: 'b', type: 'anthropic', keys: [{ key: KEY + 'b' }] },
        { name: 'a', type: 'anthropic', keys: [{ key: KEY }], weight: 3 },
      ],
      routing: { strategy: 'round_robin' },
    });
    expect(diffConfig(config(), next)).toEqual({
      changed: ['providers[a].weight', 'routing.strategy'],
      restart: [],
    });
  });

  it('sorts out what needs a restart: server.listen, cache.mode, cache.redis, logging.format', () => {
    const next = config({
      server: { listen: '0.0.0.0:9000', auth: { api_keys: ['client-key-0123456789'] } },
      cache: { mode: 'disabled', ttl_ms: 5 },
      logging: { format: 'text', level: 'debug' },
    });
    const diff = diffConfig(config(), next);
    expect(diff.changed).toEqual(
      expect.arrayContaining([
        'server.listen',
        'cache.mode',
        'cache.ttl_ms',
        'logging.level',
        'logging.format',
      ]),
    );
    expect(diff.restart.sort()).toEqual(['cache.mode', 'logging.format', 'server.listen']);
    expect(restartFieldsOf(diff.restart)).toEqual(['server.listen', 'cache.mode', 'logging.format']);
  });

  it('a removed and an added provider show as their whole subtrees', () => {
    const next = config({ providers: [{ name: 'a', type: 'anthropic', keys: [{ key: KEY }] }] });
    expect(diffConfig(config(), next).changed.every((p) => p.startsWith('providers[b]'))).toBe(true);
  });
});

describe('keepRestartFields', () => {
  it('puts the running value back for restart fields only', () => {
    const prev = config();
    const next = config({
      server: { listen: '0.0.0.0:9000', auth: { api_keys: ['client-key-0123456789'] } },
      cache: { mode: 'disabled', ttl_ms: 5 },
    });
    const { restart } = diffConfig(prev, next);
    const applied = keepRestartFields(prev, next, restart);
    expect(applied.server.listen).toBe('127.0.0.1:8787');
    expect(applied.cache.mode).toBe('single');
    expect(applied.cache.ttl_ms).toBe(5);
    expect(diffConfig(prev, applied).changed).toEqual(['cache.ttl_ms']);
  });
});

describe('maskedConfig', () => {
  it('masks keys, client keys and tokens', () => {
    const shown = JSON.stringify(maskedConfig(config()));
    expect(shown).not.toContain(KEY);
    expect(shown).not.toContain('client-key-0123456789');
    expect(shown).not.toContain('admin-token-0123456789');
    expect(flattenConfig(maskedConfig(config())).get('providers[a].type')).toBe('"anthropic"');
  });
});
