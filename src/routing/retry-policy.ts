import type { RetryConfig } from '../config/relay-config';
import { backoffDelayMs } from './backoff';
import type { AttemptOutcome, UpstreamErrorKind } from '../protocol/outcome';
import type { Rng } from '../common/rng';

/** What the attempt loop does next. */
export type RetryAction = 'retry_same' | 'next_key' | 'next_candidate' | 'give_up';

/** Why the loop stops; lets the final answer say whether the client should retry on its own. */
export type GiveUpCause =
  | 'success'
  | 'not_retryable'
  | 'client_cancelled'
  | 'committed'
  | 'no_candidate'
  | 'retry_after_too_long'
  | 'max_attempts'
  | 'deadline'
  | 'budget';

/** The policy's answer: an action, how long to sleep before it, and why. */
export interface RetryDecision {
  action: RetryAction;
  delayMs: number;
  reason: string;
  /** Set when action is give_up. */
  cause?: GiveUpCause;
  /** A move to a fresh provider the retry budget did not pay for (RetryState.freeFailover). */
  free?: boolean;
}

/** The retry settings the policy reads (a RetryConfig satisfies it). */
export type RetrySettings = Pick<RetryConfig, 'base_delay_ms' | 'max_delay_ms' | 'max_retry_after_ms'>;

/** The part of the retry budget the policy needs (a RetryBudget satisfies it). */
export interface RetryBudgetGate {
  tryAcquireRetry(): boolean;
}

/** Everything about the request so far that the decision depends on. */
export interface RetryState {
  /** Upstream attempts made for this request so far, the one just classified included. */
  attemptsMade: number;
  /** routing.retry.max_attempts, or less for this request. */
  maxAttempts: number;
  /** Attempts made on the provider of the attempt just classified, that one included. */
  attemptsOnThisProvider: number;
  /** Another provider or fallback model is still left in the plan. */
  hasOtherCandidate: boolean;
  /**
   * The next candidate is another provider whose circuit is CLOSED with no recent failure, and this request has
   * not made such a move yet: moving there is not a retry of a struggling upstream, so the retry budget does not
   * pay for it (max_attempts and the deadline still bound it). When the budget refuses a retry of this provider,
   * the request moves there instead of failing.
   */
  freeFailover?: boolean;
  /** The same provider has another key usable now (the caller has already cooled the one that got the 429). */
  hasOtherKeyOnProvider: boolean;
  /** Time left of the request's deadline. */
  deadlineRemainingMs: number;
  /** Bytes were already sent to the client: nothing may be replayed. */
  committed: boolean;
  /** Retries made for this request so far (0 before the first): the backoff exponent. */
  retryIndex: number;
  budget: RetryBudgetGate;
  config: RetrySettings;
  rng: Rng;
}

/** Transport failures that move a request to the next candidate without a retry on the same provider. */
const FAIL_OVER_AT_ONCE = new Set<UpstreamErrorKind>([
  'connect_refused',
  'connect_timeout',
  'dns',
  'headers_timeout',
  'pool_timeout',
  'ttft_timeout',
]);

/** Attempts on one provider before a transient failure moves the request on: one retry, then fail over. */
export const MAX_ATTEMPTS_PER_PROVIDER = 2;

/**
 * Decides what follows an attempt:
 * - success, permanent, client_cancelled, or anything after bytes reached the client: give up (the answer, or the
 *   error, goes to the client as it is);
 * - transient: retry the same provider after jittered backoff while it has had fewer than 2 attempts, then fail over
 *   to the next candidate at once;
 * - unsupported (the provider lacks the endpoint): the next candidate at once, without asking the retry budget;
 *   with none left its answer goes to the client;
 * - key_rejected (the provider refused the relay's own key, which the pool has parked): the next key, else the next
 *   candidate, at once;
 * - rate_limited: the next key of the provider at once, else the next candidate at once; with neither, sleep the
 *   retry-after if it is at most max_retry_after_ms (a longer one means the quota is gone), or back off
 *   exponentially when there is no retry-after (at least half of base * 2^(retryIndex+1)), never hammering.
 * Every retry also needs attemptsMade < maxAttempts, a delay shorter than the deadline's remainder, and a retry
 * from the budget (asked last, so a refused retry never spends it) — except a first move to a fresh provider
 * (state.freeFailover), which the budget does not pay for and which is also taken when the budget refuses a retry.
 */
