/** One final answer as drills and availability see it. */
export interface AnswerSample {
  /** Epoch ms when the answer ended. */
  at: number;
  status: number;
  /** The client went away before the answer was complete. */
  clientAborted: boolean;
  /** Request to end of answer, ms. */
  latencyMs: number;
  /** Request to first byte of the answer, ms (undefined when nothing was sent). */
  ttfbMs?: number;
  /** The provider that answered (undefined for relay-made errors and cache hits). */
  provider?: string;
  /** The model that answered. */
  model?: string;
  /** The answer came from a fallback model. */
  fallback: boolean;
}

/** Whether an answer counts toward success ratios: client errors (4xx but 429) and client aborts do not. */
export function counts(sample: Pick<AnswerSample, 'status' | 'clientAborted'>): boolean {
  if (sample.clientAborted || sample.status === 499) return false;
  return !(sample.status >= 400 && sample.status < 500 && sample.status !== 429);
}

/** Whether a counted answer succeeded. */
export function succeeded(sample: Pick<AnswerSample, 'status'>): boolean {
  return sample.status >= 200 && sample.status < 400;
}

/** The class of a failed answer, for "errors by class". */
export function errorClass(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status === 529) return 'overloaded';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'server_error';
  return 'other';
}

/** Nearest-rank percentile (p in 0..100) of `values`; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

/** What a window of traffic looked like. */
export interface WindowStats {
  requests: number;
  succeeded: number;
  /** succeeded / requests, null without requests. */
  success_ratio: number | null;
  latency_ms: { p50: number | null; p95: number | null };
  /** provider → answers it served. */
  answered_by: Record<string, number>;
  /** models that answered as a fallback → answers. */
  fallback_models: Record<string, number>;
  /** error class → failed answers. */
  errors: Record<string, number>;
}

/** Summarises the counted answers among `samples`. */
export function windowStats(samples: readonly AnswerSample[]): WindowStats {
  const counted = samples.filter(counts);
  const ok = counted.filter(succeeded);
  const answeredBy: Record<string, number> = {};
  const fallbackModels: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const s of counted) {
    if (succeeded(s)) {
      if (s.provider) answeredBy[s.provider] = (answeredBy[s.provider] ?? 0) + 1;
      if (s.fallback && s.model) fallbackModels[s.model] = (fallbackModels[s.model] ?? 0) + 1;
    } else {
      const cls = errorClass(s.status);
      errors[cls] = (errors[cls] ?? 0) + 1;
    }
  }
  const latencies = counted.map((s) => s.latencyMs);
  return {
    requests: counted.length,
    succeeded: ok.length,
    success_ratio: counted.length === 0 ? null : ok.length / counted.length,
    latency_ms: { p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
    answered_by: answeredBy,
    fallback_models: fallbackModels,
    errors,
  };
}

export type DrillVerdict = 'pass' | 'fail' | 'aborted' | 'inconclusive';

/** The thresholds of one drill. */
export interface DrillThresholds {
  abort_below_success_ratio: number;
  min_requests: number;
}

/**
 * Whether a running drill should stop now: only once `min_requests` answers arrived (a couple of early failures
 * in thin traffic say little), and then as soon as the success ratio is under the floor.
 */
export function shouldAbort(
  stats: Pick<WindowStats, 'requests' | 'success_ratio'>,
  t: DrillThresholds,
): boolean {
  return (
    stats.requests >= t.min_requests &&
    stats.success_ratio !== null &&
    stats.success_ratio < t.abort_below_success_ratio
  );
}

/**
 * The verdict of an ended drill: `aborted` when it was stopped (by the floor, an operator or a restart);
 * `inconclusive` with fewer than min_requests answers; else `pass` when the success ratio held the floor, `fail`
 * when not.
 */
export function verdict(
  stats: Pick<WindowStats, 'requests' | 'success_ratio'>,
  t: DrillThresholds,
  stopped: boolean,
): DrillVerdict {
  if (stopped) return 'aborted';
  if (stats.requests < t.min_requests || stats.success_ratio === null) return 'inconclusive';
  return stats.success_ratio >= t.abort_below_success_ratio ? 'pass' : 'fail';
}
