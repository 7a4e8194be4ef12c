import { describe, expect, it } from 'vitest';
import { classifyOutcome, keyPoolExhaustedOutcome, type AttemptOutcome } from '../protocol/outcome';
import {
  decideNext,
  shouldTellClientNotToRetry,
  type GiveUpCause,
  type RetryAction,
  type RetryState,
} from './retry-policy';

/** A budget that answers as told and counts how often it was asked. */
class FakeBudget {
  asked = 0;
  constructor(private readonly grant: boolean) {}
  tryAcquireRetry(): boolean {
    this.asked++;
    return this.grant;
  }
}

const config = { base_delay_ms: 250, max_delay_ms: 4000, max_retry_after_ms: 10_000 };

function state(overrides: Partial<RetryState> = {}): RetryState {
  return {
    attemptsMade: 1,
    maxAttempts: 3,
    attemptsOnThisProvider: 1,
    hasOtherCandidate: true,
    hasOtherKeyOnProvider: false,
    deadlineRemainingMs: 100_000,
    committed: false,
    retryIndex: 0,
    budget: new FakeBudget(true),
    config,
    rng: () => 0.5,
    ...overrides,
  };
}

const s500 = classifyOutcome({ status: 500 });
const s529 = classifyOutcome({ status: 529 });
const reset = classifyOutcome({ error: 'reset' });
const ttft = classifyOutcome({ error: 'ttft_timeout' });
const s400 = classifyOutcome({ status: 400 });
const s401 = classifyOutcome({ status: 401 });
const s404 = classifyOutcome({ status: 404 });
const s408 = classifyOutcome({ status: 408 });
const ok = classifyOutcome({ status: 200 });
const cancelled = classifyOutcome({ status: 503, clientCancelled: true });
const r429 = classifyOutcome({ status: 429 });
const r429wait2s = classifyOutcome({ status: 429, headers: { 'retry-after': '2' } });
const r429wait60s = classifyOutcome({ status: 429, headers: { 'retry-after': '60' } });
const rejectedKey = classifyOutcome({ status: 401, relayKey: true });

interface Row {
  name: string;
  outcome: AttemptOutcome;
  state?: Partial<RetryState>;
  action: RetryAction;
  /** exact delay, or [min, max] */
  delay?: number | [number, number];
  cause?: GiveUpCause;
  tellClient?: boolean;
}

