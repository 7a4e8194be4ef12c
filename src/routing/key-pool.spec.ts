import { describe, expect, it } from 'vitest';
import { KeyPool, REJECTED_KEY_COOLDOWN_MS, type KeyPick, type PoolKeyConfig } from './key-pool';
import { seededRng } from '../common/rng';

const T0 = Date.parse('2026-11-21T10:00:00Z');

function manualClock() {
  return {
    t: T0,
    now() {
      return this.t;
    },
  };
}

function key(secret: string, over: Partial<PoolKeyConfig> = {}): PoolKeyConfig {
  return { key: secret, rpm_limit: 0, itpm_limit: 0, otpm_limit: 0, weight: 1, ...over };
}

function pool(keys: PoolKeyConfig[], clock = manualClock(), rng = seededRng(1)) {
  return { clock, pool: new KeyPool('anth', keys, clock, rng) };
}

function keyId(pick: KeyPick): string {
  if (pick.kind !== 'key') throw new Error(`expected a key, got ${pick.kind}`);
  return pick.keyId;
}

/** Picks n times, releasing each request at once, and counts picks per key id. */
function distribution(p: KeyPool, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = keyId(p.pick());
    counts[id] = (counts[id] ?? 0) + 1;
    p.release(id);
  }
  return counts;
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('KeyPool basics', () => {
  it('passes the client credentials through when the provider has no keys', () => {
    const { pool: p } = pool([]);
    expect(p.pick()).toEqual({ kind: 'passthrough' });
    expect(p.size).toBe(0);
    expect(p.soonestAvailableMs()).toBe(0);
  });

  it('hands out the secret with a stable, non-secret id', () => {
    const { pool: p } = pool(
      [key('sk-ant-api03-AAAA-1111'), key('sk-ant-api03-BBBB-2222')],
      manualClock(),
      () => 0,
    );
    const pick = p.pick();
    expect(pick).toMatchObject({ kind: 'key', keyId: 'anth#0', key: 'sk-ant-api03-AAAA-1111' });
  });
});

describe('KeyPool least-used distribution', () => {
  it('spreads evenly over unlimited keys of equal weight', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-x'), key('k2-secret-x')]);
    expect(distribution(p, 300)).toEqual({ 'anth#0': 100, 'anth#1': 100, 'anth#2': 100 });
  });

  it('shares unlimited keys by weight', () => {
    const { pool: p } = pool([key('k0-secret-x', { weight: 2 }), key('k1-secret-x', { weight: 1 })]);
    expect(distribution(p, 300)).toEqual({ 'anth#0': 200, 'anth#1': 100 });
  });

  it('shares limited keys in proportion to their limits', () => {
    const { pool: p } = pool([
      key('k0-secret-x', { rpm_limit: 300 }),
      key('k1-secret-x', { rpm_limit: 100 }),
    ]);
    expect(distribution(p, 200)).toEqual({ 'anth#0': 150, 'anth#1': 50 });
  });

  it('prefers the key with fewer requests in flight when usage is equal', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-x')], manualClock(), () => 0);
    const first = keyId(p.pick()); // anth#0, stays in flight
    const second = keyId(p.pick()); // anth#1: fewer requests in the window
    expect([first, second]).toEqual(['anth#0', 'anth#1']);
    p.release(second);
    // both have 1 request in the window; anth#1 has nothing in flight
    expect(keyId(p.pick())).toBe('anth#1');
  });

  it('breaks exact ties at random', () => {
    const keys = [key('k0-secret-x'), key('k1-secret-x')];
    expect(keyId(pool(keys, manualClock(), () => 0).pool.pick())).toBe('anth#0');
    expect(keyId(pool(keys, manualClock(), () => 0.99).pool.pick())).toBe('anth#1');
  });
});

