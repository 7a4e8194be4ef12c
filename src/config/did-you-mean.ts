/**
 * Optimal string alignment distance: single-character insertions, deletions, substitutions and swaps of two
 * neighbours (`mdoe` is one edit from `mode`, the commonest typo of all, not two).
 */
export function editDistance(a: string, b: string): number {
  // Three rows: the one before the previous is what a swap of neighbours reads.
  let older: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (older[j - 2] ?? 0) + 1);
      }
      current[j] = best;
    }
    older = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate nearest to `word`, or undefined when none is close enough to be a plausible typo
 * (a suggestion that shares nothing with what was typed only confuses).
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    const longer = Math.max(word.length, candidate.length);
    const shorter = Math.min(word.length, candidate.length);
    const plausible = distance <= Math.max(1, Math.floor(longer / 3)) && distance < shorter;
    if (plausible && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
