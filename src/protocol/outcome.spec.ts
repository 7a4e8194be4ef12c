import { describe, expect, it } from 'vitest';
import {
  classifyOutcome,
  keyPoolExhaustedOutcome,
  parseRetryAfterMs,
  type OutcomeKind,
  type UpstreamErrorKind,
} from './outcome';

describe('classifyOutcome by status', () => {
  const rows: Array<[number, OutcomeKind, boolean]> = [
    [200, 'success', false],
    [201, 'success', false],
    [400, 'permanent', false],
    [401, 'permanent', false],
    [402, 'permanent', false],
    [403, 'permanent', false],
    [404, 'permanent', false],
    [413, 'permanent', false],
    [422, 'permanent', false],
    [408, 'transient', false],
    [409, 'transient', false],
    [429, 'rate_limited', true],
    [500, 'transient', true],
    [501, 'transient', true],
    [502, 'transient', true],
    [503, 'transient', true],
    [504, 'transient', true],
    [529, 'transient', true],
    [599, 'transient', true],
    [301, 'transient', true],
  ];
  it.each(rows)('%i is %s, breaker failure %s', (status, kind, breakerFailure) => {
    const outcome = classifyOutcome({ status });
    expect(outcome.kind).toBe(kind);
    expect(outcome.breakerFailure).toBe(breakerFailure);
    expect(outcome.status).toBe(status);
  });

  it('a 401 to a key of the relay’s own pool is key_rejected (the relay’s fault), not the client’s 401', () => {
    expect(classifyOutcome({ status: 401, relayKey: true })).toMatchObject({
      kind: 'key_rejected',
      breakerFailure: false,
    });
    // A pass-through provider got the client's own credential: its 401 is the client's.
    expect(classifyOutcome({ status: 401, relayKey: false }).kind).toBe('permanent');
    // 403 can be about one model or feature: the upstream's word reaches the client.
    expect(classifyOutcome({ status: 403, relayKey: true }).kind).toBe('permanent');
  });

  it('a 402 to the relay’s own credential is key_rejected: that account is dry, another key or provider may serve', () => {
    expect(classifyOutcome({ status: 402, relayKey: true })).toMatchObject({
      kind: 'key_rejected',
      status: 402,
      breakerFailure: false,
    });
    // The client's own credential is out of credit: the client's to fix, passed to it as it is.
    expect(classifyOutcome({ status: 402, relayKey: false }).kind).toBe('permanent');
  });
});

describe('classifyOutcome of count_tokens', () => {
  it.each([404, 405])(
    'a %i to count_tokens means the provider lacks the endpoint, not a failure',
    (status) => {
      expect(classifyOutcome({ status, countTokens: true })).toMatchObject({
        kind: 'unsupported',
        status,
        breakerFailure: false,
      });
    },
  );

  it('leaves every other count_tokens answer, and a 404 to messages, as they were', () => {
    expect(classifyOutcome({ status: 404 }).kind).toBe('permanent');
    expect(classifyOutcome({ status: 400, countTokens: true }).kind).toBe('permanent');
    expect(classifyOutcome({ status: 200, countTokens: true }).kind).toBe('success');
    expect(classifyOutcome({ status: 503, countTokens: true }).kind).toBe('transient');
  });
});

