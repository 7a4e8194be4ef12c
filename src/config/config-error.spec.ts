import { describe, expect, it } from 'vitest';
import { maskUrlPasswords } from './mask';
import { ConfigError, formatPath, renderValue } from './config-error';

describe('formatPath', () => {
  it('writes paths the way users read them', () => {
    expect(formatPath(['providers', 1, 'keys', 0, 'rpm_limit'])).toBe('providers[1].keys[0].rpm_limit');
    expect(formatPath(['routing', 'fallbacks', 'claude-3.5', 0])).toBe('routing.fallbacks["claude-3.5"][0]');
    expect(formatPath([])).toBe('(top level)');
  });
});

describe('renderValue', () => {
  it('shows scalars, names structures', () => {
    expect(renderValue('abc', ['x'])).toBe('"abc"');
    expect(renderValue(5, ['x'])).toBe('5');
    expect(renderValue(undefined, ['x'])).toBe('nothing');
    expect(renderValue({ key: 'sk-ant-secret-123456' }, ['x'])).toBe('a mapping');
    expect(renderValue(['sk-ant-secret-123456'], ['x'])).toBe('a list');
  });

  it('masks credentials under key, api_keys, token and bare entries of keys', () => {
    const secret = 'sk-ant-api03-very-secret-9876';
    for (const path of [
      ['providers', 0, 'keys', 0, 'key'],
      ['server', 'auth', 'api_keys', 2],
      ['admin', 'token'],
      ['providers', 0, 'keys', 1],
    ]) {
      expect(renderValue(secret, path)).toBe('"sk-ant-…9876"');
    }
    expect(renderValue(12345678901234, ['providers', 0, 'keys', 0, 'key'])).not.toContain('12345678901234');
    expect(renderValue('abc', ['providers', 0, 'keys', 0, 'rpm_limit'])).toBe('"abc"');
  });

  it('masks passwords inside URLs anywhere', () => {
    expect(maskUrlPasswords('redis://user:longpassword1@host:6379/0')).toBe(
      'redis://user:lo…ord1@host:6379/0',
    );
    expect(maskUrlPasswords('rediss://:pw@h:1')).toBe('rediss://:****@h:1');
    expect(maskUrlPasswords('redis://u:longp@ssword1@h:1/0')).not.toContain('ssword1');
    // A raw `/`, `?` or `#` in a password makes the URL unparsable; the error that says so must still mask it.
    for (const raw of [
      'redis://:ab/cdSECRET1@h:1',
      'redis://u:ab?cdSECRET1@h:1',
      'redis://:a#bSECRET1@h:1/0',
    ]) {
      expect(maskUrlPasswords(raw)).not.toContain('SECRET');
    }
    expect(renderValue('x redis://:hunter2hunter2@h:1', ['cache', 'redis', 'url'])).not.toContain(
      'hunter2hunter2',
    );
  });

  it('cuts very long values', () => {
    expect(renderValue('a'.repeat(500), ['x']).length).toBeLessThan(100);
  });
});

describe('ConfigError', () => {
  it('lists every problem, one per line', () => {
    const err = new ConfigError(
      [
        { path: 'providers[1].keys[0].rpm_limit', value: '"abc"', expected: 'an integer >= 0' },
        { path: 'providers[0].prioritty', expected: 'unknown key, did you mean priority?' },
      ],
      'relay.yaml',
    );
    expect(err.message).toBe(
      [
        'invalid config relay.yaml (2 problems):',
        '- providers[1].keys[0].rpm_limit: got "abc", expected an integer >= 0',
        '- providers[0].prioritty: unknown key, did you mean priority?',
      ].join('\n'),
    );
    expect(err).toBeInstanceOf(Error);
    expect(err.problems).toHaveLength(2);
  });
});
