import 'reflect-metadata';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../common/clock';
import { CircuitBreakerConfig } from '../config/relay-config';
import { CircuitBreaker, openDurationMs, type BreakerTransition, type Permit } from './circuit-breaker';

class ManualClock implements Clock {
  constructor(private ms = Date.parse('2026-01-01T00:00:00.000Z')) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function config(overrides: Partial<CircuitBreakerConfig> = {}): CircuitBreakerConfig {
  // Growth on (it is opt-in): the specs below follow it; a config without it is checked apart.
  return Object.assign(new CircuitBreakerConfig(), { max_open_duration_ms: 300_000 }, overrides);
}

function acquire(breaker: CircuitBreaker): Permit {
  const permit = breaker.tryAcquire();
  if (!permit) throw new Error('expected the breaker to admit a request');
  return permit;
}

function fail(breaker: CircuitBreaker, times: number): void {
  for (let i = 0; i < times; i++) breaker.record(acquire(breaker), 'failure');
}

describe('CircuitBreaker', () => {
  let clock: ManualClock;
  let breaker: CircuitBreaker;
  let transitions: BreakerTransition[];

  beforeEach(() => {
    clock = new ManualClock(T0);
    breaker = new CircuitBreaker(config(), clock);
    transitions = [];
    breaker.onTransition((t) => transitions.push(t));
  });

  it('uses the spec defaults: 5 failures, 30 s open every time (no growth), 3 half-open probes', () => {
    const defaults = new CircuitBreakerConfig();
    expect(defaults).toEqual({
      failure_threshold: 5,
      open_duration_ms: 30_000,
      max_open_duration_ms: 0,
      half_open_probes: 3,
    });
    const fixed = new CircuitBreaker(defaults, clock);
    for (let reopen = 0; reopen < 3; reopen++) {
      fail(fixed, reopen === 0 ? 5 : 1);
      expect(fixed.state).toBe('open');
      clock.advance(29_999);
      expect(fixed.state).toBe('open');
      clock.advance(1);
      expect(fixed.state).toBe('half_open');
    }
  });

  describe('CLOSED', () => {
    it('starts closed and admits every request', () => {
      expect(breaker.state).toBe('closed');
      expect(breaker.isRoutable()).toBe(true);
      const permits = Array.from({ length: 50 }, () => breaker.tryAcquire());
      expect(permits.every((p) => p?.kind === 'normal')).toBe(true);
    });

    it('stays closed after failure_threshold - 1 consecutive failures', () => {
      fail(breaker, 4);
      expect(breaker.state).toBe('closed');
      expect(breaker.snapshot().consecutive_failures).toBe(4);
      expect(breaker.isRoutable()).toBe(true);
    });

    it('opens on the failure_threshold-th consecutive failure', () => {
      fail(breaker, 5);
      expect(breaker.state).toBe('open');
      expect(breaker.isRoutable()).toBe(false);
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(transitions).toEqual([{ from: 'closed', to: 'open', reason: 'failure_threshold', at: T0 }]);
    });

    it('a success resets the count, so interleaved failures never open it', () => {
      for (let round = 0; round < 10; round++) {
        fail(breaker, 4);
        breaker.record(acquire(breaker), 'success');
      }
      expect(breaker.state).toBe('closed');
      expect(breaker.snapshot().consecutive_failures).toBe(0);
    });

    it("'ignored' outcomes neither count nor reset the streak", () => {
      fail(breaker, 3);
      breaker.record(acquire(breaker), 'ignored');
      expect(breaker.snapshot().consecutive_failures).toBe(3);
      fail(breaker, 2);
      expect(breaker.state).toBe('open');
    });

    it('counts failures of concurrently admitted requests', () => {
      const permits = Array.from({ length: 5 }, () => acquire(breaker));
      permits.forEach((p) => breaker.record(p, 'failure'));
      expect(breaker.state).toBe('open');
    });

    it('counts a permit only once', () => {
      const permit = acquire(breaker);
      for (let i = 0; i < 5; i++) breaker.record(permit, 'failure');
      expect(breaker.state).toBe('closed');
      expect(breaker.snapshot().consecutive_failures).toBe(1);
    });

    it('ignores permits issued by another breaker', () => {
      const other = new CircuitBreaker(config(), clock);
      for (let i = 0; i < 5; i++) breaker.record(acquire(other), 'failure');
      expect(breaker.state).toBe('closed');
      expect(other.state).toBe('closed');
    });

    it('honours a configured threshold of 1', () => {
      const strict = new CircuitBreaker(config({ failure_threshold: 1 }), clock);
      fail(strict, 1);
      expect(strict.state).toBe('open');
    });
  });

  describe('OPEN', () => {
    beforeEach(() => fail(breaker, 5));

    it('reports when it opened and when it will try again', () => {
      expect(breaker.snapshot()).toMatchObject({
        state: 'open',
        consecutive_failures: 5,
        opened_at: '2026-01-01T00:00:00.000Z',
        retry_at: '2026-01-01T00:00:30.000Z',
        forced: false,
      });
    });

    it('refuses requests until open_duration_ms has elapsed', () => {
      clock.advance(29_999);
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(breaker.isRoutable()).toBe(false);
      expect(breaker.state).toBe('open');
    });

    it('becomes HALF_OPEN exactly at open_duration_ms, evaluated on access', () => {
      clock.advance(30_000);
      expect(transitions).toHaveLength(1);
      expect(breaker.isRoutable()).toBe(true);
      expect(breaker.state).toBe('half_open');
      expect(transitions[1]).toEqual({
        from: 'open',
        to: 'half_open',
        reason: 'open_duration_elapsed',
        at: T0 + 30_000,
      });
      expect(breaker.snapshot()).toMatchObject({ retry_at: null, opened_at: '2026-01-01T00:00:00.000Z' });
    });

    it('outcomes of requests admitted before it opened change nothing', () => {
      const fresh = new CircuitBreaker(config(), clock);
      const early = Array.from({ length: 7 }, () => acquire(fresh));
      early.slice(0, 5).forEach((p) => fresh.record(p, 'failure'));
      expect(fresh.state).toBe('open');
      clock.advance(10_000);
      fresh.record(early[5]!, 'success');
      fresh.record(early[6]!, 'failure');
      expect(fresh.snapshot()).toMatchObject({ state: 'open', retry_at: '2026-01-01T00:00:30.000Z' });
    });

    it('a probe success moves it to HALF_OPEN before the timer ends', () => {
      clock.advance(5_000);
      breaker.markProbeSucceeded();
      expect(breaker.state).toBe('half_open');
      expect(transitions.at(-1)).toEqual({
        from: 'open',
        to: 'half_open',
        reason: 'probe_succeeded',
        at: T0 + 5_000,
      });
      expect(breaker.tryAcquire()?.kind).toBe('probe');
    });
  });

  describe('HALF_OPEN', () => {
    beforeEach(() => {
      fail(breaker, 5);
      clock.advance(30_000);
    });

    it('admits at most half_open_probes requests at a time and refuses the rest', () => {
      const probes = [acquire(breaker), acquire(breaker), acquire(breaker)];
      expect(probes.map((p) => p.kind)).toEqual(['probe', 'probe', 'probe']);
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(breaker.isRoutable()).toBe(false);
      expect(breaker.snapshot().half_open_in_flight).toBe(3);
    });

    it('admits no more than half_open_probes test requests in all: one that succeeded keeps its slot', () => {
      // Spec: half_open_probes is "반열림 상태에서 허용되는 프로브 수" (the probes allowed while half-open). Two probes
      // that succeeded and one in flight are the three: a fourth and a fifth would load a provider under test.
      const probes = [acquire(breaker), acquire(breaker), acquire(breaker)];
      breaker.record(probes[0]!, 'success');
      breaker.record(probes[1]!, 'success');
      expect(breaker.snapshot()).toMatchObject({ half_open_in_flight: 1, half_open_successes: 2 });
      expect(breaker.tryAcquire()).toBeUndefined();
      expect(breaker.isRoutable()).toBe(false);
      breaker.record(probes[2]!, 'success');
      expect(breaker.state).toBe('closed');
    });

    it('after a probe without a verdict, admits only as many as are still needed to close', () => {
      const probes = [acquire(breaker), acquire(breaker), acquire(breaker)];
      breaker.record(probes[0]!, 'success');
      breaker.record(probes[1]!, 'ignored');
      expect(breaker.tryAcquire()?.kind).toBe('probe');
      expect(breaker.tryAcquire()).toBeUndefined();
    });

    it('frees a probe slot when a probe ends without a verdict', () => {
      const probes = [acquire(breaker), acquire(breaker), acquire(breaker)];
      breaker.record(probes[0]!, 'ignored');
      expect(breaker.state).toBe('half_open');
      expect(breaker.snapshot()).toMatchObject({ half_open_in_flight: 2, half_open_successes: 0 });
      expect(breaker.tryAcquire()?.kind).toBe('probe');
      expect(breaker.tryAcquire()).toBeUndefined();
    });

    it('closes after half_open_probes consecutive successes', () => {
      const probes = [acquire(breaker), acquire(breaker), acquire(breaker)];
      breaker.record(probes[0]!, 'success');
      breaker.record(probes[1]!, 'success');
      expect(breaker.state).toBe('half_open');
      expect(breaker.snapshot().half_open_successes).toBe(2);
      breaker.record(probes[2]!, 'success');
      expect(breaker.state).toBe('closed');
      expect(transitions.at(-1)).toMatchObject({
        from: 'half_open',
        to: 'closed',
        reason: 'half_open_succeeded',
      });
      expect(breaker.snapshot()).toMatchObject({
        consecutive_failures: 0,
        opened_at: null,
        retry_at: null,
        half_open_in_flight: 0,
        half_open_successes: 0,
      });
      expect(breaker.tryAcquire()?.kind).toBe('normal');
    });

    it('keeps admitting probes one after another until enough succeed', () => {
      for (let i = 0; i < 2; i++) breaker.record(acquire(breaker), 'success');
      expect(breaker.state).toBe('half_open');
      breaker.record(acquire(breaker), 'success');
      expect(breaker.state).toBe('closed');
    });

    it('reopens on any probe failure and restarts the open timer from that moment', () => {
      const probes = [acquire(breaker), acquire(breaker), acquire(breaker)];
      breaker.record(probes[0]!, 'success');
      clock.advance(2_000);
      breaker.record(probes[1]!, 'failure');
      expect(breaker.state).toBe('open');
      expect(transitions.at(-1)).toMatchObject({
        from: 'half_open',
        to: 'open',
        reason: 'half_open_failure',
      });
      // A re-open: twice the open duration (see 'growing open duration').
      expect(breaker.snapshot()).toMatchObject({
        opened_at: '2026-01-01T00:00:32.000Z',
        retry_at: '2026-01-01T00:01:32.000Z',
        half_open_in_flight: 0,
        half_open_successes: 0,
      });
      clock.advance(59_999);
      expect(breaker.tryAcquire()).toBeUndefined();
      clock.advance(1);
      expect(breaker.state).toBe('half_open');
    });

    it('a late success of a probe from the previous test round does not count in the next one', () => {
      const probes = [acquire(breaker), acquire(breaker)];
      breaker.record(probes[0]!, 'failure');
      clock.advance(60_000);
      expect(breaker.state).toBe('half_open');
      breaker.record(probes[1]!, 'success');
      expect(breaker.snapshot()).toMatchObject({ half_open_successes: 0, half_open_in_flight: 0 });
      expect(breaker.state).toBe('half_open');
    });

    it('a failure of a request admitted while CLOSED does not reopen the circuit under test', () => {
      const fresh = new CircuitBreaker(config(), clock);
      const longStream = acquire(fresh);
      fail(fresh, 5);
      clock.advance(30_000);
      expect(fresh.state).toBe('half_open');
      fresh.record(longStream, 'failure');
      expect(fresh.state).toBe('half_open');
    });

    it('markProbeSucceeded does nothing outside OPEN', () => {
      const before = transitions.length;
      breaker.markProbeSucceeded();
      breaker.reset();
      breaker.markProbeSucceeded();
      expect(breaker.state).toBe('closed');
      expect(transitions.slice(before).map((t) => t.reason)).toEqual(['open_duration_elapsed', 'reset']);
    });
  });

  describe('forceOpen', () => {
    it('opens a healthy breaker for the given duration, then goes HALF_OPEN', () => {
      breaker.forceOpen(120_000, 'failover drill');
      expect(breaker.snapshot()).toMatchObject({
        state: 'open',
        forced: true,
        opened_at: '2026-01-01T00:00:00.000Z',
        retry_at: '2026-01-01T00:02:00.000Z',
      });
      expect(transitions).toEqual([
        { from: 'closed', to: 'open', reason: 'forced_open', at: T0, detail: 'failover drill' },
      ]);
      clock.advance(119_999);
      expect(breaker.isRoutable()).toBe(false);
      clock.advance(1);
      expect(breaker.snapshot()).toMatchObject({ state: 'half_open', forced: false });
    });

    it('is not shortened by a successful health probe', () => {
      breaker.forceOpen(60_000, 'drill');
      breaker.markProbeSucceeded();
      expect(breaker.state).toBe('open');
    });

    it('replaces the timer of a circuit that was already open', () => {
      fail(breaker, 5);
      clock.advance(10_000);
      breaker.forceOpen(5_000, 'shorter');
      expect(breaker.snapshot().retry_at).toBe('2026-01-01T00:00:15.000Z');
    });

    it('takes a HALF_OPEN circuit out of testing; its probes no longer count', () => {
      fail(breaker, 5);
      clock.advance(30_000);
      const probe = acquire(breaker);
      breaker.forceOpen(10_000, 'drill');
      breaker.record(probe, 'failure');
      expect(breaker.snapshot()).toMatchObject({ state: 'open', retry_at: '2026-01-01T00:00:40.000Z' });
    });

    it('rejects a duration that is not positive', () => {
      expect(() => breaker.forceOpen(0, 'x')).toThrow(RangeError);
      expect(() => breaker.forceOpen(Number.NaN, 'x')).toThrow(RangeError);
      expect(breaker.state).toBe('closed');
    });
  });

  describe('reset', () => {
    it('closes an OPEN breaker at once with a clean count', () => {
      fail(breaker, 5);
      breaker.reset();
      expect(breaker.snapshot()).toMatchObject({
        state: 'closed',
        consecutive_failures: 0,
        opened_at: null,
        retry_at: null,
        forced: false,
      });
      expect(transitions.at(-1)).toMatchObject({ from: 'open', to: 'closed', reason: 'reset' });
      expect(breaker.tryAcquire()?.kind).toBe('normal');
    });

    it('clears a partial failure streak; failures admitted before the reset do not count', () => {
      const inFlight = acquire(breaker);
      fail(breaker, 4);
      breaker.reset();
      breaker.record(inFlight, 'failure');
      fail(breaker, 4);
      expect(breaker.state).toBe('closed');
      fail(breaker, 1);
      expect(breaker.state).toBe('open');
    });

    it('ends a forced drill', () => {
      breaker.forceOpen(60_000, 'drill');
      breaker.reset();
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', forced: false });
    });
  });

  describe('last error', () => {
    it('keeps the last recorded error with its time, across state changes', () => {
      expect(breaker.snapshot().last_error).toBeNull();
      breaker.recordError({ status: 503, message: 'upstream 503' });
      clock.advance(1_500);
      breaker.recordError({ message: 'connect ECONNREFUSED' });
      fail(breaker, 5);
      expect(breaker.snapshot().last_error).toEqual({
        message: 'connect ECONNREFUSED',
        at: '2026-01-01T00:00:01.500Z',
      });
      breaker.reset();
      expect(breaker.snapshot().last_error?.message).toBe('connect ECONNREFUSED');
    });
  });

  describe('growing open duration', () => {
    /** Moves an OPEN breaker to HALF_OPEN by its timer and fails one test request there. */
    function reopen(b: CircuitBreaker): void {
      const retryAt = Date.parse(b.snapshot().retry_at!);
      clock.advance(retryAt - clock.now());
      expect(b.state).toBe('half_open');
      b.record(acquire(b), 'failure');
      expect(b.state).toBe('open');
    }

    it('doubles the open duration on every re-open, up to max_open_duration_ms', () => {
      breaker = new CircuitBreaker(config({ open_duration_ms: 1_000, max_open_duration_ms: 5_000 }), clock);
      fail(breaker, 5);
      expect(breaker.snapshot()).toMatchObject({ state: 'open', open_duration_ms: 1_000, reopens: 0 });
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        reopen(breaker);
        const snap = breaker.snapshot();
        expect(Date.parse(snap.retry_at!) - Date.parse(snap.opened_at!)).toBe(snap.open_duration_ms);
        seen.push(snap.open_duration_ms);
      }
      expect(seen).toEqual([2_000, 4_000, 5_000, 5_000, 5_000]);
      expect(breaker.snapshot().reopens).toBe(5);
      // One ms short of the grown duration it is still OPEN: the doubling is real, not only displayed.
      clock.advance(4_999);
      expect(breaker.tryAcquire()).toBeUndefined();
    });

    it('says, while HALF_OPEN, how long a re-open would last, and while CLOSED, how long a first opening', () => {
      breaker = new CircuitBreaker(config({ open_duration_ms: 1_000 }), clock);
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', open_duration_ms: 1_000, reopens: 0 });
      fail(breaker, 5);
      reopen(breaker);
      clock.advance(2_000);
      expect(breaker.snapshot()).toMatchObject({ state: 'half_open', open_duration_ms: 4_000, reopens: 1 });
    });

    it('starts again from open_duration_ms once the circuit closes (or is reset)', () => {
      breaker = new CircuitBreaker(config({ open_duration_ms: 1_000, half_open_probes: 1 }), clock);
      fail(breaker, 5);
      reopen(breaker);
      reopen(breaker);
      expect(breaker.snapshot().open_duration_ms).toBe(4_000);
      clock.advance(4_000);
      breaker.record(acquire(breaker), 'success');
      expect(breaker.state).toBe('closed');
      fail(breaker, 5);
      expect(breaker.snapshot()).toMatchObject({ state: 'open', open_duration_ms: 1_000, reopens: 0 });
      reopen(breaker);
      breaker.reset();
      fail(breaker, 5);
      expect(breaker.snapshot()).toMatchObject({ open_duration_ms: 1_000, reopens: 0 });
    });

    it('never shortens a long open_duration_ms to a smaller cap', () => {
      expect(openDurationMs({ open_duration_ms: 600_000, max_open_duration_ms: 300_000 }, 0)).toBe(600_000);
      expect(openDurationMs({ open_duration_ms: 600_000, max_open_duration_ms: 300_000 }, 3)).toBe(600_000);
      expect(openDurationMs({ open_duration_ms: 1, max_open_duration_ms: 2_147_483_647 }, 1_000)).toBe(
        2_147_483_647,
      );
    });

    it('a probe that moved the circuit to HALF_OPEN early does not spare the next re-open its growth', () => {
      breaker = new CircuitBreaker(config({ open_duration_ms: 1_000 }), clock);
      fail(breaker, 5);
      breaker.markProbeSucceeded();
      breaker.record(acquire(breaker), 'failure');
      expect(breaker.snapshot()).toMatchObject({ state: 'open', open_duration_ms: 2_000, reopens: 1 });
    });
  });

  describe('listeners', () => {
    it('can unsubscribe, and a throwing listener neither breaks the breaker nor other listeners', () => {
      const seen: string[] = [];
      breaker.onTransition(() => {
        throw new Error('metrics bug');
      });
      const off = breaker.onTransition((t) => seen.push(t.to));
      fail(breaker, 5);
      off();
      breaker.reset();
      expect(breaker.state).toBe('closed');
      expect(seen).toEqual(['open']);
      expect(transitions.map((t) => t.to)).toEqual(['open', 'closed']);
    });
  });
});
