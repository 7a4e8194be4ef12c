import type { CaptureBudget } from '../../protocol/capture-budget';

/**
 * The bytes of a stream held for the cache while it is relayed: at most `limitBytes` of its own, and only what the
 * shared budget of all captures in flight lets it take. A stream that outgrows either is relayed as always and
 * just not captured (overflowed: too long to be cached; refused: the budget was spent).
 */
export class StreamCapture {
  /** The captured chunks, undefined when nothing is (or no longer) captured. */
  chunks: Buffer[] | undefined;
  overflowed = false;
  refused = false;
  private bytes = 0;

  constructor(
    private readonly limitBytes: number,
    private readonly budget: CaptureBudget | undefined,
  ) {
    this.chunks = limitBytes > 0 ? [] : undefined;
  }

  /** Holds one more chunk of the stream (the chunk itself, not a copy: the relay never changes it). */
  add(chunk: Buffer): void {
    if (!this.chunks) return;
    if (this.bytes + chunk.length > this.limitBytes) {
      this.drop();
      this.overflowed = true;
    } else if (this.budget && !this.budget.take(chunk.length)) {
      this.drop();
      this.refused = true;
    } else {
      this.bytes += chunk.length;
      this.chunks.push(chunk);
    }
  }

  /** Hands the bytes back to the budget: the stream is over, and what was captured belongs to its result. */
  release(): void {
    this.budget?.give(this.bytes);
    this.bytes = 0;
  }

  private drop(): void {
    this.chunks = undefined;
    this.release();
  }
}
