import { describe, expect, it } from 'vitest';
import { DEFAULT_MIN_RETRIES, RetryBudget } from './retry-budget';

function manualClock(start = 1_000_000) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}

function acquireAll(budget: RetryBudget): number {
  let granted = 0;
  while (budget.tryAcquireRetry()) granted++;
  return granted;
}

describe('RetryBudget', () => {
  it('grants retries up to the ratio of client requests in the window', () => {
    const budget = new RetryBudget(0.2, manualClock(), { minRetries: 0 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(acquireAll(budget)).toBe(20);
    expect(budget.snapshot()).toEqual({ requests: 100, retries: 20, allowed: 20 });
  });

  it('keeps a floor so a quiet relay can still retry', () => {
    const budget = new RetryBudget(0.2, manualClock());
    budget.recordRequest();
    expect(acquireAll(budget)).toBe(DEFAULT_MIN_RETRIES);
  });

  it('lets the ratio win over the floor once traffic is high enough', () => {
    const budget = new RetryBudget(0.5, manualClock(), { minRetries: 3 });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(acquireAll(budget)).toBe(5);
  });

  it('with ratio 0 only the floor remains', () => {
    const budget = new RetryBudget(0, manualClock(), { minRetries: 2 });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(acquireAll(budget)).toBe(2);
  });

  it('refills as old retries leave the window', () => {
    const clock = manualClock();
    const budget = new RetryBudget(0.2, clock, { windowMs: 10_000, minRetries: 1 });
    budget.recordRequest();
    expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(false);
    clock.t += 9_999;
    expect(budget.tryAcquireRetry()).toBe(false);
    clock.t += 1;
    expect(budget.tryAcquireRetry()).toBe(true);
  });

  it('forgets old requests too, so a past burst does not fund retries during a later outage', () => {
    const clock = manualClock();
    const budget = new RetryBudget(0.2, clock, { windowMs: 10_000, minRetries: 0 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    clock.t += 10_000;
    budget.recordRequest();
    expect(acquireAll(budget)).toBe(0);
  });

  it('in a storm, upstream attempts stay within (1 + ratio) x requests + floor', () => {
    const clock = manualClock();
    const budget = new RetryBudget(0.2, clock);
    let attempts = 0;
    for (let i = 0; i < 500; i++) {
      clock.t += 10;
      budget.recordRequest();
      attempts++;
      // every attempt fails; each request would retry up to twice if allowed
      for (let r = 0; r < 2 && budget.tryAcquireRetry(); r++) attempts++;
    }
    const inLastWindow = budget.snapshot();
    expect(inLastWindow.retries).toBeLessThanOrEqual(Math.max(3, 0.2 * inLastWindow.requests));
    expect(attempts).toBeLessThanOrEqual(500 * 1.2 + 3);
  });
});
