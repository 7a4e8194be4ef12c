import {
  eligible,
  type ProviderCandidate,
  type RoutingContext,
  type RoutingStrategy,
} from './routing-strategy';

/** Scores closer than this are a tie (they are floating-point sums of weight shares), broken by config order. */
const TIE = 1e-9;

/**
 * Smooth weighted round robin (the nginx algorithm): every pick adds each provider's weight to its running score,
 * picks the highest score and subtracts the total weight from it. Weights 3:1 give A A B A, interleaved, instead of
 * A A A B bursts, and over one cycle of sum(weights) picks each provider gets exactly its weight.
 *
 * One instance serves every model, and each model has its own candidates (providers list different `models`), so
 * scores are kept per provider name, not per candidate set: a call adds weight only to its own candidates and the
 * pick pays back the total of that call's candidates. A provider keeps what it earned while requests for models it
 * does not serve pass it by, and with mixed traffic each provider gets a share in proportion to its weight among the
 * requests it can serve. Scores are kept in picks (a candidate earns weight / total of the call, the pick pays 1),
 * which on a fixed set is the same algorithm scaled: in weight units, credit earned against a large total would buy
 * a burst of picks where the total is small.
 *
 * A provider left out while it was a candidate (its circuit open, or drained to weight 0) comes back with its credit
 * dropped (a score above 0 becomes 0, a debt stays), so a return never starts with a burst.
 */
export class WeightedRoundRobinStrategy implements RoutingStrategy {
  readonly name = 'weighted_round_robin';
  /** Running score by provider name. Only candidates' names enter, and those come from the config. */
  private scores = new Map<string, number>();
  /** Names left out while they were candidates: their credit is dropped when they are next eligible. */
  private excluded = new Set<string>();

  /** A guard, not a working limit: past this many names (a config has a handful) the scores start over. */
  constructor(private readonly limit = 1024) {}

  order(candidates: readonly ProviderCandidate[], ctx: RoutingContext): ProviderCandidate[] {
    const ring = eligible(candidates, ctx);
    if (ring.length < candidates.length) {
      const routable = new Set(ring.map((c) => c.name));
      for (const c of candidates) if (!routable.has(c.name)) this.excluded.add(c.name);
    }
    if (ring.length === 0) return [];
    if (this.scores.size + this.excluded.size > this.limit) {
      this.scores = new Map();
      this.excluded = new Set();
    }
    let total = 0;
    for (const c of ring) total += c.weight;
    for (const c of ring) {
      let score = this.scores.get(c.name) ?? 0;
      if (this.excluded.delete(c.name)) score = Math.min(score, 0);
      this.scores.set(c.name, score + c.weight / total);
    }
    const score = (c: ProviderCandidate): number => this.scores.get(c.name) ?? 0;
    // Highest score first; config order breaks ties. The pick then pays back this call's total.
    const ranked = [...ring].sort((a, b) => {
      const d = score(b) - score(a);
      return d > TIE || d < -TIE ? d : a.index - b.index;
    });
    const pick = ranked[0]!;
    this.scores.set(pick.name, score(pick) - 1);
    return ranked;
  }
}
