import { CronTime } from 'cron';

/** A drill's schedule: a cron expression (UTC) or a fixed period (`every: 90d`). */
export type DrillSchedule = { kind: 'cron'; expr: string } | { kind: 'every'; ms: number; text: string };

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `90d`, `12h`, `2w`, `30m`, `45s` in ms; undefined for anything else (or zero). */
export function parseEvery(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([smhdw])\s*$/.exec(text);
  const unit = m?.[2] === undefined ? undefined : UNIT_MS[m[2]];
  if (!m || unit === undefined) return undefined;
  const ms = Number(m[1]) * unit;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** Why `expr` is not a usable cron expression, or undefined when it is. */
export function cronProblem(expr: unknown): string | undefined {
  if (typeof expr !== 'string' || expr.trim() === '') return 'expected a cron expression such as "0 3 * * 1"';
  try {
    new CronTime(expr, 'UTC');
    return undefined;
  } catch (err) {
    return `expected a cron expression such as "0 3 * * 1" (${(err as Error).message})`;
  }
}

/** Why `text` is not a usable `every:` period, or undefined when it is. */
export function everyProblem(text: unknown): string | undefined {
  return typeof text === 'string' && parseEvery(text) !== undefined
    ? undefined
    : 'expected a period such as "90d", "12h", "2w" (units s, m, h, d, w)';
}

/** The schedule of a validated drill config (exactly one of `schedule` and `every` is set). */
export function parseSchedule(cfg: { schedule?: string; every?: string }): DrillSchedule {
  if (cfg.schedule !== undefined) {
    const problem = cronProblem(cfg.schedule);
    if (problem) throw new Error(problem);
    return { kind: 'cron', expr: cfg.schedule };
  }
  const ms = cfg.every === undefined ? undefined : parseEvery(cfg.every);
  if (ms === undefined) throw new Error(everyProblem(cfg.every));
  return { kind: 'every', ms, text: cfg.every ?? '' };
}

/**
 * The first run strictly after `afterMs`. Cron expressions are read in UTC. An `every:` period counts from
 * `anchorMs` (the last run's start, or the relay's start when it never ran), so a restart does not reset a
 * quarterly drill when the history survives.
 */
export function nextRunAfter(schedule: DrillSchedule, afterMs: number, anchorMs: number): number {
  if (schedule.kind === 'cron') {
    return new CronTime(schedule.expr, 'UTC').getNextDateFrom(new Date(afterMs), 'UTC').toMillis();
  }
  if (anchorMs > afterMs) return anchorMs;
  const periods = Math.floor((afterMs - anchorMs) / schedule.ms) + 1;
  return anchorMs + periods * schedule.ms;
}

/** The schedule as the admin API shows it. */
export function scheduleText(schedule: DrillSchedule): string {
  return schedule.kind === 'cron' ? schedule.expr : `every ${schedule.text}`;
}
