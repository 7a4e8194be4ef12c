import type { Clock } from './clock';

/**
 * Warnings of one kind at most once per `intervalMs`; the next line that gets through says how many were
 * swallowed in between. For trouble that repeats per request (a cache backend that is down), so the log shows
 * it without one line per request.
 */
export class RateLimitedWarn {
  private readonly lastAt = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  constructor(
    private readonly sink: { warn(message: string): void },
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  warn(kind: string, message: string): void {
    const now = this.clock.now();
    const last = this.lastAt.get(kind);
    if (last !== undefined && now - last < this.intervalMs) {
      this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
      return;
    }
    const swallowed = this.suppressed.get(kind) ?? 0;
    this.lastAt.set(kind, now);
    this.suppressed.set(kind, 0);
    this.sink.warn(swallowed > 0 ? `${message} (${swallowed} similar suppressed)` : message);
  }
}
