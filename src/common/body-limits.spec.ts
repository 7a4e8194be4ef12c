import { describe, expect, it } from 'vitest';
import {
  BodyDeadlines,
  bodyExpiry,
  ConnectionsPerAddress,
  InflightBodyBudget,
  type BodyExpiry,
} from './body-limits';

const settings = { timeoutMs: 30_000, minBytesPerSecond: 1024, graceMs: 3_000 };
const body = (bytes: number) => ({ startedAt: 0, startBytes: 100, bytesRead: () => 100 + bytes });

describe('bodyExpiry', () => {
  it('gives a body its grace period before judging its rate', () => {
    expect(bodyExpiry(body(0), 2_999, settings)).toBeUndefined();
    expect(bodyExpiry(body(0), 3_000, settings)).toBe('too_slow');
    expect(bodyExpiry(body(4_000), 3_000, settings)).toBeUndefined();
  });

  it('times a body out at timeoutMs whatever its rate, and 0 turns each limit off', () => {
    expect(bodyExpiry(body(10_000_000), 30_000, settings)).toBe('timeout');
    expect(bodyExpiry(body(0), 60_000, { ...settings, timeoutMs: 0, minBytesPerSecond: 0 })).toBeUndefined();
  });
});

describe('BodyDeadlines', () => {
  it('expires only the bodies over a limit, once', () => {
    type Tracked = ReturnType<typeof body> & { expire(why: BodyExpiry): void; why?: BodyExpiry };
    const tracked = (bytes: number): Tracked => {
      const t: Tracked = { ...body(bytes), expire: (why) => (t.why = why) };
      return t;
    };
    const deadlines = new BodyDeadlines<Tracked>(settings);
    const slow = tracked(10);
    const fast = tracked(100_000);
    deadlines.add(slow);
    deadlines.add(fast);
    deadlines.sweep(5_000);
    deadlines.sweep(6_000);
    expect(slow.why).toBe('too_slow');
    expect(fast.why).toBeUndefined();
    expect(deadlines.size).toBe(1);
  });
});

describe('InflightBodyBudget', () => {
  it('admits while the bytes fit, always admits one body alone, and releases', () => {
    const b = new InflightBodyBudget(100);
    expect(b.tryTake(60)).toBe(true);
    expect(b.tryTake(50)).toBe(false);
    expect(b.tryTake(40)).toBe(true);
    b.release(100);
    expect(b.used).toBe(0);
    expect(b.tryTake(500)).toBe(true);
    expect(new InflightBodyBudget(0).tryTake(1e12)).toBe(true);
  });
});

describe('ConnectionsPerAddress', () => {
  it('caps each address on its own', () => {
    const c = new ConnectionsPerAddress(2);
    expect([c.tryOpen('a'), c.tryOpen('a'), c.tryOpen('a'), c.tryOpen('b')]).toEqual([
      true,
      true,
      false,
      true,
    ]);
    c.close('a');
    expect(c.tryOpen('a')).toBe(true);
    expect(c.count('a')).toBe(2);
  });
});
