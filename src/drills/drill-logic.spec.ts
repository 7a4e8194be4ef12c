import { describe, expect, it } from 'vitest';
import {
  addToTally,
  availabilityReport,
  bucketPercentile,
  emptyTally,
  utcDay,
  type DayTally,
} from './availability';
import { cronProblem, everyProblem, nextRunAfter, parseEvery, parseSchedule } from '../config/drill-schedule';
import {
  counts,
  percentile,
  shouldAbort,
  verdict,
  windowStats,
  type AnswerSample,
} from '../metrics/window-stats';

const T0 = Date.UTC(2026, 0, 5, 2, 0); // a Monday, 02:00 UTC

function sample(status: number, extra: Partial<AnswerSample> = {}): AnswerSample {
  return { at: T0, status, clientAborted: false, latencyMs: 100, fallback: false, ...extra };
}

describe('drill schedule', () => {
  it('parses every: periods and refuses anything else', () => {
    expect(parseEvery('90d')).toBe(90 * 86_400_000);
    expect(parseEvery('12h')).toBe(12 * 3_600_000);
    expect(parseEvery('0d')).toBeUndefined();
    expect(parseEvery('3 months')).toBeUndefined();
    expect(everyProblem('1y')).toMatch(/expected a period/);
  });

  it('validates cron expressions', () => {
    expect(cronProblem('0 3 * * 1')).toBeUndefined();
    expect(cronProblem('61 3 * * 1')).toMatch(/expected a cron expression/);
    expect(cronProblem('not cron')).toMatch(/expected a cron expression/);
  });

  it('finds the next cron run in UTC', () => {
    const s = parseSchedule({ schedule: '0 3 * * 1' });
    expect(new Date(nextRunAfter(s, T0, T0)).toISOString()).toBe('2026-01-05T03:00:00.000Z');
    expect(new Date(nextRunAfter(s, T0 + 3_600_000, T0)).toISOString()).toBe('2026-01-12T03:00:00.000Z');
  });

  it('counts every: periods from the anchor', () => {
    const s = parseSchedule({ every: '90d' });
    const day = 86_400_000;
    expect(nextRunAfter(s, T0, T0)).toBe(T0 + 90 * day);
    expect(nextRunAfter(s, T0 + 100 * day, T0)).toBe(T0 + 180 * day);
  });
});

describe('window stats and verdicts', () => {
  it('excludes client errors and aborts but counts 429', () => {
    expect(counts(sample(400))).toBe(false);
    expect(counts(sample(200, { clientAborted: true }))).toBe(false);
    expect(counts(sample(429))).toBe(true);
    expect(counts(sample(529))).toBe(true);
  });

  it('uses nearest-rank percentiles', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(
      percentile(
        [...Array(100).keys()].map((i) => i + 1),
        95,
      ),
    ).toBe(95);
    expect(percentile([], 50)).toBeNull();
  });

  it('summarises providers, fallback models and error classes', () => {
    const stats = windowStats([
      sample(200, { provider: 'b', model: 'haiku', fallback: true, latencyMs: 10 }),
      sample(200, { provider: 'b', model: 'haiku', fallback: true, latencyMs: 20 }),
      sample(529, { latencyMs: 30 }),
      sample(400),
    ]);
    expect(stats).toMatchObject({
      requests: 3,
      succeeded: 2,
      answered_by: { b: 2 },
      fallback_models: { haiku: 2 },
      errors: { overloaded: 1 },
      latency_ms: { p50: 20, p95: 30 },
    });
  });

  it('aborts only once min_requests arrived, and gives verdicts', () => {
    const t = { abort_below_success_ratio: 0.95, min_requests: 20 };
    expect(shouldAbort({ requests: 5, success_ratio: 0 }, t)).toBe(false);
    expect(shouldAbort({ requests: 20, success_ratio: 0.9 }, t)).toBe(true);
    expect(shouldAbort({ requests: 20, success_ratio: 0.95 }, t)).toBe(false);
    expect(verdict({ requests: 20, success_ratio: 1 }, t, false)).toBe('pass');
    expect(verdict({ requests: 20, success_ratio: 0.5 }, t, false)).toBe('fail');
    expect(verdict({ requests: 3, success_ratio: 1 }, t, false)).toBe('inconclusive');
    expect(verdict({ requests: 20, success_ratio: 1 }, t, true)).toBe('aborted');
  });
});

describe('availability aggregation', () => {
  it('books a scripted day exactly', () => {
    const tally = emptyTally();
    for (let i = 0; i < 90; i++) addToTally(tally, sample(200, { ttfbMs: 40 }));
    for (let i = 0; i < 8; i++) addToTally(tally, sample(200, { ttfbMs: 400, fallback: true }));
    addToTally(tally, sample(503));
    addToTally(tally, sample(429));
    addToTally(tally, sample(400));
    addToTally(tally, sample(200, { clientAborted: true }));
    expect(tally).toMatchObject({ expected: 100, succeeded: 98, fallback: 8 });
    expect(bucketPercentile(tally.ttfb, 50)).toBe(50);
    expect(bucketPercentile(tally.ttfb, 95)).toBe(500);
    const report = availabilityReport(
      new Map([[utcDay(T0), new Map<string, DayTally>([['a', tally]])]]),
      T0,
      3,
    );
    expect(report).toHaveLength(3);
    expect(report[0]).toMatchObject({ day: '2026-01-05', expected: 100, succeeded: 98, availability: 0.98 });
    expect(report[0]?.providers.a?.fallback_share).toBeCloseTo(8 / 98);
    expect(report[1]).toMatchObject({ day: '2026-01-04', expected: 0, availability: null });
  });
});