describe('classifyOutcome by transport error', () => {
  const kinds: UpstreamErrorKind[] = [
    'connect_refused',
    'connect_timeout',
    'dns',
    'reset',
    'headers_timeout',
    'body_timeout',
    'ttft_timeout',
    'stall',
    'protocol',
  ];
  it.each(kinds)('%s is a transient breaker failure', (error) => {
    const outcome = classifyOutcome({ error });
    expect(outcome).toMatchObject({ kind: 'transient', error, breakerFailure: true });
  });

  it('a request that never got a free connection of the relay is retried elsewhere but not held against the breaker', () => {
    expect(classifyOutcome({ error: 'pool_timeout' })).toMatchObject({
      kind: 'transient',
      error: 'pool_timeout',
      breakerFailure: false,
    });
  });

  it('an error after a 200 (stream stalled) is still a failed attempt', () => {
    expect(classifyOutcome({ status: 200, error: 'stall' })).toMatchObject({
      kind: 'transient',
      status: 200,
      breakerFailure: true,
    });
  });

  it('an answer too large to hold is permanent and not the provider’s failure', () => {
    expect(classifyOutcome({ status: 200, error: 'too_large' })).toMatchObject({
      kind: 'permanent',
      error: 'too_large',
      breakerFailure: false,
    });
  });

  it('neither status nor error is treated as a malformed upstream answer', () => {
    expect(classifyOutcome({})).toMatchObject({ kind: 'transient', error: 'protocol', breakerFailure: true });
  });
});

describe('classifyOutcome when the client cancelled', () => {
  it('never blames the provider, whatever else happened', () => {
    for (const input of [{ status: 503 }, { error: 'reset' as const }, { status: 429 }, {}]) {
      expect(classifyOutcome({ ...input, clientCancelled: true })).toMatchObject({
        kind: 'client_cancelled',
        breakerFailure: false,
      });
    }
  });
});

describe('classifyOutcome retry hints', () => {
  it('carries retry-after on a 429', () => {
    expect(classifyOutcome({ status: 429, headers: { 'retry-after': '2' } }).retryAfterMs).toBe(2000);
  });

  it('carries retry-after on a 529', () => {
    expect(classifyOutcome({ status: 529, headers: { 'retry-after': '1' } }).retryAfterMs).toBe(1000);
  });

  it('has no hint when the header is absent', () => {
    const outcome = classifyOutcome({ status: 429, headers: {} });
    expect(outcome.retryAfterMs).toBeUndefined();
    expect('retryAfterMs' in outcome).toBe(false);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');

  it('prefers retry-after-ms (float milliseconds)', () => {
    expect(parseRetryAfterMs({ 'retry-after-ms': '1500.5', 'retry-after': '9' }, now)).toBe(1501);
  });

  it('reads retry-after as float seconds', () => {
    expect(parseRetryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(parseRetryAfterMs({ 'retry-after': '0.25' }, now)).toBe(250);
    expect(parseRetryAfterMs({ 'retry-after': '0' }, now)).toBe(0);
  });

  it('reads retry-after as an HTTP date relative to now', () => {
    expect(parseRetryAfterMs({ 'retry-after': 'Sat, 21 Nov 2026 10:00:30 GMT' }, now)).toBe(30_000);
  });

  it('turns a date in the past into 0', () => {
    expect(parseRetryAfterMs({ 'retry-after': 'Sat, 21 Nov 2026 09:59:00 GMT' }, now)).toBe(0);
  });

  it('ignores a date when it has no clock reading', () => {
    expect(parseRetryAfterMs({ 'retry-after': 'Sat, 21 Nov 2026 10:00:30 GMT' })).toBeUndefined();
  });

  it('ignores garbage and negative values', () => {
    expect(parseRetryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after': '-1' }, now)).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after-ms': 'abc', 'retry-after': '3' }, now)).toBe(3000);
  });

  it('takes the first of repeated values', () => {
    expect(parseRetryAfterMs({ 'retry-after': ['5', '6'] }, now)).toBe(5000);
  });

  it('clamps absurd waits to what a timer can hold instead of dropping them', () => {
    expect(parseRetryAfterMs({ 'retry-after': '99999999999' }, now)).toBe(2 ** 31 - 1);
  });
});

describe('keyPoolExhaustedOutcome', () => {
  it('is a rate limit that the breaker ignores, since no upstream call was made', () => {
    expect(keyPoolExhaustedOutcome(1200)).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 1200,
      breakerFailure: false,
    });
  });
});