describe('KeyPool local limits', () => {
  it('honours rpm_limit and frees the key as requests leave the 60 s window', () => {
    const { pool: p, clock } = pool([key('k0-secret-x', { rpm_limit: 2 })]);
    keyId(p.pick());
    clock.t += 10_000;
    keyId(p.pick());
    expect(p.pick()).toEqual({ kind: 'exhausted', retryAfterMs: 50_000 });
    clock.t += 49_999;
    expect(p.pick().kind).toBe('exhausted');
    clock.t += 1;
    expect(p.pick().kind).toBe('key');
  });

  it('honours itpm_limit with in-flight estimates and reported usage', () => {
    const { pool: p, clock } = pool([key('k0-secret-x', { itpm_limit: 1000 })]);
    const id = keyId(p.pick(600));
    // 600 reserved for the request in flight: another 600 does not fit yet
    expect(p.pick(600).kind).toBe('exhausted');
    expect(p.pick(300).kind).toBe('key');
    p.release(id);
    p.release(id);
    p.recordUsage(id, 700, 10);
    clock.t += 5_000;
    expect(p.pick(400)).toEqual({ kind: 'exhausted', retryAfterMs: 55_000 });
    expect(p.pick(300).kind).toBe('key');
  });

  it('lets a request bigger than the whole itpm limit through only on an empty window', () => {
    const { pool: p, clock } = pool([key('k0-secret-x', { itpm_limit: 1000 })]);
    const id = keyId(p.pick(5000));
    p.release(id);
    p.recordUsage(id, 5000, 0);
    expect(p.pick(5000)).toEqual({ kind: 'exhausted', retryAfterMs: 60_000 });
    clock.t += 60_000;
    expect(p.pick(5000).kind).toBe('key');
  });

  it('honours otpm_limit from reported output tokens', () => {
    const { pool: p, clock } = pool([key('k0-secret-x', { otpm_limit: 500 })]);
    const id = keyId(p.pick());
    p.release(id);
    p.recordUsage(id, 10, 500);
    clock.t += 1_000;
    expect(p.pick()).toEqual({ kind: 'exhausted', retryAfterMs: 59_000 });
  });

  it('moves to the other key when one reaches its limit', () => {
    const { pool: p } = pool([key('k0-secret-x', { rpm_limit: 1 }), key('k1-secret-x', { rpm_limit: 1 })]);
    const ids = [keyId(p.pick()), keyId(p.pick())].sort();
    expect(ids).toEqual(['anth#0', 'anth#1']);
    expect(p.pick().kind).toBe('exhausted');
  });
});

