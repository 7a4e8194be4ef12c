import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Cancellation } from '../common/cancellation';
import { ConnectionGate } from './connection-gate';
import { upstreamErrorKind } from './upstream-error';

describe('ConnectionGate', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('admits up to its limit at once', () => {
    const gate = new ConnectionGate(2);
    expect(gate.tryAcquire()).toBe(true);
    expect(gate.tryAcquire()).toBe(true);
    expect(gate.tryAcquire()).toBe(false);
    gate.release();
    expect(gate.tryAcquire()).toBe(true);
    expect(gate.inUse).toBe(2);
  });

  it('hands a released connection to the longest waiting request, and nobody overtakes the queue', async () => {
    const gate = new ConnectionGate(1);
    gate.tryAcquire();
    const order: string[] = [];
    const first = gate.wait(new Cancellation(), 1_000).then(() => order.push('first'));
    const second = gate.wait(new Cancellation(), 1_000).then(() => order.push('second'));
    gate.release();
    expect(gate.tryAcquire()).toBe(false);
    await first;
    expect(order).toEqual(['first']);
    expect(gate.inUse).toBe(1);
    gate.release();
    await second;
    expect(order).toEqual(['first', 'second']);
    gate.release();
    expect(gate.inUse).toBe(0);
    expect(gate.waiting).toBe(0);
  });

  it('gives up on a request that waited its whole time, as a pool_timeout, and forgets it', async () => {
    const gate = new ConnectionGate(1);
    gate.tryAcquire();
    const waited = gate.wait(new Cancellation(), 500).catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(499);
    expect(gate.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(upstreamErrorKind(await waited)).toBe('pool_timeout');
    expect(gate.waiting).toBe(0);
    gate.release();
    expect(gate.inUse).toBe(0);
  });

  it('lets a cancelled request go at once, with its token’s reason', async () => {
    const gate = new ConnectionGate(1);
    gate.tryAcquire();
    const token = new Cancellation();
    const waited = gate.wait(token, 10_000).catch((err: unknown) => err);
    const reason = new Error('client left');
    token.abort(reason);
    expect(await waited).toBe(reason);
    expect(gate.waiting).toBe(0);
    expect(token.listenerCount('abort')).toBe(0);
    const already = gate.wait(token, 10_000).catch((err: unknown) => err);
    expect(await already).toBe(reason);
  });
});
