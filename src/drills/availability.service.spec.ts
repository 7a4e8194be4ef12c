import { describe, expect, it } from 'vitest';
import type { RelayMetrics } from '../metrics/relay-metrics.service';
import { AvailabilityService } from './availability.service';
import { MemoryDrillStore } from './drill-store';
import type { AnswerSample } from '../metrics/window-stats';

function service(start: number) {
  let now = start;
  let feed: (s: AnswerSample) => void = () => undefined;
  const metrics = { onAnswer: (l: (s: AnswerSample) => void) => (feed = l) } as unknown as RelayMetrics;
  const store = new MemoryDrillStore();
  const svc = new AvailabilityService(metrics, { now: () => now }, store);
  const answer = (status: number) =>
    feed({ at: 0, status, clientAborted: false, latencyMs: 5, ttfbMs: 3, provider: 'p', fallback: false });
  return { svc, answer, setNow: (ms: number) => (now = ms) };
}

describe('AvailabilityService', () => {
  it('books each answer under the UTC day it ended on, across midnight and a clock set back', async () => {
    const { svc, answer, setNow } = service(Date.parse('2026-12-06T23:59:59.998Z'));
    answer(200);
    setNow(Date.parse('2026-12-06T23:59:59.999Z'));
    answer(500);
    setNow(Date.parse('2026-12-07T00:00:00.000Z'));
    answer(200);
    answer(200);
    setNow(Date.parse('2026-12-06T12:00:00.000Z'));
    answer(200);
    setNow(Date.parse('2026-12-08T00:00:00.001Z'));
    answer(503);
    setNow(Date.parse('2026-12-08T00:00:00.002Z'));
    const { days } = await svc.report(3);
    expect(days.map((d) => [d.day, d.expected, d.succeeded])).toEqual([
      ['2026-12-08', 1, 0],
      ['2026-12-07', 2, 2],
      ['2026-12-06', 3, 2],
    ]);
  });
});
