import { createHmac, randomBytes } from 'node:crypto';

/**
 * A set of secrets (the relay's client API keys) that answers "which one is this?" with one lookup, whatever the
 * number of secrets, without timing revealing a secret. Every secret and every candidate is reduced to its
 * HMAC-SHA256 under a random key made per process, and the candidate's digest is looked up in a Map. The digest of
 * a wrong candidate is unpredictable without that key, so how far a hash-table lookup (or a string comparison
 * inside it) gets before it misses says nothing about any secret's bytes or length; every digest has one length.
 * The cost is one HMAC per check: the former way, `timingSafeEqual` against every secret, grew with the number of
 * keys (50,000 keys: ~240 requests/s, unauthenticated ones included). See docs/benchmarks.md.
 *
 * The HMAC (~15 µs and an Hmac object per call, most of the relay's per-request crypto) is skipped for a
 * candidate that matched recently: the last few accepted candidates are remembered by value. A wrong candidate
 * still takes the HMAC path, so a lookup's timing only ever tells apart "exactly an accepted key" (which the answer
 * says anyway) from everything else; nothing is remembered about a candidate that matched no secret.
 */
/** How many accepted candidates a SecretSet remembers (more distinct keys in use than this: HMAC as before). */
const RECENT_CANDIDATES = 256;

export class SecretSet {
  private readonly hmacKey = randomBytes(32);
  /** Digest (base64) → index of the first secret with it. */
  private readonly index = new Map<string, number>();
  private readonly count: number;
  /** Recently accepted candidates → their index; cleared when full (a bound, not an LRU: keys in use refill it). */
  private readonly recent = new Map<string, number>();

  constructor(secrets: readonly string[]) {
    this.count = secrets.length;
    secrets.forEach((s, i) => {
      const d = this.digest(s);
      if (!this.index.has(d)) this.index.set(d, i);
    });
  }

  get size(): number {
    return this.count;
  }

  /** The index of the secret equal to `candidate`, or -1. */
  indexOf(candidate: string): number {
    if (this.count === 0) return -1;
    const seen = this.recent.get(candidate);
    if (seen !== undefined) return seen;
    const found = this.index.get(this.digest(candidate)) ?? -1;
    if (found !== -1) {
      if (this.recent.size >= RECENT_CANDIDATES) this.recent.clear();
      this.recent.set(candidate, found);
    }
    return found;
  }

  private digest(value: string): string {
    return createHmac('sha256', this.hmacKey).update(value, 'utf8').digest('base64');
  }
}