export function decideNext(outcome: AttemptOutcome, state: RetryState): RetryDecision {
  if (outcome.kind === 'client_cancelled') return stop('client_cancelled', 'the client went away');
  if (outcome.kind === 'success') return stop('success', 'the attempt succeeded');
  if (state.committed) return stop('committed', `${outcome.reason} after bytes reached the client`);
  if (outcome.kind === 'permanent') return stop('not_retryable', `${outcome.reason}: passed to the client`);
  if (outcome.kind === 'unsupported') return afterUnsupported(outcome, state);

  const proposal =
    outcome.kind === 'transient'
      ? afterTransient(outcome, state)
      : outcome.kind === 'key_rejected'
        ? afterKeyRejected(outcome, state)
        : afterRateLimit(outcome, state);
  if (proposal.action === 'give_up') return proposal;

  if (state.attemptsMade >= state.maxAttempts) {
    return stop(
      'max_attempts',
      `${outcome.reason}; ${state.attemptsMade} of ${state.maxAttempts} attempts used`,
    );
  }
  if (proposal.delayMs >= state.deadlineRemainingMs) {
    return stop(
      'deadline',
      `${outcome.reason}; waiting ${proposal.delayMs} ms does not fit the ${state.deadlineRemainingMs} ms left`,
    );
  }
  // A first move to a healthy provider is not a retry the budget guards against (it adds no load to the
  // struggling one): nothing fails while such a provider is left.
  if (state.freeFailover && proposal.action === 'next_candidate') return { ...proposal, free: true };
  if (state.budget.tryAcquireRetry()) return proposal;
  if (state.freeFailover && state.hasOtherCandidate) {
    return {
      action: 'next_candidate',
      delayMs: 0,
      reason: `${outcome.reason}; retry budget exhausted, failing over to a healthy provider`,
      free: true,
    };
  }
  return stop('budget', `${outcome.reason}; retry budget exhausted`);
}

/**
 * Whether the relay's final error answer carries `x-should-retry: false`: yes when the relay gave up on a failure
 * it would itself have retried (it already spent its retries, failovers or budget, or the quota is gone), so SDK
 * and Claude Code retries do not multiply on top of the relay's. Permanent errors need no header (no client
 * retries them), and after the commit point there are no headers left to set. A 429 that names its retry-after,
 * and a 529 (overloaded), are left to the client.
 */
export function shouldTellClientNotToRetry(decision: RetryDecision, outcome: AttemptOutcome): boolean {
  if (decision.action !== 'give_up' || decision.cause === 'committed') return false;
  // A throttle that says when to come back: the client may wait it out (the SDKs and Claude Code honour
  // retry-after, so their retry is delayed, not piled on), so it is not told to give up. A 429 without one (the
  // spend cap) is.
  if (outcome.kind === 'rate_limited' && outcome.retryAfterMs !== undefined) return false;
  // An overload (529) goes to the client as the provider sent it: Claude Code retries it with backoff for minutes
  // and after three in a row switches to its --fallback-model, while an overload spell outlasts the relay's own
  // retries; "never retry" turned the first 529 into an error in front of the user and defeated that switch. The
  // retry budget and the provider's breaker bound what the relay adds to such retries.
  if (outcome.status === 529) return false;
  return outcome.kind === 'transient' || outcome.kind === 'rate_limited';
}

