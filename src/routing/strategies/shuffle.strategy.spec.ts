import { describe, expect, it } from 'vitest';
import { seededRng } from '../../common/rng';
import type { ProviderCandidate, RoutingContext } from './routing-strategy';
import { ShuffleStrategy } from './shuffle.strategy';

const cands = (...names: string[]): ProviderCandidate[] =>
  names.map((name, index) => ({ name, priority: 0, weight: 1, index }));
const ctx = (down: () => string[] = () => []): RoutingContext => ({
  model: 'm',
  isRoutable: (n) => !down().includes(n),
  inFlight: () => 0,
});
const pick = (s: ShuffleStrategy, list: ProviderCandidate[], c = ctx()) => s.order(list, c)[0]!.name;

describe('ShuffleStrategy', () => {
  it('deals every provider once before any repeats, deck after deck', () => {
    const s = new ShuffleStrategy(seededRng(1));
    const list = cands('a', 'b', 'c', 'd', 'e');
    const decks = new Set<string>();
    for (let d = 0; d < 50; d++) {
      const deck = Array.from({ length: 5 }, () => pick(s, list));
      expect([...deck].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      decks.add(deck.join(''));
    }
    // actually shuffled: not the same order every time
    expect(decks.size).toBeGreaterThan(10);
  });

  it('never repeats a provider back to back across decks', () => {
    const s = new ShuffleStrategy(seededRng(2));
    const list = cands('a', 'b', 'c');
    let prev = '';
    for (let i = 0; i < 300; i++) {
      const p = pick(s, list);
      expect(p).not.toBe(prev);
      prev = p;
    }
  });

  it('spreads first picks evenly over many decks', () => {
    const s = new ShuffleStrategy(seededRng(3));
    const list = cands('a', 'b', 'c');
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const p = pick(s, list);
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([1000, 1000, 1000]);
  });

  it('uses the injected randomness (same seed, same sequence)', () => {
    const list = cands('a', 'b', 'c', 'd');
    const run = (seed: number) => {
      const s = new ShuffleStrategy(seededRng(seed));
      return Array.from({ length: 12 }, () => pick(s, list)).join('');
    };
    expect(run(42)).toBe(run(42));
  });

  it('re-deals when the routable set changes, and excludes open circuits', () => {
    const s = new ShuffleStrategy(seededRng(4));
    const list = cands('a', 'b', 'c', 'd');
    let down = ['c'];
    const c = ctx(() => down);
    const first = Array.from({ length: 3 }, () => pick(s, list, c));
    expect([...first].sort()).toEqual(['a', 'b', 'd']);
    down = [];
    pick(s, list, c); // set changed: a fresh 4-card deck begins here
    const rest = Array.from({ length: 3 }, () => pick(s, list, c));
    expect(new Set(rest).size).toBe(3);
  });

  it('lists the rest of the deck as failover order, every routable provider once', () => {
    const s = new ShuffleStrategy(seededRng(5));
    const order = s.order(cands('a', 'b', 'c', 'd'), ctx()).map((c) => c.name);
    expect([...order].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('drains weight 0 and returns nothing when nothing is routable', () => {
    const s = new ShuffleStrategy(seededRng(6));
    const list = [{ name: 'a', priority: 0, weight: 0, index: 0 }, ...cands('x', 'b').slice(1)];
    expect(Array.from({ length: 3 }, () => pick(s, list))).toEqual(['b', 'b', 'b']);
    expect(
      s.order(
        list,
        ctx(() => ['b']),
      ),
    ).toEqual([]);
  });
});