const rows: Row[] = [
  // answers that go to the client as they are
  { name: 'success', outcome: ok, action: 'give_up', cause: 'success', tellClient: false },
  {
    name: '400 is never retried',
    outcome: s400,
    action: 'give_up',
    cause: 'not_retryable',
    tellClient: false,
  },
  {
    name: '401 is never retried',
    outcome: s401,
    action: 'give_up',
    cause: 'not_retryable',
    tellClient: false,
  },
  {
    name: '404 is never retried',
    outcome: s404,
    action: 'give_up',
    cause: 'not_retryable',
    tellClient: false,
  },
  {
    name: 'client cancelled',
    outcome: cancelled,
    action: 'give_up',
    cause: 'client_cancelled',
    tellClient: false,
  },
  {
    name: 'transient after the commit point',
    outcome: classifyOutcome({ status: 200, error: 'stall' }),
    state: { committed: true },
    action: 'give_up',
    cause: 'committed',
    tellClient: false,
  },
  {
    name: '429 after the commit point',
    outcome: r429,
    state: { committed: true, hasOtherKeyOnProvider: true },
    action: 'give_up',
    cause: 'committed',
    tellClient: false,
  },

  // transient
  { name: '500, first attempt: retry same after backoff', outcome: s500, action: 'retry_same', delay: 125 },
  { name: '529 retries the same provider', outcome: s529, action: 'retry_same', delay: 125 },
  { name: 'reset retries the same provider', outcome: reset, action: 'retry_same', delay: 125 },
  { name: '408 retries the same provider', outcome: s408, action: 'retry_same', delay: 125 },
  {
    name: 'backoff grows with the retry index',
    outcome: s500,
    state: { retryIndex: 2, rng: () => 0.999999 },
    action: 'retry_same',
    delay: 1000,
  },
  {
    name: 'backoff is capped by max_delay_ms',
    outcome: s500,
    state: { retryIndex: 10, rng: () => 0.999999 },
    action: 'retry_same',
    delay: 4000,
  },
  {
    name: 'second failure on the provider: fail over without sleeping',
    outcome: s500,
    state: { attemptsMade: 2, attemptsOnThisProvider: 2 },
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: 'TTFT timeout on the first try fails over at once (a slow host stays slow)',
    outcome: ttft,
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: 'connection refused fails over at once',
    outcome: classifyOutcome({ error: 'connect_refused' }),
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: 'TTFT timeout with nowhere else to go retries the provider',
    outcome: ttft,
    state: { hasOtherCandidate: false },
    action: 'retry_same',
    delay: 125,
  },
  {
    name: 'TTFT timeout on the second try fails over',
    outcome: ttft,
    state: { attemptsMade: 2, attemptsOnThisProvider: 2 },
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: 'second failure and nothing left: give up',
    outcome: s500,
    state: { attemptsMade: 2, attemptsOnThisProvider: 2, hasOtherCandidate: false },
    action: 'give_up',
    cause: 'no_candidate',
    tellClient: true,
  },
  {
    name: 'attempts used up',
    outcome: s500,
    state: { attemptsMade: 3, attemptsOnThisProvider: 1 },
    action: 'give_up',
    cause: 'max_attempts',
    tellClient: true,
  },
  {
    name: 'backoff does not fit the deadline',
    outcome: s500,
    state: { deadlineRemainingMs: 100 },
    action: 'give_up',
    cause: 'deadline',
    tellClient: true,
  },
  {
    name: 'deadline spent entirely, even for a failover without sleep',
    outcome: s500,
    state: { attemptsMade: 2, attemptsOnThisProvider: 2, deadlineRemainingMs: 0 },
    action: 'give_up',
    cause: 'deadline',
    tellClient: true,
  },
  {
    name: '529 overloaded, attempts used up: left to the client (Claude Code backs off and may switch model)',
    outcome: s529,
    state: { attemptsMade: 3, attemptsOnThisProvider: 1 },
    action: 'give_up',
    cause: 'max_attempts',
    tellClient: false,
  },
  {
    name: '529 overloaded, retry budget exhausted: left to the client too',
    outcome: s529,
    state: { budget: new FakeBudget(false) },
    action: 'give_up',
    cause: 'budget',
    tellClient: false,
  },
  {
    name: 'retry budget exhausted',
    outcome: s500,
    state: { budget: new FakeBudget(false) },
    action: 'give_up',
    cause: 'budget',
    tellClient: true,
  },
  {
    name: 'failover also needs the budget',
    outcome: s500,
    state: { attemptsMade: 2, attemptsOnThisProvider: 2, budget: new FakeBudget(false) },
    action: 'give_up',
    cause: 'budget',
    tellClient: true,
  },

  // rate limited
  {
    name: '429 with another key: next key at once',
    outcome: r429wait2s,
    state: { hasOtherKeyOnProvider: true },
    action: 'next_key',
    delay: 0,
  },
  {
    name: '429 without another key: next candidate at once',
    outcome: r429wait2s,
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: '429 with a long retry-after still fails over when it can',
    outcome: r429wait60s,
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: '429, nothing else left, short retry-after: sleep it',
    outcome: r429wait2s,
    state: { hasOtherCandidate: false },
    action: 'retry_same',
    delay: 2000,
  },
  {
    name: '429, nothing else left, retry-after over max_retry_after_ms: give up',
    outcome: r429wait60s,
    state: { hasOtherCandidate: false },
    action: 'give_up',
    cause: 'retry_after_too_long',
    // The client is left to wait the retry-after out (Claude Code shows a 429 it would have waited for otherwise).
    tellClient: false,
  },
  {
    name: '429, nothing else left, retry-after beyond the deadline: give up',
    outcome: r429wait2s,
    state: { hasOtherCandidate: false, deadlineRemainingMs: 1500 },
    action: 'give_up',
    cause: 'deadline',
    tellClient: false,
  },
  {
    name: '429 without retry-after, nothing else left: back off, at least half a step',
    outcome: r429,
    state: { hasOtherCandidate: false, rng: () => 0 },
    action: 'retry_same',
    delay: 250,
  },
  {
    name: '429 without retry-after: the back-off grows with the retry index',
    outcome: r429,
    state: { hasOtherCandidate: false, retryIndex: 2, rng: () => 0.999999 },
    action: 'retry_same',
    delay: [1000, 2000],
  },
  {
    name: '429 with retry-after, nothing else left, attempts used up: the client may wait it out',
    outcome: r429wait2s,
    state: { hasOtherCandidate: false, attemptsMade: 3 },
    action: 'give_up',
    cause: 'max_attempts',
    tellClient: false,
  },
  {
    name: '429 without retry-after (the spend cap), attempts used up: the client is told not to retry',
    outcome: r429,
    state: { hasOtherCandidate: false, attemptsMade: 3 },
    action: 'give_up',
    cause: 'max_attempts',
    tellClient: true,
  },
  {
    name: '429 next key also needs the budget',
    outcome: r429,
    state: { hasOtherKeyOnProvider: true, budget: new FakeBudget(false) },
    action: 'give_up',
    cause: 'budget',
    tellClient: true,
  },
  {
    name: 'the relay’s key rejected, another key on the provider: at once',
    outcome: rejectedKey,
    state: { hasOtherKeyOnProvider: true },
    action: 'next_key',
    delay: 0,
  },
  {
    name: 'the relay’s key rejected, no other key: the next provider at once',
    outcome: rejectedKey,
    state: { hasOtherCandidate: true },
    action: 'next_candidate',
    delay: 0,
  },
  {
    name: 'the relay’s key rejected, nothing left: give up (the client may retry: another replica may do better)',
    outcome: rejectedKey,
    state: { hasOtherCandidate: false },
    action: 'give_up',
    cause: 'no_candidate',
  },
  {
    name: 'key pool exhausted (no call made), nothing else left: wait for the soonest key',
    outcome: keyPoolExhaustedOutcome(700),
    state: { hasOtherCandidate: false },
    action: 'retry_same',
    delay: 700,
  },
];