function afterTransient(outcome: AttemptOutcome, state: RetryState): RetryDecision {
  // A host that is unreachable or too slow will not be better a few hundred ms later, and the deadline is shared:
  // those fail over at once when there is somewhere to go. A 5xx or a reset may be a blip: one retry first.
  if (outcome.error !== undefined && FAIL_OVER_AT_ONCE.has(outcome.error) && state.hasOtherCandidate) {
    return { action: 'next_candidate', delayMs: 0, reason: `${outcome.reason}; failing over` };
  }
  if (state.attemptsOnThisProvider < MAX_ATTEMPTS_PER_PROVIDER) {
    const delayMs = backoff(state);
    return {
      action: 'retry_same',
      delayMs,
      reason: `${outcome.reason}; retrying the provider in ${delayMs} ms`,
    };
  }
  if (state.hasOtherCandidate) {
    return { action: 'next_candidate', delayMs: 0, reason: `${outcome.reason}; failing over` };
  }
  return stop('no_candidate', `${outcome.reason}; no other provider or fallback left`);
}

/**
 * The provider lacks the endpoint: the next candidate at once, else its answer goes to the client. Not a retry of a
 * failure (the provider is healthy, and asking it again would get the same answer), so the retry budget, which
 * guards struggling upstreams against retry storms, is not asked; max_attempts and the deadline still bound it.
 */
function afterUnsupported(outcome: AttemptOutcome, state: RetryState): RetryDecision {
  if (!state.hasOtherCandidate) {
    return stop('not_retryable', `${outcome.reason}; no other provider left: passed to the client`);
  }
  if (state.attemptsMade >= state.maxAttempts) {
    return stop(
      'max_attempts',
      `${outcome.reason}; ${state.attemptsMade} of ${state.maxAttempts} attempts used`,
    );
  }
  if (state.deadlineRemainingMs <= 0) return stop('deadline', `${outcome.reason}; no time left`);
  return { action: 'next_candidate', delayMs: 0, reason: `${outcome.reason}; trying the next provider` };
}

/** A rejected key is parked by the key pool: another key of the provider at once, else the next candidate. */
function afterKeyRejected(outcome: AttemptOutcome, state: RetryState): RetryDecision {
  if (state.hasOtherKeyOnProvider) {
    return { action: 'next_key', delayMs: 0, reason: `${outcome.reason}; trying another key` };
  }
  if (state.hasOtherCandidate) {
    return { action: 'next_candidate', delayMs: 0, reason: `${outcome.reason}; failing over` };
  }
  return stop('no_candidate', `${outcome.reason}; no other key or provider left`);
}

function afterRateLimit(outcome: AttemptOutcome, state: RetryState): RetryDecision {
  if (state.hasOtherKeyOnProvider) {
    return { action: 'next_key', delayMs: 0, reason: `${outcome.reason}; trying another key` };
  }
  if (state.hasOtherCandidate) {
    return { action: 'next_candidate', delayMs: 0, reason: `${outcome.reason}; failing over` };
  }
  const hint = outcome.retryAfterMs;
  if (hint !== undefined && hint > 0) {
    if (hint > state.config.max_retry_after_ms) {
      return stop(
        'retry_after_too_long',
        `${outcome.reason}; retry-after ${hint} ms exceeds max_retry_after_ms ${state.config.max_retry_after_ms}`,
      );
    }
    return {
      action: 'retry_same',
      delayMs: hint,
      reason: `${outcome.reason}; waiting the retry-after ${hint} ms`,
    };
  }
  // No usable hint: back off one step further than a transient failure, and never less than half the step, so a
  // 429 is never answered with an immediate knock (full jitter alone could draw 0).
  const step = rateLimitStep(state);
  const delayMs = Math.ceil(step / 2) + backoffDelayMs(0, Math.floor(step / 2), step, state.rng);
  return {
    action: 'retry_same',
    delayMs,
    reason: `${outcome.reason}; no retry-after, backing off ${delayMs} ms`,
  };
}

function backoff(state: RetryState): number {
  return backoffDelayMs(state.retryIndex, state.config.base_delay_ms, state.config.max_delay_ms, state.rng);
}

function rateLimitStep(state: RetryState): number {
  return Math.min(state.config.max_delay_ms, state.config.base_delay_ms * 2 ** (state.retryIndex + 1));
}

function stop(cause: GiveUpCause, reason: string): RetryDecision {
  return { action: 'give_up', delayMs: 0, reason, cause };
}
