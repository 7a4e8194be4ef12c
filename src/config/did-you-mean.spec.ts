import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from './did-you-mean';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('priority', 'priority')).toBe(0);
    expect(editDistance('prioritty', 'priority')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
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
  });

  it('suggests nothing when no key is plausibly meant', () => {
    expect(closestMatch('olric', keys)).toBeUndefined();
    expect(closestMatch('b', ['a'])).toBeUndefined();
    expect(closestMatch('x', [])).toBeUndefined();
  });
});
