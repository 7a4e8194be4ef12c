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

/**
 * The cluster's circuit of a provider (`cluster.mode: redis`), as src/cluster reads it from Redis. `state` is the
 * stored one: an OPEN whose retry_at has passed is HALF_OPEN, here as in the breaker.
 */
export interface SharedBreakerView {
  state: BreakerState;
  /** Bumped by every shared transition; a view with a lower epoch than one already adopted is stale. */
  epoch: number;
  failures: number;
  openedAt: number | null;
  retryAt: number | null;
  openMs: number | null;
  reopens: number;
  forced: boolean;
  successes: number;
  reason: TransitionReason | null;
  /** The replica that caused the last transition (saw the last failure, forced it…). */
  by: string | null;
  detail: string | null;
}

/**
 * Where a breaker counts with the other replicas (src/cluster). Each call answers the shared state after the
 * change, or undefined when Redis could not be asked within its timeout: the breaker then decides alone, as it does
 * whenever `active()` is false. Reads (routing) never wait for Redis: HALF_OPEN test permits are reserved ahead.
 */
export interface BreakerLink {
  /** Whether the cluster decides now (Redis reachable). */
  active(): boolean;
  /** A failure; `probe` is the HALF_OPEN permit it used. */
  failure(probe: string | undefined): Promise<SharedBreakerView | undefined>;
  /**
   * A success. For a normal request: undefined (no promise, nothing sent) when the shared count is known to be zero
   * already, the steady state, so a success costs no round trip.
   */
  success(probe: string | undefined): Promise<SharedBreakerView | undefined> | undefined;
  /** A HALF_OPEN permit given back without a verdict (client cancel, 4xx). */
  release(probe: string): void;
  /** Takes the cluster-wide HALF_OPEN permit reserved for this replica; when there is none, asks for one. */
  takeProbe(): string | undefined;
  /** Whether a permit is reserved (asks for one when not). */
  hasProbe(): boolean;
  probeSucceeded(): Promise<SharedBreakerView | undefined>;
  forceOpen(durationMs: number, reason: string): Promise<SharedBreakerView | undefined>;
  reset(): Promise<SharedBreakerView | undefined>;
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
    /** The cluster-wide HALF_OPEN permit it holds (cluster mode). */
    readonly ticket?: string,
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
  /** Cluster mode: where counting is shared (undefined: this replica alone). */
  private link: BreakerLink | undefined;
  /** The epoch of the last shared state adopted. */
  private sharedEpoch = 0;
  /** A transition was decided here while the cluster could not be asked (resynchronised when Redis returns). */
  private decidedAlone = false;

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

  /** Shares this breaker's counting with the other replicas (cluster.mode: redis); undefined detaches. */
  attach(link: BreakerLink | undefined): void {
    this.link = link;
  }

  /** The settings in force (the cluster link reads thresholds and durations from them). */
  get settings(): CircuitBreakerConfig {
    return this.config;
  }

  /** Whether a transition was decided here alone since the last shared state was adopted. */
  get divergedWhileAlone(): boolean {
    return this.decidedAlone;
  }

  /**
   * Takes the cluster's state (a script's answer, a pub/sub message, a periodic read). Older epochs are ignored;
   * the same epoch only updates the shared failure count; a newer one becomes the state here, with the
   * transition emitted as if it had happened here (from this breaker's state), and its permits from before void.
   */
  adopt(view: SharedBreakerView, resync = false): void {
    if (view.epoch < this.sharedEpoch) return;
    this.refresh();
    // resync: Redis is back and this replica decided alone meanwhile; the cluster's state wins even unchanged.
    if (view.epoch === this.sharedEpoch && !(resync && this.decidedAlone)) {
      if (this.current === 'closed' && view.state === 'closed') this.consecutiveFailures = view.failures;
      return;
    }
    this.sharedEpoch = view.epoch;
    this.decidedAlone = false;
    const from = this.current;
    this.current = view.state;
    this.consecutiveFailures = view.failures;
    this.openedAt = view.openedAt;
    this.retryAt = view.state === 'open' ? view.retryAt : null;
    if (view.openMs !== null) this.currentOpenMs = view.openMs;
    this.reopens = view.reopens;
    this.forced = view.state === 'open' && view.forced;
    this.halfOpenSuccesses = view.successes;
    if (from !== view.state) {
      this.generation += 1;
      this.halfOpenInFlight = 0;
      const detail = view.detail ?? undefined;
      this.emit({
        from,
        to: view.state,
        reason: view.reason ?? 'reset',
        at: this.clock.now(),
        ...(detail === undefined ? {} : { detail }),
      });
    }
    this.refresh();
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
    if (this.current === 'half_open' && this.link?.active()) {
      const ticket = this.link.takeProbe();
      if (ticket === undefined) return undefined;
      this.halfOpenInFlight += 1;
      return new IssuedPermit('probe', this, this.generation, ticket);
    }
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
    if (this.link?.active() && (permit.kind === 'normal' || permit.ticket !== undefined)) {
      this.recordShared(this.link, permit, result);
      return;
    }
    if (this.link) {
      // Cluster mode without Redis: decided here alone, resynchronised when Redis returns.
      this.recordLocally(permit, result);
      if (permit.generation !== this.generation) this.decidedAlone = true;
      return;
    }
    this.recordLocally(permit, result);
  }

