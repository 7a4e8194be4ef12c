import { describe, expect, it } from 'vitest';
import { SecretSet } from './secret-set';

describe('SecretSet', () => {
  const set = new SecretSet(['sk-relay-alpha-0001', 'sk-relay-b', 'ключ-ü']);

  it('finds each secret by its exact value', () => {
    expect(set.indexOf('sk-relay-alpha-0001')).toBe(0);
    expect(set.indexOf('sk-relay-b')).toBe(1);
    expect(set.indexOf('ключ-ü')).toBe(2);
  });

  it('rejects prefixes, extensions, case changes and near misses', () => {
    for (const wrong of [
      '',
      'sk-relay-alpha-000',
      'sk-relay-alpha-00011',
      'sk-relay-alpha-0001\u0000',
      'SK-RELAY-B',
      'sk-relay-c',
      'ключ-u',
      'sk-relay-b'.padEnd(200, 'x'),
    ]) {
      expect(set.indexOf(wrong), JSON.stringify(wrong)).toBe(-1);
    }
  });

  it('matches nothing when empty', () => {
    const empty = new SecretSet([]);
    expect(empty.size).toBe(0);
    expect(empty.indexOf('')).toBe(-1);
    expect(empty.indexOf('anything')).toBe(-1);
  });
});
