import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from './did-you-mean';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('priority', 'priority')).toBe(0);
    expect(editDistance('prioritty', 'priority')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('counts a swap of two neighbours as one edit', () => {
    expect(editDistance('mdoe', 'mode')).toBe(1);
    expect(editDistance('redsi', 'redis')).toBe(1);
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('ca', 'abc')).toBe(3); // optimal string alignment: no edit of a swapped pair
  });
});

describe('closestMatch', () => {
  const keys = [
    'name',
    'type',
    'enabled',
    'base_url',
    'priority',
    'weight',
    'keys',
    'models',
    'model_mapping',
  ];

  it('suggests the nearest key for a typo', () => {
    expect(closestMatch('prioritty', keys)).toBe('priority');
    expect(closestMatch('baseurl', keys)).toBe('base_url');
    expect(closestMatch('Model_Maping', keys)).toBe('model_mapping');
    expect(closestMatch('mdoe', ['mode', 'ttl_ms', 'stream', 'redis'])).toBe('mode');
    expect(closestMatch('redsi', ['mode', 'ttl_ms', 'stream', 'redis'])).toBe('redis');
  });

  it('suggests nothing when no key is plausibly meant', () => {
    expect(closestMatch('olric', keys)).toBeUndefined();
    expect(closestMatch('b', ['a'])).toBeUndefined();
    expect(closestMatch('x', [])).toBeUndefined();
  });
});
