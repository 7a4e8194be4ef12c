import { describe, expect, it } from 'vitest';
import { Cancellation, sleepUnlessCancelled } from './cancellation';

describe('Cancellation', () => {
  it('aborts once and cancels its children, which can be released', () => {
    const parent = new Cancellation();
    const child = parent.child();
    const released = parent.child();
    released.release();
    let fired = 0;
    child.on('abort', () => fired++);
    parent.abort();
    parent.abort();
    expect(child.aborted).toBe(true);
    expect(released.aborted).toBe(false);
    expect(fired).toBe(1);
    expect(parent.child().aborted).toBe(true);
  });

  it('sleepUnlessCancelled resolves false as soon as the token is cancelled', async () => {
    const token = new Cancellation();
    const waiting = sleepUnlessCancelled(60_000, token);
    token.abort();
    expect(await waiting).toBe(false);
    expect(await sleepUnlessCancelled(1, new Cancellation())).toBe(true);
  });
});
