import {
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/**
 * Smooth weighted round robin (the nginx algorithm): every pick adds each provider's weight to its running score,
 * picks the highest score and subtracts the total weight from it. Weights 3:1 give A A B A, interleaved, instead of
 * A A A B bursts, and over one cycle of sum(weights) picks each provider gets exactly its weight.
 */
export class WeightedRoundRobinStrategy implements RoutingStrategy {
  readonly name = 'weighted_round_robin';
  private scores = new Map<string, number>();
  private setKey = '';

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    const ring = eligible(candidates, ctx);
    if (ring.length === 0) return [];
    const key = ring.map((c) => `${c.name}:${c.weight}`).join('|');
    if (key !== this.setKey) {
      // A changed set (a circuit opened, a weight was edited) starts a fresh cycle: old scores were earned against
      // a total that no longer holds.
      this.scores = new Map();
      this.setKey = key;
    }
    let total = 0;
    for (const c of ring) {
      total += c.weight;
      this.scores.set(c.name, (this.scores.get(c.name) ?? 0) + c.weight);
    }
    const score = (c: ProviderCandidate): number => this.scores.get(c.name) ?? 0;
    // Highest score first; config order breaks ties. The pick then pays the total back.
    const ranked = [...ring].sort((a, b) => score(b) - score(a) || a.index - b.index);
    const pick = ranked[0]!;
    this.scores.set(pick.name, score(pick) - total);
    return ranked;
  }
}
