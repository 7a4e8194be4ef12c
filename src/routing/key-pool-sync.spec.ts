import { describe, expect, it } from 'vitest';
import { seededRng } from '../common/rng';
import { KeyPool, REJECTED_KEY_COOLDOWN_MS, type PoolKeyConfig } from './key-pool';
import {
  keyFingerprint,
  type KeyPoolSync,
  type SharedAdmission,
  type SharedKeyLimits,
  type SharedPenalty,
} from './key-sync';

// KeyPool's side of cluster mode, against a recording fake of the shared state (the Redis side has its own spec
// in src/cluster, against real Redis).

class FakeClock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
}

class FakeSync implements KeyPoolSync {
  admits: { candidates: SharedKeyLimits[]; estimate: number }[] = [];
  settles: [string, number, number][] = [];
  penalties: [string, SharedPenalty][] = [];
  learnedCalls = 0;
  clears = 0;
  answer: SharedAdmission | undefined = { admitted: true, index: 0 };
  admit(candidates: readonly SharedKeyLimits[], estimate: number): Promise<SharedAdmission | undefined> {
    this.admits.push({ candidates: [...candidates], estimate });
    return Promise.resolve(this.answer);
  }
  settle(fp: string, inputDelta: number, output: number): void {
    this.settles.push([fp, inputDelta, output]);
  }
  penalise(fp: string, penalty: SharedPenalty): void {
    this.penalties.push([fp, penalty]);
  }
  learned(): void {
    this.learnedCalls++;
  }
  clear(): void {
    this.clears++;
  }
}

const key = (secret: string, limits: Partial<PoolKeyConfig> = {}): PoolKeyConfig => ({
  key: secret,
  rpm_limit: 0,
  itpm_limit: 0,
  otpm_limit: 0,
  weight: 1,
  ...limits,
});

function pool(keys: PoolKeyConfig[], clock = new FakeClock()): KeyPool {
  return new KeyPool('p', keys, clock, seededRng(7));
}

