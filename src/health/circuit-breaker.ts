import type { Clock } from '../common/clock';
import type { CircuitBreakerConfig } from '../config/relay-config';

/** The three states of the spec's state machine (the admin API and metrics use these exact strings). */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** How one admitted request ended, as far as the provider's health is concerned. */
export type BreakerResult = 'success' | 'failure' | 'ignored';

/** Why a transition happened; logs and metrics label with it. */
export type TransitionReason =
  | 'failure_threshold'
  | 'half_open_failure'
  | 'open_duration_elapsed'
  | 'probe_succeeded'
  | 'half_open_succeeded'
  | 'forced_open'
  | 'reset';

/** One observed transition. `from === to` only for operator actions on a breaker already in that state. */
export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  reason: TransitionReason;
  /** Epoch milliseconds from the injected clock. */
  at: number;
  /** The operator's reason for forceOpen(). */
  detail?: string;
}

/** The last upstream error worth showing an operator. */
export interface BreakerErrorInfo {
  status?: number;
  message: string;
}

/** A breaker as the admin API and GET /health show it. Times are ISO strings. */
export interface BreakerSnapshot {
  state: BreakerState;
  consecutive_failures: number;
  opened_at: string | null;
  retry_at: string | null;
  half_open_in_flight: number;
  half_open_successes: number;
  last_error: { status?: number; message: string; at: string } | null;
  forced: boolean;
  /**
   * While OPEN: how long this open period lasts. Otherwise: how long the next one will (it doubles on every re-open
   * from HALF_OPEN, up to the cap, and a close brings it back to open_duration_ms).
   */
  open_duration_ms: number;
  /** Re-opens from HALF_OPEN since the circuit last closed: the exponent of the open duration's growth. */
  reopens: number;
}

/**
 * The open duration after `reopens` re-opens in a row, as Envoy's outlier detection grows its ejection time:
 * `base × 2^reopens`, capped at `max_open_duration_ms`, or at the base itself when that is the larger (so a cap
 * below a long open_duration_ms never shortens it).
 */
export function openDurationMs(
  config: Pick<CircuitBreakerConfig, 'open_duration_ms' | 'max_open_duration_ms'>,
  reopens: number,
): number {
  const base = config.open_duration_ms;
  const cap = Math.max(base, config.max_open_duration_ms);
  // 2^31 already exceeds any cap a timer allows; stop doubling there rather than overflow to Infinity.
  return Math.min(cap, base * 2 ** Math.min(Math.max(0, reopens), 31));
}

/** Proof that the breaker admitted one request; hand it back to record() exactly once. */
export interface Permit {
  /** 'probe' when the request was admitted as one of the HALF_OPEN test requests. */
  readonly kind: 'normal' | 'probe';
}

class IssuedPermit implements Permit {
  settled = false;

  constructor(
    readonly kind: 'normal' | 'probe',
    readonly owner: CircuitBreaker,
    readonly generation: number,
  ) {}
}

