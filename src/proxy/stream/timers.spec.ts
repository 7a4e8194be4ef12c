import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamTimers, UPSTREAM_END_GRACE_MS, type StreamTimerOwner } from './timers';

/** What the timers told their owner, in order. */
function owner(): StreamTimerOwner & { told: string[] } {
  const told: string[] = [];
  return {
    told,
    onUpstreamTimeout: (kind) => told.push(kind),
    onClientStalled: (idleMs) => told.push(`client stalled ${idleMs}`),
    onEndGraceOver: () => told.push('end grace over'),
  };
}

/** A response whose queued bytes the test sets (what writeProgress reads). */
const response = () =>
  ({ writableLength: 0, socket: null }) as unknown as ServerResponse & { writableLength: number };

describe('StreamTimers', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('times the first content against the TTFT deadline, then the upstream’s silence from its last chunk', () => {
    const o = owner();
    const t = new StreamTimers(o, response(), 1_000, 1_000);
    t.startTtft(500);
    vi.advanceTimersByTime(400);
    t.committed();
    vi.advanceTimersByTime(900);
    t.touch();
    vi.advanceTimersByTime(900);
    expect(o.told).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(o.told).toEqual(['stall']);
  });

  it('says ttft_timeout when no content came in time', () => {
    const o = owner();
    new StreamTimers(o, response(), 1_000, 1_000).startTtft(500);
    vi.advanceTimersByTime(500);
    expect(o.told).toEqual(['ttft_timeout']);
  });

  it('does not call the upstream stalled while the client is behind; watches the client instead', () => {
    const o = owner();
    const res = response();
    const t = new StreamTimers(o, res, 1_000, 2_000);
    t.startTtft(500);
    t.committed();
    t.behind();
    vi.advanceTimersByTime(1_500);
    // The client took bytes: its timeout starts again.
    res.writableLength = -1;
    vi.advanceTimersByTime(1_500);
    expect(o.told).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(o.told).toEqual(['client stalled 2000']);
  });

  it('times the upstream again once the client caught up', () => {
    const o = owner();
    const t = new StreamTimers(o, response(), 1_000, 5_000);
    t.startTtft(500);
    t.committed();
    t.behind();
    vi.advanceTimersByTime(3_000);
    t.caughtUp();
    vi.advanceTimersByTime(999);
    expect(o.told).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(o.told).toEqual(['stall']);
  });

  it('starts the end grace once, and clear() stops every timer', () => {
    const o = owner();
    const t = new StreamTimers(o, response(), 5_000, 5_000);
    t.startTtft(500);
    t.committed();
    t.startEndGrace();
    vi.advanceTimersByTime(UPSTREAM_END_GRACE_MS / 2);
    t.startEndGrace();
    vi.advanceTimersByTime(UPSTREAM_END_GRACE_MS / 2);
    expect(o.told).toEqual(['end grace over']);
    t.clear();
    vi.advanceTimersByTime(10_000);
    expect(o.told).toEqual(['end grace over']);
  });
});
