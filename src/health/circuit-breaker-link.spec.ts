import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../common/clock';
import { CircuitBreakerConfig } from '../config/relay-config';
import { CircuitBreaker, type BreakerLink, type SharedBreakerView } from './circuit-breaker';

class ManualClock implements Clock {
  ms = Date.parse('2026-01-01T00:00:00.000Z');
  now(): number {
    return this.ms;
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

/** A cluster link that is up but never answers in time (every call: undefined = decide alone). */
function silentLink(calls: string[]): BreakerLink {
  const none = (what: string) => async () => {
    calls.push(what);
    return undefined;
  };
  return {
    active: () => true,
    failure: none('failure'),
    success: none('success'),
    release: () => calls.push('release'),
    takeProbe: () => undefined,
    hasProbe: () => false,
    probeSucceeded: none('probe'),
    forceOpen: none('force'),
    reset: none('reset'),
  };
}

function view(partial: Partial<SharedBreakerView>): SharedBreakerView {
  return {
    state: 'closed',
    epoch: 1,
    failures: 0,
    openedAt: null,
    retryAt: null,
    openMs: null,
    reopens: 0,
    forced: false,
    successes: 0,
    reason: null,
    by: null,
    detail: null,
    ...partial,
  };
}

describe('CircuitBreaker with a cluster link', () => {
  const config = Object.assign(new CircuitBreakerConfig(), { failure_threshold: 3, open_duration_ms: 1_000 });

  it('decides alone when the cluster does not answer in time, and remembers it diverged', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(config, clock);
    const calls: string[] = [];
    breaker.attach(silentLink(calls));
    for (let i = 0; i < 3; i++) breaker.record(breaker.tryAcquire()!, 'failure');
    expect(breaker.state).toBe('closed'); // the cluster decides… when it answers
    await flush();
    expect(calls).toEqual(['failure', 'failure', 'failure']);
    expect(breaker.state).toBe('open');
    expect(breaker.divergedWhileAlone).toBe(true);
  });

  it('adopts a newer shared state with its transition, ignores older epochs, and voids permits of the period before', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(config, clock);
    const transitions: string[] = [];
    breaker.onTransition((t) => transitions.push(`${t.from}>${t.to}:${t.reason}`));
    const before = breaker.tryAcquire()!;
    breaker.adopt(
      view({
        state: 'open',
        epoch: 5,
        openedAt: clock.ms,
        retryAt: clock.ms + 1_000,
        openMs: 1_000,
        reason: 'failure_threshold',
        by: 'r2',
        failures: 3,
      }),
    );
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      consecutive_failures: 3,
      open_duration_ms: 1_000,
    });
    breaker.adopt(view({ state: 'closed', epoch: 4 }));
    expect(breaker.state).toBe('open');
    breaker.record(before, 'success'); // admitted before the circuit opened: does not close it
    expect(breaker.state).toBe('open');
    clock.ms += 1_000;
    expect(breaker.state).toBe('half_open');
    breaker.adopt(view({ state: 'closed', epoch: 6, reason: 'half_open_succeeded' }));
    expect(transitions).toEqual([
      'closed>open:failure_threshold',
      'open>half_open:open_duration_elapsed',
      'half_open>closed:half_open_succeeded',
    ]);
  });

  it('in HALF_OPEN admits only with a cluster permit', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker(config, clock);
    const reserved: { permit?: string } = {};
    breaker.attach({
      ...silentLink([]),
      takeProbe: () => reserved.permit,
      hasProbe: () => reserved.permit !== undefined,
    });
    breaker.adopt(view({ state: 'half_open', epoch: 2 }));
    expect(breaker.isRoutable()).toBe(false);
    expect(breaker.tryAcquire()).toBeUndefined();
    reserved.permit = 'r1#1';
    expect(breaker.isRoutable()).toBe(true);
    expect(breaker.tryAcquire()?.kind).toBe('probe');
  });
});
