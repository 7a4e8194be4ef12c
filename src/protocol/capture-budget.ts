/**
 * The bytes all streams being captured for the cache may hold at once. Each stream is bounded on its own (the
 * largest entry); this bounds their sum, so many long cacheable streams in flight cannot grow the relay's memory
 * without limit: a stream that finds the budget spent is relayed as always and just not captured.
 */
export class CaptureBudget {
  private used = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes held by captures in flight. */
  get usedBytes(): number {
    return this.used;
  }

  /** Reserves `bytes` if they fit; false (and nothing reserved) if they do not. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }

  /** Returns bytes reserved with take(). */
  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}
