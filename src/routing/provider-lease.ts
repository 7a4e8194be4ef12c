import { performance } from 'node:perf_hooks';
import type { CircuitBreaker, Permit } from '../health/circuit-breaker';
import type { AttemptOutcome, HeaderBag } from '../protocol/outcome';
import type { KeyPick } from './key-pool';
import type { PlanStep } from './route-plan';
import type { ProviderRuntime } from './provider-runtime';

/** Where a lease reports what its attempt did (RelayMetrics satisfies it). */
export interface AttemptMetrics {
  attempt(provider: string, outcome: string, latencyMs?: number): void;
  usage(provider: string, input: number, output: number): void;
  fallbackAnswer(rule: string, answered: string, provider?: string): void;
}

/** What {@link ProviderLease.admit} gives the attempt loop. */
export type Admission =
  /** The provider's circuit takes no request now: pass the step over. */
  | { kind: 'refused' }
  /** Every key of the provider is cooling down; the soonest frees up after retryAfterMs. */
  | { kind: 'exhausted'; retryAfterMs: number; allRejected: boolean }
  /** The attempt may be made, with this key of the pool (none: the provider has no keys). */
  | { kind: 'admitted'; key?: { keyId: string; key: string } };

/** What one attempt came to, as the provider's bookkeeping needs it. */
export interface AttemptReport {
  outcome: AttemptOutcome;
  /** The upstream's status and headers, when it answered (the key pool learns rate limits and cooldowns). */
  answer?: { status: number; headers: HeaderBag };
  /** Token usage of a delivered answer that spends tokens (not count_tokens). */
  usage?: { input_tokens: number; output_tokens: number };
  /** The answer reached the client. */
  delivered: boolean;
  /** The attempt timed out on a limit the request's deadline had cut short: the relay's budget, not a failure. */
  cutShort: boolean;
}

/**
 * One attempt's hold on one provider, from `admit()` to `settle()`: the circuit breaker's permit, the key of the
 * pool (its in-flight count and token reservation), the provider's connection count, and the metrics of the
 * attempt — all recorded here, in one place, so the attempt loop never reaches into routing's parts. `release()`
 * (call it in a `finally`) gives back whatever is still held when something threw on the way; nothing is given
 * back twice. This object is also the seam where shared (cluster) state plugs in.
 */
export class ProviderLease {
  private permit: Permit | undefined;
  private permitSettled = false;
  private keyId: string | undefined;
  private keyHeld = false;
  private connected = false;
  private startedAt = 0;

  constructor(
    readonly step: PlanStep,
    readonly runtime: ProviderRuntime,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly metrics: AttemptMetrics,
  ) {}

  get provider(): string {
    return this.runtime.name;
  }

  /** Whether every upstream connection the provider may hold is taken: an attempt now would wait for one. */
  isFull(): boolean {
    return this.runtime.inFlight >= this.runtime.maxConnections;
  }

  /**
   * Takes the breaker's permit and a key for an attempt expected to spend `estimate` input tokens. Refused when the
   * circuit is OPEN (or its HALF_OPEN test slots are taken); exhausted (the permit handed back) when no key is free.
   */
  admit(estimate: number): Admission | Promise<Admission> {
    if (this.breaker) {
      this.permit = this.breaker.tryAcquire();
      if (!this.permit) return { kind: 'refused' };
    }
    // Shared key pools (cluster mode) may ask Redis; a local pool answers at once, without a promise.
    const pick = this.runtime.keys.acquire(estimate);
    return pick instanceof Promise ? pick.then((p) => this.take(p)) : this.take(pick);
  }

  private take(pick: KeyPick): Admission {
    const keys = this.runtime.keys;
    if (pick.kind === 'exhausted') {
      this.settlePermit('ignored');
      return { kind: 'exhausted', retryAfterMs: pick.retryAfterMs, allRejected: keys.allRejected() };
    }
    this.startedAt = performance.now();
    if (pick.kind === 'passthrough') return { kind: 'admitted' };
    this.keyId = pick.keyId;
    this.keyHeld = true;
    return { kind: 'admitted', key: pick };
  }

  /** The attempt takes one of the provider's upstream connections (or waits for one): least_loaded sees it. */
  connect(): void {
    if (this.connected) return;
    this.runtime.inFlight++;
    this.connected = true;
  }

  /** The attempt's exchange with the upstream is over. */
  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.runtime.inFlight--;
  }

  /** The attempt is over: its key's in-flight count and token reservation go back to the pool. */
  returnKey(): void {
    if (!this.keyHeld || this.keyId === undefined) return;
    this.runtime.keys.release(this.keyId);
    this.keyHeld = false;
  }

  /** The provider refused the attempt's key for good (a 402: the account is out of credit): out of rotation. */
  rejectKey(status: number): void {
    if (this.keyId !== undefined) this.runtime.keys.reject(this.keyId, status);
  }

  /** Whether another key of the provider could take an attempt of `estimate` input tokens now. */
  hasOtherKey(estimate: number): boolean {
    return this.runtime.keys.hasAvailableKey(estimate);
  }

  /**
   * Records what the attempt came to: its metrics, the breaker's verdict (the error first, so the log line of a
   * circuit this failure opens names it), what the key's answer says of its limits, the tokens it spent.
   */
  settle(report: AttemptReport): void {
    const { outcome } = report;
    const name = this.runtime.name;
    this.metrics.attempt(name, outcome.kind, performance.now() - this.startedAt);
    if (this.permit && this.breaker && !this.permitSettled) {
      const failure = outcome.breakerFailure && !report.cutShort;
      if (failure) this.breaker.recordError({ status: outcome.status, message: outcome.reason });
      this.settlePermit(outcome.kind === 'success' ? 'success' : failure ? 'failure' : 'ignored');
    }
    const keyId = this.keyId;
    if (keyId !== undefined && report.answer) {
      const keys = this.runtime.keys;
      keys.recordResponse(keyId, report.answer.status, report.answer.headers);
      if (report.delivered && report.usage) {
        keys.recordUsage(keyId, report.usage.input_tokens, report.usage.output_tokens);
      }
    }
    if (report.delivered) {
      if (report.usage) this.metrics.usage(name, report.usage.input_tokens, report.usage.output_tokens);
      if (this.step.fallbackIndex > 0) {
        this.metrics.fallbackAnswer(this.step.fallbackRule ?? 'unknown', this.step.model, name);
      }
    }
  }

  /** Gives back whatever is still held (settled above on every ordinary path): call it in a `finally`. */
  release(): void {
    this.disconnect();
    this.returnKey();
    this.settlePermit('ignored');
  }

  private settlePermit(result: 'success' | 'failure' | 'ignored'): void {
    if (!this.permit || !this.breaker || this.permitSettled) return;
    this.breaker.record(this.permit, result);
    this.permitSettled = true;
  }
}