/**
 * A per-provider circuit breaker on consecutive failures (spec: health-and-circuit-breaker.md).
 *
 * Time is read from the injected clock and every time-driven change (OPEN → HALF_OPEN) is evaluated lazily when
 * the breaker is touched, so there are no timers to leak or to fake in tests.
 *
 * Each state period has a generation number stamped on the permits issued in it. An outcome reported on a permit
 * from an earlier period no longer changes the state: it describes the provider as it was when that request was
 * admitted, so a stream that started before the outage cannot reopen a circuit under test, and a success that
 * started before the circuit opened cannot close it.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private generation = 0;
  private consecutiveFailures = 0;
  private openedAt: number | null = null;
  private retryAt: number | null = null;
  private halfOpenInFlight = 0;
  private halfOpenSuccesses = 0;
  private lastError: { status?: number; message: string; at: number } | null = null;
  private forced = false;
  /** Re-opens from HALF_OPEN since the last close; the open duration doubles with each. */
  private reopens = 0;
  /** Length of the current (or last) open period. */
  private currentOpenMs: number;
  private readonly listeners: Array<(transition: BreakerTransition) => void> = [];

  constructor(
    private config: CircuitBreakerConfig,
    private readonly clock: Clock,
  ) {
    this.currentOpenMs = config.open_duration_ms;
  }

  /**
   * New settings from a config reload: the state (an OPEN circuit and when it retries, the failure count) stays;
   * thresholds and durations apply from the next decision.
   */
  reconfigure(config: CircuitBreakerConfig): void {
    this.config = config;
  }

  /** The current state, after applying an elapsed open timer. */
  get state(): BreakerState {
    this.refresh();
    return this.current;
  }

  /**
   * Admits one request, or refuses it so the router sends it elsewhere: always in CLOSED, never in OPEN, and in
   * HALF_OPEN only while it has a free test slot (see hasProbeSlot).
   */
  tryAcquire(): Permit | undefined {
    this.refresh();
    if (this.current === 'closed') return new IssuedPermit('normal', this, this.generation);
    if (this.current === 'half_open' && this.hasProbeSlot()) {
      this.halfOpenInFlight += 1;
      return new IssuedPermit('probe', this, this.generation);
    }
    return undefined;
  }

  /** Reports how an admitted request ended. A permit counts once; later calls with it are ignored. */
  record(permit: Permit, result: BreakerResult): void {
    if (!(permit instanceof IssuedPermit) || permit.owner !== this || permit.settled) return;
    permit.settled = true;
    this.refresh();
    if (permit.generation !== this.generation) return;

    if (permit.kind === 'probe') {
      this.halfOpenInFlight -= 1;
      if (result === 'success') {
        this.halfOpenSuccesses += 1;
        if (this.halfOpenSuccesses >= this.config.half_open_probes) this.close('half_open_succeeded');
      } else if (result === 'failure') {
        this.consecutiveFailures += 1;
        // The provider was given its open duration and failed again: back off longer (Envoy's ejection time
        // grows the same way), so an outage that outlasts it costs fewer and fewer failed test requests.
        this.reopens += 1;
        this.open(openDurationMs(this.config, this.reopens), 'half_open_failure', false);
      }
      return;
    }

    if (result === 'success') {
      this.consecutiveFailures = 0;
    } else if (result === 'failure') {
      this.consecutiveFailures += 1;
      if (this.consecutiveFailures >= this.config.failure_threshold) {
        this.open(openDurationMs(this.config, this.reopens), 'failure_threshold', false);
      }
    }
  }

  /** Keeps the last upstream error for operators; it does not change the state. */
  recordError(info: BreakerErrorInfo): void {
    this.lastError = { ...info, at: this.clock.now() };
  }

  /**
   * Admin failover drill: OPEN for `durationMs` whatever the provider's health (health probes do not shorten it),
   * then HALF_OPEN as usual.
   */
  forceOpen(durationMs: number, reason: string): void {
    if (!Number.isFinite(durationMs) || durationMs <= 0) {
      throw new RangeError(`forceOpen duration must be a positive number of milliseconds, got ${durationMs}`);
    }
    this.refresh();
    this.open(durationMs, 'forced_open', true, reason);
  }

  /** Manual recovery: CLOSED with a clean failure count. Requests admitted before the reset no longer count. */
  reset(): void {
    this.refresh();
    this.close('reset');
  }

  /** Forgets the last upstream error (admin reset); returns whether there was one. */
  clearLastError(): boolean {
    const had = this.lastError !== null;
    this.lastError = null;
    return had;
  }

  /** The health job saw the provider answer: OPEN → HALF_OPEN before the open timer ends. No-op otherwise. */
  markProbeSucceeded(): void {
    this.refresh();
    if (this.current !== 'open' || this.forced) return;
    this.halfOpen('probe_succeeded');
  }

  /** Whether routing may pick this provider now: CLOSED, or HALF_OPEN with a free test slot. */
  isRoutable(): boolean {
    this.refresh();
    if (this.current === 'closed') return true;
    return this.current === 'half_open' && this.hasProbeSlot();
  }

  /** CLOSED with no failure since its last success: a provider the relay has no reason to think is struggling. */
  isFresh(): boolean {
    this.refresh();
    return this.current === 'closed' && this.consecutiveFailures === 0;
  }

  /**
   * HALF_OPEN admits `half_open_probes` test requests in all (spec: the probes allowed while half-open), and as
   * many successes close it: a probe that succeeded keeps its slot, one in flight holds it, and only a probe that
   * ended without a verdict (a client cancel, a 4xx) gives it back. So a provider under test never carries more
   * than `half_open_probes` requests, and none beyond those its closing still needs.
   */
  private hasProbeSlot(): boolean {
    return this.halfOpenInFlight + this.halfOpenSuccesses < this.config.half_open_probes;
  }

  /** The state as the admin API and GET /health show it. */
  snapshot(): BreakerSnapshot {
    this.refresh();
    return {
      state: this.current,
      consecutive_failures: this.consecutiveFailures,
      opened_at: isoOrNull(this.openedAt),
      retry_at: this.current === 'open' ? isoOrNull(this.retryAt) : null,
      half_open_in_flight: this.halfOpenInFlight,
      half_open_successes: this.halfOpenSuccesses,
      last_error: this.lastError
        ? { ...this.lastError, at: new Date(this.lastError.at).toISOString() }
        : null,
      forced: this.forced,
      open_duration_ms:
        this.current === 'open'
          ? this.currentOpenMs
          : openDurationMs(this.config, this.reopens + (this.current === 'half_open' ? 1 : 0)),
      reopens: this.reopens,
    };
  }

  /** Subscribes to transitions; returns the unsubscribe function. */
  onTransition(listener: (transition: BreakerTransition) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  private refresh(): void {
    if (this.current === 'open' && this.retryAt !== null && this.clock.now() >= this.retryAt) {
      this.halfOpen('open_duration_elapsed');
    }
  }

  private open(durationMs: number, reason: TransitionReason, forced: boolean, detail?: string): void {
    const from = this.current;
    const now = this.clock.now();
    this.current = 'open';
    this.generation += 1;
    this.openedAt = now;
    this.retryAt = now + durationMs;
    this.currentOpenMs = durationMs;
    this.halfOpenInFlight = 0;
    this.halfOpenSuccesses = 0;
    this.forced = forced;
    this.emit({ from, to: 'open', reason, at: now, ...(detail === undefined ? {} : { detail }) });
  }

  private halfOpen(reason: TransitionReason): void {
    const from = this.current;
    this.current = 'half_open';
    this.generation += 1;
    this.retryAt = null;
    this.halfOpenInFlight = 0;
    this.halfOpenSuccesses = 0;
    this.forced = false;
    this.emit({ from, to: 'half_open', reason, at: this.clock.now() });
  }

  private close(reason: TransitionReason): void {
    const from = this.current;
    this.current = 'closed';
    this.generation += 1;
    this.consecutiveFailures = 0;
    this.reopens = 0;
    this.openedAt = null;
    this.retryAt = null;
    this.halfOpenInFlight = 0;
    this.halfOpenSuccesses = 0;
    this.forced = false;
    this.emit({ from, to: 'closed', reason, at: this.clock.now() });
  }

  private emit(transition: BreakerTransition): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(transition);
      } catch {
        // Observers (metrics, logs) must never change routing: a throwing listener loses only its own event.
      }
    }
  }
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
