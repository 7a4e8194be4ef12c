const INITIAL_CAPACITY = 64;

/**
 * Sums amounts over a trailing time window. Exact (one entry per distinct timestamp), not bucketed, so "requests in
 * the last 60 s" and "when does room free up" have precise answers a fake clock can test.
 * An entry added at t counts while now < t + windowMs.
 *
 * The entries live in a ring of two Float64Arrays that only grows (doubling, up to the most distinct timestamps
 * the window ever held: at most windowMs entries). An earlier version kept plain arrays and sliced them as entries
 * expired; at a few thousand requests per second those were large-object allocations, each an mmap, several per
 * second per window.
 */
export class SlidingWindow {
  private times = new Float64Array(INITIAL_CAPACITY);
  private amounts = new Float64Array(INITIAL_CAPACITY);
  /** Index of the oldest entry. */
  private head = 0;
  private count = 0;
  private sum = 0;

  constructor(readonly windowMs: number) {}

  /** Adds an amount at the given time (times must not go backwards). */
  add(nowMs: number, amount = 1): void {
    this.prune(nowMs);
    if (this.count > 0) {
      const last = this.index(this.count - 1);
      if (this.times[last] === nowMs) {
        this.amounts[last] = this.amounts[last]! + amount;
        this.sum += amount;
        return;
      }
    }
    if (this.count === this.times.length) this.grow();
    const at = this.index(this.count);
    this.times[at] = nowMs;
    this.amounts[at] = amount;
    this.count++;
    this.sum += amount;
  }

  /** The sum of the amounts still inside the window. */
  total(nowMs: number): number {
    this.prune(nowMs);
    return this.sum;
  }

  /**
   * Milliseconds until `total + needed <= limit` holds by expiry alone: 0 if it holds now, Infinity if even an empty
   * window is not enough (needed > limit).
   */
  msUntilFits(nowMs: number, limit: number, needed: number): number {
    this.prune(nowMs);
    if (this.sum + needed <= limit) return 0;
    if (needed > limit) return Infinity;
    let freed = 0;
    for (let i = 0; i < this.count; i++) {
      const at = this.index(i);
      freed += this.amounts[at]!;
      if (this.sum - freed + needed <= limit) return this.times[at]! + this.windowMs - nowMs;
    }
    return Infinity;
  }

  /** The ring position of the i-th oldest entry. */
  private index(i: number): number {
    const at = this.head + i;
    return at < this.times.length ? at : at - this.times.length;
  }

  private prune(nowMs: number): void {
    while (this.count > 0 && this.times[this.head]! + this.windowMs <= nowMs) {
      this.sum -= this.amounts[this.head]!;
      this.head = this.head + 1 === this.times.length ? 0 : this.head + 1;
      this.count--;
    }
    if (this.count === 0) {
      // Empty: start over, which also wipes any floating-point drift the running sum collected.
      this.head = 0;
      this.sum = 0;
    }
  }

  /** Doubles the ring, oldest entry first. */
  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    const amounts = new Float64Array(this.times.length * 2);
    for (let i = 0; i < this.count; i++) {
      const at = this.index(i);
      times[i] = this.times[at]!;
      amounts[i] = this.amounts[at]!;
    }
    this.times = times;
    this.amounts = amounts;
    this.head = 0;
  }
}