  private recordLocally(permit: IssuedPermit, result: BreakerResult): void {
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

  /**
   * Cluster mode: the count moves here at once (so this replica's view is current), the cluster decides the
   * transition, and its answer is adopted; without an answer in time the breaker decides as it would alone.
   * A success costs no round trip unless the shared failure count is non-zero.
   */
  private recordShared(link: BreakerLink, permit: IssuedPermit, result: BreakerResult): void {
    const generation = this.generation;
    const adoptOr = (local: () => void) => (view: SharedBreakerView | undefined) => {
      if (view !== undefined) this.adopt(view);
      else if (generation === this.generation) local();
    };
    if (permit.kind === 'probe') {
      const ticket = permit.ticket as string;
      this.halfOpenInFlight -= 1;
      if (result === 'ignored') {
        link.release(ticket);
      } else if (result === 'success') {
        this.halfOpenSuccesses += 1;
        void (link.success(ticket) ?? Promise.resolve(undefined)).then(
          adoptOr(() => {
            if (this.halfOpenSuccesses >= this.config.half_open_probes)
              this.closeAlone('half_open_succeeded');
          }),
        );
      } else {
        void link.failure(ticket).then(
          adoptOr(() => {
            this.consecutiveFailures += 1;
            this.reopens += 1;
            this.decidedAlone = true;
            this.open(openDurationMs(this.config, this.reopens), 'half_open_failure', false);
          }),
        );
      }
      return;
    }
    if (result === 'success') {
      this.consecutiveFailures = 0;
      void link.success(undefined)?.then((view) => {
        if (view !== undefined) this.adopt(view);
      });
    } else if (result === 'failure') {
      this.consecutiveFailures += 1;
      void link.failure(undefined).then(
        adoptOr(() => {
          if (this.current === 'closed' && this.consecutiveFailures >= this.config.failure_threshold) {
            this.decidedAlone = true;
            this.open(openDurationMs(this.config, this.reopens), 'failure_threshold', false);
          }
        }),
      );
    }
  }

  private closeAlone(reason: TransitionReason): void {
    this.decidedAlone = true;
    this.close(reason);
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
    this.share((link) => link.forceOpen(durationMs, reason));
  }

  /** Manual recovery: CLOSED with a clean failure count. Requests admitted before the reset no longer count. */
  reset(): void {
    this.refresh();
    this.close('reset');
    this.share((link) => link.reset());
  }

  /** Cluster mode: an operator action taken here at once goes to the cluster too; alone, it is remembered. */
  private share(action: (link: BreakerLink) => Promise<SharedBreakerView | undefined>): void {
    if (!this.link?.active()) {
      if (this.link) this.decidedAlone = true;
      return;
    }
    void action(this.link).then((view) => {
      if (view !== undefined) this.adopt(view);
      else this.decidedAlone = true;
    });
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
    const link = this.link;
    if (link?.active()) {
      const generation = this.generation;
      void link.probeSucceeded().then((view) => {
        if (view !== undefined) this.adopt(view);
        else if (generation === this.generation && this.current === 'open' && !this.forced) {
          this.decidedAlone = true;
          this.halfOpen('probe_succeeded');
        }
      });
      return;
    }
    if (link) this.decidedAlone = true;
    this.halfOpen('probe_succeeded');
  }

  /** Whether routing may pick this provider now: CLOSED, or HALF_OPEN with a free test slot. */
  isRoutable(): boolean {
    this.refresh();
    if (this.current === 'closed') return true;
    if (this.current !== 'half_open') return false;
    if (this.link?.active()) return this.link.hasProbe();
    return this.hasProbeSlot();
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
