import type { Rng } from '../../common/rng';
import {
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/**
 * Deals a shuffled deck of the routable providers: each one is picked once before any repeats, then a new deck is
 * dealt. A change of the routable set re-deals, so a provider coming back is not left waiting for the next deck.
 */
export class ShuffleStrategy implements RoutingStrategy {
  readonly name = 'shuffle';
  private deck: string[] = [];
  private position = 0;
  private setKey = '';
  private lastDealt: string | undefined;

  constructor(private readonly rng: Rng) {}

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    const pool = eligible(candidates, ctx);
    if (pool.length === 0) return [];
    const key = pool.map((c) => c.name).join('|');
    if (key !== this.setKey || this.position >= this.deck.length) {
      this.deal(pool.map((c) => c.name));
      this.setKey = key;
    }
    const byName = new Map(pool.map((c) => [c.name, c]));
    const pick = this.deck[this.position]!;
    this.position++;
    this.lastDealt = pick;
    // Failover goes through the rest of the deck, then the cards already dealt.
    const rest = [...this.deck.slice(this.position), ...this.deck.slice(0, this.position - 1)];
    return [pick, ...rest].map((name) => byName.get(name)!);
  }

  private deal(names: string[]): void {
    for (let i = names.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng() * (i + 1));
      [names[i], names[j]] = [names[j]!, names[i]!];
    }
    // Without this a new deck could open with the card that closed the last one: the same provider twice in a row.
    if (names.length > 1 && names[0] === this.lastDealt) {
      const j = 1 + Math.floor(this.rng() * (names.length - 1));
      [names[0], names[j]] = [names[j]!, names[0]!];
    }
    this.deck = names;
    this.position = 0;
  }
}
