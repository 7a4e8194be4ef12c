import { createHmac, randomBytes } from 'node:crypto';

/**
 * A set of secrets (the relay's client API keys) that answers "which one is this?" with one lookup, whatever the
 * number of secrets, without timing revealing a secret. Every secret and every candidate is reduced to its
 * HMAC-SHA256 under a random key made per process, and the candidate's digest is looked up in a Map. The digest of
 * a wrong candidate is unpredictable without that key, so how far a hash-table lookup (or a string comparison
 * inside it) gets before it misses says nothing about any secret's bytes or length; every digest has one length.
 * The cost is one HMAC per check: the former way, `timingSafeEqual` against every secret, grew with the number of
 * keys (50,000 keys: ~240 requests/s, unauthenticated ones included). See docs/benchmarks.md.
 */
export class SecretSet {
  private readonly hmacKey = randomBytes(32);
  /** Digest (base64) → index of the first secret with it. */
  private readonly index = new Map<string, number>();
  private readonly count: number;

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
    return this.index.get(this.digest(candidate)) ?? -1;
  }

  private digest(value: string): string {
    return createHmac('sha256', this.hmacKey).update(value, 'utf8').digest('base64');
  }
}