describe('KeyPool cooldown after 429', () => {
  it('cools the key for its retry-after while the other key takes the traffic', () => {
    const { pool: p, clock } = pool([key('k0-secret-x'), key('k1-secret-x')], manualClock(), () => 0);
    const limited = keyId(p.pick());
    p.release(limited);
    p.recordResponse(limited, 429, { 'retry-after': '2' });
    expect(p.hasAvailableKey()).toBe(true);
    for (let i = 0; i < 5; i++) {
      const id = keyId(p.pick());
      expect(id).not.toBe(limited);
      p.release(id);
    }
    clock.t += 1_999;
    expect(keyId(p.pick())).not.toBe(limited);
    clock.t += 1;
    expect(distribution(p, 10)[limited]).toBeGreaterThan(0);
  });

  it('answers exhausted with the soonest key when all are cooling', () => {
    const { pool: p, clock } = pool([key('k0-secret-x'), key('k1-secret-x')]);
    p.recordResponse('anth#0', 429, { 'retry-after': '5' });
    p.recordResponse('anth#1', 429, { 'retry-after-ms': '2500' });
    expect(p.pick()).toEqual({ kind: 'exhausted', retryAfterMs: 2500 });
    expect(p.soonestAvailableMs()).toBe(2500);
    expect(p.hasAvailableKey()).toBe(false);
    clock.t += 2500;
    expect(keyId(p.pick())).toBe('anth#1');
  });

  it('backs off by a doubling default when the 429 has no retry-after, and a success resets it', () => {
    const { pool: p, clock } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 429, {});
    expect(p.soonestAvailableMs()).toBe(1_000);
    clock.t += 1_000;
    p.recordResponse('anth#0', 429, {});
    expect(p.soonestAvailableMs()).toBe(2_000);
    clock.t += 2_000;
    p.recordResponse('anth#0', 429, {});
    expect(p.soonestAvailableMs()).toBe(4_000);
    clock.t += 4_000;
    p.recordResponse('anth#0', 200, {});
    p.recordResponse('anth#0', 429, {});
    expect(p.soonestAvailableMs()).toBe(1_000);
  });

  it('parks nothing on a 401 by itself: the request may have caused it (the rejection policy decides)', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 401, {});
    expect(p.snapshot()[0]).toMatchObject({ available: true, rejected: null });
    expect(p.pick().kind).toBe('key');
  });

  it('skips a held key (a 401 being confirmed) only for the hold, and hold(0) puts it back', () => {
    const { pool: p, clock } = pool([key('k0-secret-x'), key('k1-secret-y')]);
    p.hold('anth#0', 5_000);
    expect(distribution(p, 4)).toEqual({ 'anth#1': 4 });
    expect(p.snapshot()[0]?.rejected).toBeNull();
    clock.t += 5_000;
    expect(p.snapshot()[0]?.available).toBe(true);
    p.hold('anth#1', 5_000);
    p.hold('anth#1', 0);
    expect(p.snapshot()[1]?.available).toBe(true);
  });

  it('clearPenalties (admin reset) brings back parked, held and cooling keys and counts them', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-y'), key('k2-secret-z')]);
    p.reject('anth#0');
    p.recordResponse('anth#1', 429, { 'retry-after': '30' });
    p.hold('anth#2', 5_000);
    expect(p.clearPenalties()).toEqual({ parked: 1, cooling: 1 });
    expect(p.snapshot().map((k) => k.available)).toEqual([true, true, true]);
    expect(p.clearPenalties()).toEqual({ parked: 0, cooling: 0 });
  });

  it('takes a key the provider rejected (401) out of rotation for REJECTED_KEY_COOLDOWN_MS, and shows why', () => {
    const { pool: p, clock } = pool([key('k0-secret-x'), key('k1-secret-y')]);
    p.reject('anth#0');
    expect(distribution(p, 10)).toEqual({ 'anth#1': 10 });
    const [k0, k1] = p.snapshot();
    expect(k0).toMatchObject({ available: false, rejected: { status: 401, at: iso(T0) } });
    expect(k1?.rejected).toBeNull();
    // Alone, it is still exhausted until the cooldown ends, then tried again.
    p.reject('anth#1');
    const none = p.pick();
    expect(none).toMatchObject({ kind: 'exhausted', retryAfterMs: REJECTED_KEY_COOLDOWN_MS });
    clock.t += REJECTED_KEY_COOLDOWN_MS;
    expect(p.pick().kind).toBe('key');
    // Retried after the cooldown, a key that is now only rate-limited is no longer "rejected".
    p.recordResponse('anth#0', 429, { 'retry-after': '30' });
    expect(p.snapshot()[0]?.rejected).toBeNull();
    expect(p.allRejected()).toBe(false);
  });

  it('parks a key whose account is out of credit (402) the same way, and shows the 402', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-y')]);
    p.reject('anth#1', 402);
    expect(distribution(p, 4)).toEqual({ 'anth#0': 4 });
    expect(p.snapshot()[1]).toMatchObject({ available: false, rejected: { status: 402, at: iso(T0) } });
  });

  it('puts a rejected key back at once when a request of it that was in flight succeeds', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.reject('anth#0');
    expect(p.pick().kind).toBe('exhausted');
    p.recordResponse('anth#0', 200, {});
    expect(p.snapshot()[0]).toMatchObject({ available: true, rejected: null });
    expect(p.allRejected()).toBe(false);
    expect(p.pick().kind).toBe('key');
  });

  it('says when every key is out of rotation for a rejection, not merely cooling down', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-y')]);
    p.reject('anth#0');
    expect(p.allRejected()).toBe(false);
    p.recordResponse('anth#1', 429, { 'retry-after': '30' });
    expect(p.allRejected()).toBe(false); // one is only rate-limited
    p.reject('anth#1');
    expect(p.allRejected()).toBe(true);
    expect(pool([]).pool.allRejected()).toBe(false);
  });

  it('ignores statuses other than 429 and 401 for cooldowns, and unknown key ids', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 529, { 'retry-after': '30' });
    p.recordResponse('anth#0', 500, {});
    p.recordResponse('anth#0', 403, {});
    p.recordResponse('nope#9', 429, { 'retry-after': '30' });
    expect(p.pick().kind).toBe('key');
  });
});