describe('KeyPool in cluster mode (KeyPoolSync)', () => {
  it('without shared state, acquire answers exactly like pick (no promise)', () => {
    const keys = [key('k-a', { rpm_limit: 2 }), key('k-b')];
    const a = pool(keys);
    const b = pool(keys);
    for (let i = 0; i < 10; i++) {
      const acquired = a.acquire(100);
      expect(acquired).not.toBeInstanceOf(Promise);
      expect(acquired).toEqual(b.pick(100));
    }
  });

  it('asks nothing of the shared state for keys without limits', async () => {
    const p = pool([key('k-a'), key('k-b')]);
    const sync = new FakeSync();
    p.attach(sync);
    for (let i = 0; i < 5; i++) {
      const pick = await p.acquire(10);
      expect(pick.kind).toBe('key');
      if (pick.kind === 'key') p.recordUsage(pick.keyId, 10, 5);
    }
    expect(sync.admits).toHaveLength(0);
    expect(sync.settles).toHaveLength(0);
  });

  it('admits keys with limits through one call naming them by fingerprint, best first, up to a key without limits', async () => {
    const p = pool([key('k-a', { rpm_limit: 10 }), key('k-b', { itpm_limit: 1_000 }), key('k-c')]);
    const sync = new FakeSync();
    p.attach(sync);
    sync.answer = { admitted: false, retryAfterMs: 5_000 };
    // k-c is half used by its learned limits: it ranks last, after both limited keys.
    p.applyLearned(keyFingerprint('k-c'), 'requests', { limit: 100, remaining: 50, observedAtMs: 1_000_000 });
    const pick = await p.acquire(50);
    expect(sync.admits).toHaveLength(1);
    const call = sync.admits[0]!;
    expect(call.estimate).toBe(50);
    expect(call.candidates.map((c) => c.fingerprint).sort()).toEqual(
      [keyFingerprint('k-a'), keyFingerprint('k-b')].sort(),
    );
    expect(call.candidates.find((c) => c.fingerprint === keyFingerprint('k-b'))).toEqual({
      fingerprint: keyFingerprint('k-b'),
      rpm: 0,
      itpm: 1_000,
      otpm: 0,
    });
    // The shared side refused both limited keys: k-c, without limits, takes the request.
    expect(pick).toMatchObject({ kind: 'key', keyId: 'p#2' });
  });

  it('takes the key the shared side admitted and counts the request locally too', async () => {
    const p = pool([key('k-a', { rpm_limit: 10 }), key('k-b', { rpm_limit: 10 })]);
    const sync = new FakeSync();
    p.attach(sync);
    sync.answer = { admitted: true, index: 1 };
    const pick = await p.acquire();
    const second = sync.admits[0]!.candidates[1]!.fingerprint;
    expect(pick.kind).toBe('key');
    const chosen = p.snapshot().find((k) => k.id === (pick.kind === 'key' ? pick.keyId : ''))!;
    expect(keyFingerprint(chosen.id === 'p#0' ? 'k-a' : 'k-b')).toBe(second);
    expect(chosen.usage.requests).toBe(1);
    expect(chosen.in_flight).toBe(1);
  });

  it('answers exhausted with the shared wait when every limited key is full cluster-wide', async () => {
    const p = pool([key('k-a', { rpm_limit: 10 })]);
    const sync = new FakeSync();
    p.attach(sync);
    sync.answer = { admitted: false, retryAfterMs: 12_345 };
    expect(await p.acquire()).toEqual({ kind: 'exhausted', retryAfterMs: 12_345 });
  });

  it('decides on its own counts when the shared state does not answer', async () => {
    const p = pool([key('k-a', { rpm_limit: 1 })]);
    const sync = new FakeSync();
    p.attach(sync);
    sync.answer = undefined;
    expect((await p.acquire()).kind).toBe('key');
    // The local window now holds the limit of 1: the pool refuses without asking.
    expect((await p.acquire()).kind).toBe('exhausted');
    expect(sync.admits).toHaveLength(1);
  });

  it('tells the shared side of cooldowns, parking, un-parking, resets and learned headers', () => {
    const clock = new FakeClock();
    const p = pool([key('k-a')], clock);
    const sync = new FakeSync();
    p.attach(sync);
    const fp = keyFingerprint('k-a');
    p.recordResponse('p#0', 429, { 'retry-after': '3' });
    expect(sync.penalties.at(-1)).toEqual([fp, { cooldownUntil: clock.t + 3_000 }]);
    p.reject('p#0');
    expect(sync.penalties.at(-1)).toEqual([
      fp,
      { rejectedUntil: clock.t + REJECTED_KEY_COOLDOWN_MS, rejectedAt: clock.t },
    ]);
    clock.t += 10;
    p.recordResponse('p#0', 200, { 'anthropic-ratelimit-requests-remaining': '5' });
    expect(sync.penalties.at(-1)).toEqual([fp, { acceptedAt: clock.t }]);
    expect(sync.learnedCalls).toBe(1);
    // A success of a key that was not parked says nothing.
    const before = sync.penalties.length;
    p.recordResponse('p#0', 200, {});
    expect(sync.penalties).toHaveLength(before);
    p.clearPenalties();
    expect(sync.clears).toBe(1);
  });

  it('corrects the estimate counted at admission to the usage, and gives it back for a failed answer', async () => {
    const p = pool([key('k-a', { itpm_limit: 10_000, otpm_limit: 10_000 })]);
    const sync = new FakeSync();
    p.attach(sync);
    const fp = keyFingerprint('k-a');
    await p.acquire(400);
    p.release('p#0');
    p.recordResponse('p#0', 200, {});
    p.recordUsage('p#0', 300, 50);
    expect(sync.settles).toEqual([[fp, -100, 50]]);
    await p.acquire(400);
    p.release('p#0');
    p.recordResponse('p#0', 529, {});
    expect(sync.settles.at(-1)).toEqual([fp, -400, 0]);
  });

  it('honours what other replicas shared: penalties, learned limits, a reset', () => {
    const clock = new FakeClock();
    const p = pool([key('k-a'), key('k-b')], clock);
    const fpA = keyFingerprint('k-a');
    p.applyPenalty(fpA, { cooldownUntil: clock.t + 2_000 });
    expect(p.snapshot()[0]!.retry_after_ms).toBe(2_000);
    p.applyPenalty(keyFingerprint('k-b'), { rejectedUntil: clock.t + 60_000, rejectedAt: clock.t });
    expect(p.snapshot()[1]!.rejected).not.toBeNull();
    p.applyPenalty(keyFingerprint('k-b'), { acceptedAt: clock.t + 1 });
    expect(p.snapshot()[1]!.rejected).toBeNull();
    p.applyLearned(fpA, 'requests', { limit: 50, remaining: 0, observedAtMs: clock.t });
    expect(p.snapshot()[0]!.learned.requests).toMatchObject({ limit: 50, remaining: 0 });
    p.applyClear();
    expect(p.snapshot()[0]!.cooldown_until).toBeNull();
  });

  it('keeps its own learned headers over an older observation from another replica', () => {
    const clock = new FakeClock();
    const p = pool([key('k-a')], clock);
    p.recordResponse('p#0', 200, {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '40',
    });
    p.applyLearned(keyFingerprint('k-a'), 'requests', { limit: 50, remaining: 3, observedAtMs: clock.t - 1 });
    expect(p.snapshot()[0]!.learned.requests?.remaining).toBe(40);
    p.applyLearned(keyFingerprint('k-a'), 'requests', { limit: 50, remaining: 3, observedAtMs: clock.t + 1 });
    expect(p.snapshot()[0]!.learned.requests?.remaining).toBe(3);
  });
});
