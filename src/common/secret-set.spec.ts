import { describe, expect, it, vi } from 'vitest';
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

describe('SecretSet with many secrets', () => {
  const keys = Array.from({ length: 50_000 }, (_, i) => `sk-relay-${i.toString(36).padStart(6, '0')}-k`);
  const set = new SecretSet(keys);

  it('finds any of 50,000 secrets at its index and rejects near misses', () => {
    expect(set.size).toBe(50_000);
    for (const i of [0, 1, 777, 25_000, 49_998, 49_999]) expect(set.indexOf(keys[i]!)).toBe(i);
    for (const wrong of [
      '',
      'sk-relay-000000-',
      'sk-relay-000000-kk',
      'SK-RELAY-000000-K',
      'sk-relay-zzzzzz-k',
    ]) {
      expect(set.indexOf(wrong), JSON.stringify(wrong)).toBe(-1);
    }
  });

  it('answers a duplicated secret with its first index', () => {
    expect(new SecretSet(['a', 'b', 'a']).indexOf('a')).toBe(0);
  });
});

describe('SecretSet on the hot path', () => {
  const digests = (set: SecretSet) => vi.spyOn(set as unknown as { digest(v: string): string }, 'digest');

  it('answers a key accepted before without hashing it again; a wrong candidate is hashed every time', () => {
    const set = new SecretSet(['sk-relay-alpha-0001', 'sk-relay-b']);
    expect(set.indexOf('sk-relay-b')).toBe(1);
    const spy = digests(set);
    for (let i = 0; i < 10; i++) expect(set.indexOf('sk-relay-b')).toBe(1);
    expect(spy).not.toHaveBeenCalled();
    for (let i = 0; i < 3; i++) expect(set.indexOf('sk-relay-c')).toBe(-1);
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it('answers every key right while more keys are in use than it remembers', () => {
    const keys = Array.from({ length: 1_000 }, (_, i) => `sk-relay-${i}`);
    const set = new SecretSet(keys);
    for (let round = 0; round < 3; round++) {
      keys.forEach((k, i) => expect(set.indexOf(k)).toBe(i));
      expect(set.indexOf('sk-relay-1000')).toBe(-1);
      expect(set.indexOf('sk-relay-1')).toBe(1);
    }
  });
});