describe('KeyPool learned rate-limit headers', () => {
  it('steers away from a key whose requests remaining is zero until its reset', () => {
    const { pool: p, clock } = pool([key('k0-secret-x'), key('k1-secret-x')]);
    p.recordResponse('anth#0', 200, {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': iso(T0 + 30_000),
    });
    expect(distribution(p, 10)).toEqual({ 'anth#1': 10 });
    clock.t += 30_000;
    expect(distribution(p, 10)['anth#0']).toBeGreaterThan(0);
  });

  it('counts its own requests against the learned remaining, stopping before the upstream says 429', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 200, {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '2',
      'anthropic-ratelimit-requests-reset': iso(T0 + 20_000),
    });
    expect(p.pick().kind).toBe('key');
    expect(p.pick().kind).toBe('key');
    expect(p.pick()).toEqual({ kind: 'exhausted', retryAfterMs: 20_000 });
  });

  it('keeps a large request off a key whose input-token remaining cannot cover it', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 200, {
      'anthropic-ratelimit-input-tokens-limit': '10000',
      'anthropic-ratelimit-input-tokens-remaining': '500',
      'anthropic-ratelimit-input-tokens-reset': iso(T0 + 10_000),
    });
    expect(p.pick(800)).toEqual({ kind: 'exhausted', retryAfterMs: 10_000 });
    expect(p.pick(400).kind).toBe('key');
    // 100 left by our own count
    expect(p.pick(200).kind).toBe('exhausted');
  });

  it('prefers the key with more learned headroom', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-x')]);
    const headers = (remaining: number) => ({
      'anthropic-ratelimit-tokens-limit': '100000',
      'anthropic-ratelimit-tokens-remaining': String(remaining),
      'anthropic-ratelimit-tokens-reset': iso(T0 + 60_000),
    });
    p.recordResponse('anth#0', 200, headers(10_000));
    p.recordResponse('anth#1', 200, headers(90_000));
    expect(distribution(p, 5)).toEqual({ 'anth#1': 5 });
  });

  it('stops a key whose output-token remaining is used up', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 200, {
      'anthropic-ratelimit-output-tokens-remaining': '0',
      'anthropic-ratelimit-output-tokens-reset': iso(T0 + 7_000),
    });
    expect(p.pick()).toEqual({ kind: 'exhausted', retryAfterMs: 7_000 });
  });

  it('learns from the headers of a 429 too', () => {
    const { pool: p } = pool([key('k0-secret-x')]);
    p.recordResponse('anth#0', 429, {
      'retry-after': '1',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': iso(T0 + 15_000),
    });
    expect(p.soonestAvailableMs()).toBe(15_000);
  });
});

describe('KeyPool drain, reload and snapshot', () => {
  it('drains a key with weight 0, but uses keys anyway when all are drained', () => {
    expect(distribution(pool([key('k0-secret-x', { weight: 0 }), key('k1-secret-x')]).pool, 5)).toEqual({
      'anth#1': 5,
    });
    expect(distribution(pool([key('k0-secret-x', { weight: 0 })]).pool, 2)).toEqual({ 'anth#0': 2 });
  });

  it('keeps a key’s state across a reload when its secret is unchanged', () => {
    const { pool: p } = pool([key('k0-secret-x'), key('k1-secret-x')]);
    p.recordResponse('anth#1', 429, { 'retry-after': '30' });
    p.reconfigure([key('k1-secret-x'), key('k2-secret-x')]);
    expect(p.size).toBe(2);
    const snap = p.snapshot();
    expect(snap.map((s) => s.id)).toEqual(['anth#1', 'anth#2']);
    expect(snap[0]).toMatchObject({ available: false, retry_after_ms: 30_000 });
    expect(distribution(p, 3)).toEqual({ 'anth#2': 3 });
  });

  it('shows masked keys, cooldowns, usage and learned limits, never the secret', () => {
    const secret = 'sk-ant-api03-SECRETSECRET-abcd';
    const { pool: p } = pool([key(secret, { rpm_limit: 50 })]);
    const id = keyId(p.pick(100));
    p.recordResponse(id, 200, {
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': iso(T0 + 1_000),
    });
    p.recordUsage(id, 100, 20);
    const [s] = p.snapshot();
    expect(JSON.stringify(p.snapshot())).not.toContain('SECRETSECRET');
    expect(s).toMatchObject({
      id: 'anth#0',
      key: 'sk-ant-…abcd',
      in_flight: 1,
      available: true,
      cooldown_until: null,
      limits: { rpm: 50, itpm: 0, otpm: 0 },
      usage: { window_ms: 60_000, requests: 1, input_tokens: 100, output_tokens: 20 },
      learned: { requests: { limit: 50, remaining: 49, reset: iso(T0 + 1_000) } },
    });
    p.release(id);
    p.recordResponse(id, 429, { 'retry-after': '3' });
    expect(p.snapshot()[0]).toMatchObject({
      in_flight: 0,
      cooldown_until: iso(T0 + 3_000),
      available: false,
    });
  });
});
