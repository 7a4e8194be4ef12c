import { describe, expect, it } from 'vitest';
import { Doorkeeper } from './doorkeeper';
import { hashKey } from './key-hash';

const h = (key: string): [number, number] => [hashKey(key, 11), hashKey(key, 12) | 1];

describe('Doorkeeper', () => {
  it('remembers added keys (no false negatives) and says whether a key was already there', () => {
    const door = new Doorkeeper(8192);
    expect(door.add(...h('a'))).toBe(false);
    expect(door.add(...h('a'))).toBe(true);
    for (let i = 0; i < 500; i++) door.add(...h(`k${i}`));
    for (let i = 0; i < 500; i++) expect(door.has(...h(`k${i}`))).toBe(true);
  });

  it('rarely claims a key it never saw at a moderate fill', () => {
    const door = new Doorkeeper(8192);
    for (let i = 0; i < 1000; i++) door.add(...h(`k${i}`));
    let falsePositives = 0;
    for (let i = 0; i < 10_000; i++) if (door.has(...h(`other${i}`))) falsePositives++;
    // 1000 keys x 2 bits in 8192 bits: theory says ~4.7%.
    expect(falsePositives / 10_000).toBeLessThan(0.08);
  });

  it('clear forgets every key and keeps its fixed size', () => {
    const door = new Doorkeeper(1000);
    door.add(...h('a'));
    door.clear();
    expect(door.has(...h('a'))).toBe(false);
    expect(door.byteLength).toBe(128);
  });
});
