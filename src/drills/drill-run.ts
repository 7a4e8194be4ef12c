import type { DrillVerdict, WindowStats } from '../metrics/window-stats';

/** One drill run, as stored and as GET /admin/drills/:name/runs/:id answers. Times are ISO strings. */
export interface DrillRun {
  id: string;
  name: string;
  provider: string;
  /** The replica that ran it (POD_NAME, else HOSTNAME, else the OS hostname). */
  instance: string;
  trigger: 'schedule' | 'manual';
  status: 'running' | 'ended';
  started_at: string;
  /** When it is (or was) due to end: started_at + duration_ms. */
  planned_end_at: string;
  ended_at: string | null;
  verdict: DrillVerdict | null;
  /** Why it ended the way it did. */
  reason: string | null;
  thresholds: { duration_ms: number; abort_below_success_ratio: number; min_requests: number };
  /** The provider's breaker when the drill began. */
  provider_before: { state: string; forced: boolean };
  /** What became of the provider at the end: restored by the drill, or left as an operator set it. */
  restore: string | null;
  /** The drill window's traffic. */
  drill: WindowStats | null;
  /** The equal-length window just before the drill, to compare against. */
  baseline: WindowStats | null;
}
