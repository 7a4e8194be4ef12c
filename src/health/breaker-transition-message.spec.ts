import { describe, expect, it } from 'vitest';
import type { BreakerSnapshot, BreakerTransition } from './circuit-breaker';
import { transitionLine } from './breaker-transition-message';

const OPEN: BreakerSnapshot = {
  state: 'open',
  consecutive_failures: 5,
  opened_at: '2026-01-01T00:00:00.000Z',
  retry_at: '2026-01-01T00:00:30.000Z',
  half_open_in_flight: 0,
  half_open_successes: 0,
  last_error: { status: 502, message: '502 upstream error', at: '2026-01-01T00:00:00.000Z' },
  forced: false,
  open_duration_ms: 30_000,
  reopens: 0,
};

const t = (reason: BreakerTransition['reason'], to: BreakerTransition['to']): BreakerTransition => ({
  from: 'closed',
  to,
  reason,
  at: 0,
});

describe('transitionLine', () => {
  it('warns when failures open the circuit, naming the count, the last error and when it turns half-open', () => {
    expect(transitionLine('p1', t('failure_threshold', 'open'), OPEN, 3)).toEqual({
      level: 'warn',
      message:
        'provider p1 circuit OPEN after 5 consecutive failures: routing skips it; last error: 502 upstream error; ' +
        'half-open at 2026-01-01T00:00:30.000Z',
    });
    expect(transitionLine('p1', t('half_open_failure', 'open'), OPEN, 3)?.level).toBe('warn');
  });

  it('logs half-open and closed at info level', () => {
    expect(transitionLine('p1', t('open_duration_elapsed', 'half_open'), undefined, 3)).toEqual({
      level: 'log',
      message: 'provider p1 circuit HALF_OPEN: admitting 3 probe request(s)',
    });
    expect(transitionLine('p1', t('half_open_succeeded', 'closed'), undefined, 2)?.message).toBe(
      'provider p1 circuit CLOSED: 2 probe request(s) succeeded',
    );
  });

  it('leaves out what the admin API and the probe job already log', () => {
    for (const reason of ['reset', 'forced_open', 'probe_succeeded'] as const) {
      expect(transitionLine('p1', t(reason, 'open'), OPEN, 3)).toBeUndefined();
    }
  });
});
