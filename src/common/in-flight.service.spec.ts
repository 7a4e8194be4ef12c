import { describe, expect, it, vi } from 'vitest';
import { InFlightService } from './in-flight.service';

describe('InFlightService', () => {
  it('counts what is tracked until it is released, and ignores a second release', () => {
    const inFlight = new InFlightService();
    const a = inFlight.track();
    const b = inFlight.track();
    expect(inFlight.count).toBe(2);
    a.release();
    a.release();
    expect(inFlight.count).toBe(1);
    b.release();
    expect(inFlight.count).toBe(0);
  });

  it('reuses released places without mixing up the requests in them', () => {
    const inFlight = new InFlightService();
    const stopped: string[] = [];
    const a = inFlight.track();
    a.onForceStop(() => stopped.push('a'));
    a.release();
    const b = inFlight.track();
    b.onForceStop(() => stopped.push('b'));
    // a's stale release must not drop b, which now sits where a was.
    a.release();
    expect(inFlight.count).toBe(1);
    expect(inFlight.forceStopAll()).toBe(1);
    expect(stopped).toEqual(['b']);
  });

  it('force-stops only the requests still in flight that said how to end', () => {
    const inFlight = new InFlightService();
    const ended = vi.fn();
    const handles = Array.from({ length: 5 }, () => inFlight.track());
    handles.forEach((h) => h.onForceStop(ended));
    handles[1]!.release();
    handles[3]!.release();
    inFlight.track(); // no force-stop registered
    expect(inFlight.forceStopAll()).toBe(3);
    expect(ended).toHaveBeenCalledTimes(3);
  });

  it('tells a waiting stop when the last request is released, or that time ran out', async () => {
    const inFlight = new InFlightService();
    expect(await inFlight.waitIdle(10)).toBe(true);
    const a = inFlight.track();
    expect(await inFlight.waitIdle(5)).toBe(false);
    const idle = inFlight.waitIdle(1000);
    a.release();
    expect(await idle).toBe(true);
  });
});
