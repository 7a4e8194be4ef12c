import { describe, expect, it } from 'vitest';
import {
  decideKey401,
  KEY_CONFIRM_HOLD_MS,
  keyCheckOfStatus,
  needsKeyCheck,
  requestExplains401,
  SECOND_401_WINDOW_MS,
} from './key-rejection';

describe('requestExplains401', () => {
  it('blames the request when it asked for OAuth through anthropic-beta, in any case or list position', () => {
    expect(requestExplains401({ 'anthropic-beta': 'oauth-2025-04-20' })).toBe(true);
    expect(requestExplains401({ 'anthropic-beta': 'prompt-caching-2024-07-31,OAuth-2025-04-20' })).toBe(true);
    expect(requestExplains401({ 'anthropic-beta': ['x', 'oauth-2025-04-20'] })).toBe(true);
  });

  it('does not blame a request without such a header', () => {
    expect(requestExplains401({})).toBe(false);
    expect(requestExplains401({ 'anthropic-beta': 'prompt-caching-2024-07-31' })).toBe(false);
    expect(needsKeyCheck(false)).toBe(true);
    expect(needsKeyCheck(true)).toBe(false);
  });
});

describe('keyCheckOfStatus', () => {
  it('reads 401/403 as the key refused, 2xx as the key working, anything else as no information', () => {
    expect(keyCheckOfStatus(401)).toBe('rejected');
    expect(keyCheckOfStatus(403)).toBe('rejected');
    expect(keyCheckOfStatus(200)).toBe('accepted');
    for (const s of [404, 429, 500, 529, undefined]) expect(keyCheckOfStatus(s)).toBe('unknown');
  });
});

describe('decideKey401', () => {
  const now = 1_000_000;

  it('never parks on a 401 the request explains, and passes it to the client', () => {
    expect(decideKey401({ explainedByRequest: true, check: 'rejected', nowMs: now })).toEqual({
      park: false,
      requestCaused: true,
      holdMs: 0,
    });
  });

  it('parks once the check confirms the key is refused', () => {
    expect(decideKey401({ explainedByRequest: false, check: 'rejected', nowMs: now })).toMatchObject({
      park: true,
      requestCaused: false,
    });
  });

  it('keeps the key when the check shows it works: the request caused the 401', () => {
    expect(
      decideKey401({ explainedByRequest: false, check: 'accepted', earlierOther401At: now, nowMs: now }),
    ).toEqual({ park: false, requestCaused: true, holdMs: 0 });
  });

  it('with no verdict, holds the key briefly, and parks on a second 401 from another request soon after', () => {
    expect(decideKey401({ explainedByRequest: false, check: 'unknown', nowMs: now })).toEqual({
      park: false,
      requestCaused: false,
      holdMs: KEY_CONFIRM_HOLD_MS,
    });
    expect(
      decideKey401({
        explainedByRequest: false,
        check: 'unknown',
        earlierOther401At: now - 1_000,
        nowMs: now,
      }),
    ).toMatchObject({ park: true });
    expect(
      decideKey401({
        explainedByRequest: false,
        check: 'unknown',
        earlierOther401At: now - SECOND_401_WINDOW_MS - 1,
        nowMs: now,
      }),
    ).toMatchObject({ park: false, holdMs: KEY_CONFIRM_HOLD_MS });
    expect(KEY_CONFIRM_HOLD_MS).toBeLessThanOrEqual(10_000);
  });
});
