/**
 * Sums amounts over a trailing time window. Exact (one entry per distinct timestamp), not bucketed, so "requests in
 * the last 60 s" and "when does room free up" have precise answers a fake clock can test.
 * An entry added at t counts while now < t + windowMs.
 */
export class SlidingWindow {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  private sum = 0;

  constructor(readonly windowMs: number) {}

  /** Adds an amount at the given time (times must not go backwards). */
  add(nowMs: number, amount = 1): void {
    this.prune(nowMs);
    const last = this.times.length - 1;
    if (last >= this.head && this.times[last] === nowMs) {
      this.amounts[last] = (this.amounts[last] ?? 0) + amount;
    } else {
      this.times.push(nowMs);
      this.amounts.push(amount);
    }
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
    for (let i = this.head; i < this.times.length; i++) {
      freed += this.amounts[i] ?? 0;
      if (this.sum - freed + needed <= limit) return (this.times[i] ?? nowMs) + this.windowMs - nowMs;
    }
    return Infinity;
  }

  private prune(nowMs: number): void {
    while (this.head < this.times.length && (this.times[this.head] ?? 0) + this.windowMs <= nowMs) {
      this.sum -= this.amounts[this.head] ?? 0;
      this.head++;
    }
    if (this.head === this.times.length) {
      // Empty: start over, which also wipes any floating-point drift the running sum collected.
      this.times = [];
      this.amounts = [];
      this.head = 0;
      this.sum = 0;
    } else if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
  }
}
