import type { Clock } from '../common/clock';
import { SlidingWindow } from './sliding-window';

/** Tuning of a {@link RetryBudget} beyond its ratio. */
export interface RetryBudgetOptions {
  /** The trailing window both counts cover. */
  windowMs?: number;
  /** Retries always allowed per window, so a quiet relay can still retry a lone failed request. */
  minRetries?: number;
}

/** The budget's counts as the admin API or a log line shows them. */
export interface RetryBudgetSnapshot {
  requests: number;
  retries: number;
  allowed: number;
}

/** Default window: long enough to smooth bursts, short enough that an outage's retries stop within seconds. */
export const DEFAULT_RETRY_BUDGET_WINDOW_MS = 10_000;
/**
 * Default floor: retries (failovers included) always allowed per window. Envoy's floor is 3 retries in flight;
 * per 10 s window 3 was too few for a quiet relay, whose first failovers of an outage (before the breaker opens,
 * and after each failed half-open test) would have leaked the failing provider's 5xx to clients. 10 per 10 s is
 * at most one extra upstream attempt per second in a storm.
 */
export const DEFAULT_MIN_RETRIES = 10;

/**
 * Caps retries at a share of live traffic so an outage never multiplies upstream load (Envoy's retry budget, the
 * SRE book's per-client retry ratio).
 *
 * The rule: over the trailing window, a retry is granted when, counting it,
 * `retries <= max(minRetries, ratio * requests)`. Every granted retry is counted at once; a refused one is not.
 * With ratio 0.2 and 100 client requests in the last 10 s, at most 20 retries happen in those 10 s; with 2 requests,
 * the floor still allows 3.
 */
export class RetryBudget {
  private readonly requests: SlidingWindow;
  private readonly retries: SlidingWindow;
  readonly ratio: number;
  private readonly minRetries: number;

  /** `ratio`: retries may add at most this share of client requests (routing.retry.budget_ratio). */
  constructor(
    ratio: number,
    private readonly clock: Clock,
    options: RetryBudgetOptions = {},
  ) {
    const windowMs = options.windowMs ?? DEFAULT_RETRY_BUDGET_WINDOW_MS;
    this.requests = new SlidingWindow(windowMs);
    this.retries = new SlidingWindow(windowMs);
    this.ratio = Math.max(0, ratio);
    this.minRetries = Math.max(0, options.minRetries ?? DEFAULT_MIN_RETRIES);
  }

  /** Counts one client request (not upstream attempts): call once per incoming request. */
  recordRequest(): void {
    this.requests.add(this.clock.now());
  }

  /** Takes one retry from the budget if it has room; false means "do not retry". */
  tryAcquireRetry(): boolean {
    const now = this.clock.now();
    if (this.retries.total(now) + 1 > this.allowedAt(now)) return false;
    this.retries.add(now);
    return true;
  }

  /** The current counts and the number of retries the window allows. */
  snapshot(): RetryBudgetSnapshot {
    const now = this.clock.now();
    return {
      requests: this.requests.total(now),
      retries: this.retries.total(now),
      allowed: this.allowedAt(now),
    };
  }

  private allowedAt(now: number): number {
    return Math.max(this.minRetries, this.ratio * this.requests.total(now));
  }
}