describe('decideNext', () => {
  it.each(rows)('$name', (row) => {
    const decision = decideNext(row.outcome, state(row.state));
    expect(decision.action).toBe(row.action);
    if (typeof row.delay === 'number') expect(decision.delayMs).toBe(row.delay);
    if (Array.isArray(row.delay)) {
      expect(decision.delayMs).toBeGreaterThanOrEqual(row.delay[0]);
      expect(decision.delayMs).toBeLessThanOrEqual(row.delay[1]);
    }
    if (row.action === 'give_up') {
      expect(decision.cause).toBe(row.cause);
      expect(decision.delayMs).toBe(0);
    } else {
      expect(decision.cause).toBeUndefined();
    }
    expect(decision.reason).not.toBe('');
    if (row.tellClient !== undefined) {
      expect(shouldTellClientNotToRetry(decision, row.outcome)).toBe(row.tellClient);
    } else {
      expect(shouldTellClientNotToRetry(decision, row.outcome)).toBe(false);
    }
  });

  it('spends a retry from the budget only when it actually retries', () => {
    const budget = new FakeBudget(true);
    decideNext(s400, state({ budget }));
    decideNext(s500, state({ budget, attemptsMade: 3 }));
    decideNext(s500, state({ budget, deadlineRemainingMs: 10 }));
    expect(budget.asked).toBe(0);
    decideNext(s500, state({ budget }));
    expect(budget.asked).toBe(1);
  });

  it('moves count_tokens on from a provider without the endpoint at once, without spending the retry budget', () => {
    const missing = classifyOutcome({ status: 404, countTokens: true });
    const budget = new FakeBudget(false);
    expect(decideNext(missing, state({ budget }))).toMatchObject({ action: 'next_candidate', delayMs: 0 });
    expect(budget.asked).toBe(0);
    // With no other provider, or no attempts left, the provider's own answer goes to the client.
    expect(decideNext(missing, state({ hasOtherCandidate: false }))).toMatchObject({
      action: 'give_up',
      cause: 'not_retryable',
    });
    expect(decideNext(missing, state({ attemptsMade: 3 }))).toMatchObject({
      action: 'give_up',
      cause: 'max_attempts',
    });
    expect(
      shouldTellClientNotToRetry(decideNext(missing, state({ hasOtherCandidate: false })), missing),
    ).toBe(false);
  });

  it('503 forever over two providers: bounded by max_attempts', () => {
    const actions: RetryAction[] = [];
    let attemptsMade = 0;
    let onProvider = 0;
    let providersLeft = 1;
    for (;;) {
      attemptsMade++;
      onProvider++;
      const d = decideNext(classifyOutcome({ status: 503 }), {
        ...state(),
        attemptsMade,
        attemptsOnThisProvider: onProvider,
        hasOtherCandidate: providersLeft > 0,
        retryIndex: attemptsMade - 1,
      });
      actions.push(d.action);
      if (d.action === 'give_up') break;
      if (d.action === 'next_candidate') {
        providersLeft--;
        onProvider = 0;
      }
    }
    expect(attemptsMade).toBe(3);
    expect(actions).toEqual(['retry_same', 'next_candidate', 'give_up']);
  });

  describe('a first move to a fresh provider (freeFailover) is not paid for by the retry budget', () => {
    it('fails over to it instead of giving up when the budget refuses a retry of the struggling one', () => {
      const budget = new FakeBudget(false);
      const d = decideNext(s500, state({ budget, freeFailover: true }));
      expect(d).toMatchObject({ action: 'next_candidate', delayMs: 0, free: true });
      expect(shouldTellClientNotToRetry(d, s500)).toBe(false);
      // Without a fresh provider to go to, the budget still stops the retry.
      expect(decideNext(s500, state({ budget: new FakeBudget(false) }))).toMatchObject({
        action: 'give_up',
        cause: 'budget',
      });
    });

    it('does not spend the budget on the move itself', () => {
      const budget = new FakeBudget(true);
      const d = decideNext(
        s500,
        state({ budget, attemptsMade: 2, attemptsOnThisProvider: 2, freeFailover: true }),
      );
      expect(d).toMatchObject({ action: 'next_candidate', free: true });
      expect(budget.asked).toBe(0);
      // A rate-limited provider moves on free of charge too.
      expect(decideNext(r429, state({ budget, freeFailover: true }))).toMatchObject({
        action: 'next_candidate',
        free: true,
      });
      expect(budget.asked).toBe(0);
    });

    it('is still bounded by max_attempts and the deadline', () => {
      const budget = new FakeBudget(false);
      expect(decideNext(s500, state({ budget, freeFailover: true, attemptsMade: 3 }))).toMatchObject({
        action: 'give_up',
        cause: 'max_attempts',
      });
      expect(
        decideNext(
          s500,
          state({
            budget,
            freeFailover: true,
            attemptsMade: 2,
            attemptsOnThisProvider: 2,
            deadlineRemainingMs: 0,
          }),
        ),
      ).toMatchObject({ action: 'give_up', cause: 'deadline' });
    });

    it('retries the struggling provider when the budget allows, as before (the move stays free for later)', () => {
      const budget = new FakeBudget(true);
      expect(decideNext(s500, state({ budget, freeFailover: true }))).toMatchObject({ action: 'retry_same' });
      expect(budget.asked).toBe(1);
    });
  });
});
