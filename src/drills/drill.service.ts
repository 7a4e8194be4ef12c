import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { instanceName } from '../admin/relay-instance';
import type { Clock } from '../common/clock';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';
import { RelayConfig, type DrillConfig } from '../config/relay-config';
import { BreakerRegistry } from '../health/breaker-registry';
import type { BreakerTransition } from '../health/circuit-breaker';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import type { DrillRun } from './drill-run';
import { nextRunAfter, parseSchedule, scheduleText, type DrillSchedule } from '../config/drill-schedule';
import { DRILL_CLOCK, DRILL_STORE } from './drill.tokens';
import type { DrillStore } from './drill-store';
import {
  counts,
  shouldAbort,
  succeeded,
  verdict,
  windowStats,
  type AnswerSample,
  type DrillVerdict,
} from '../metrics/window-stats';

/** How often the real-time loop checks for due starts and ends. */
export const DRILL_TICK_MS = 1_000;
/** The breaker's own force-open outlasts the drill by this much, so a drill whose end never ran still expires. */
export const FORCE_GRACE_MS = 60_000;
/** Answers kept for baselines and one drill's window: a bound on memory whatever the traffic. */
const MAX_SAMPLES = 100_000;
const VERDICTS: DrillVerdict[] = ['pass', 'fail', 'aborted', 'inconclusive'];

interface ActiveDrill {
  run: DrillRun;
  samples: AnswerSample[];
  requests: number;
  ok: number;
  endsAt: number;
  /** An operator forced or reset the provider during the drill: its end leaves the breaker alone. */
  operatorTookOver: boolean;
  unsubscribe: () => void;
}

interface DrillEntry {
  config: DrillConfig;
  schedule: DrillSchedule;
  nextRunAt: number;
}

/**
 * Scheduled failover drills (issue 24): the provider forced OPEN with reason "drill", the answers watched, the
 * drill ended at duration_ms or early under the success floor, the provider restored, the run stored.
 *
 * Everything time-driven happens in tick(), read from the injected clock: a real-time interval in the
 * SchedulerRegistry calls it every second, and tests on a fake clock call it after moving time. Runs on this
 * replica only (there is no cluster mode yet to elect one replica under a lock).
 */
@Injectable()
export class DrillService implements OnApplicationBootstrap, OnApplicationShutdown {
  static readonly INTERVAL_NAME = 'drills';
  private readonly log = new Logger('Drills');
  private readonly entries = new Map<string, DrillEntry>();
  private readonly active = new Map<string, ActiveDrill>();
  /** Recent answers (for baselines), oldest first. */
  private readonly recent: AnswerSample[] = [];
  private readonly maxWindowMs: number;
  private readonly verdictCounts = new Map<string, number>();
  private readonly bootAt: number;
  private readonly instance = instanceName(process.env, hostname());
  private history: DrillRun[] = [];

  constructor(
    private readonly config: RelayConfig,
    private readonly breakers: BreakerRegistry,
    private readonly metrics: RelayMetrics,
    private readonly scheduler: SchedulerRegistry,
    @Inject(DRILL_CLOCK) private readonly clock: Clock,
    @Inject(DRILL_STORE) private readonly store: DrillStore,
  ) {
    this.bootAt = clock.now();
    this.maxWindowMs = Math.max(0, ...config.drills.map((d) => d.duration_ms));
    for (const d of config.drills) for (const v of VERDICTS) this.verdictCounts.set(`${d.name}\u0000${v}`, 0);
    metrics.onAnswer((s) => {
      // Without a drill window to keep nor a drill running, an answer has nowhere to go: no copy is made.
      if (this.maxWindowMs > 0 || this.active.size > 0) this.onAnswer({ ...s, at: this.clock.now() });
    });
    metrics.addCollectedCounter(
      'cc_relay_drill_runs_total',
      'Failover drills ended, by drill and verdict (pass, fail, aborted, inconclusive)',
      ['name', 'verdict'],
      (sink) => {
        for (const [key, n] of this.verdictCounts) sink(key.split('\u0000'), n);
      },
    );
    metrics.addCollectedGauge(
      'cc_relay_drill_running',
      'Failover drills running now (1), by drill',
      ['name'],
      (set) => {
        for (const d of config.drills) set({ name: d.name }, this.active.has(d.name) ? 1 : 0);
      },
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.drills.length === 0) return;
    try {
      this.history = await this.store.runs();
    } catch (err) {
      this.log.error(`drill history could not be read: ${(err as Error).message}`);
    }
    // A run still "running" was cut by a restart: the breakers live in memory, so the provider already came back
    // as configured; the run is closed as aborted.
    // With Redis shared by several replicas, another replica's drill in progress is left alone: only this replica's
    // own runs, and runs long past their end (their replica died), are closed.
    const now = this.clock.now();
    const cut = this.history.filter(
      (r) =>
        r.status === 'running' &&
        (r.instance === this.instance || Date.parse(r.planned_end_at) + FORCE_GRACE_MS < now),
    );
    for (const run of cut) {
      run.status = 'ended';
      run.ended_at = new Date(this.clock.now()).toISOString();
      run.verdict = 'aborted';
      run.reason = 'the relay restarted during the drill';
      run.restore =
        'the provider came back as configured (circuit breakers live in memory and restart closed)';
      await this.persist(run);
      this.log.warn(`drill "${run.name}" run ${run.id} ended: aborted (${run.reason})`);
    }
    for (const d of this.config.drills) {
      const schedule = parseSchedule(d);
      const last = [...this.history].reverse().find((r) => r.name === d.name && r.trigger === 'schedule');
      const anchor = last ? Date.parse(last.started_at) : this.bootAt;
      this.entries.set(d.name, {
        config: d,
        schedule,
        nextRunAt: nextRunAfter(schedule, this.clock.now(), anchor),
      });
    }
    // A cron schedule also gets its CronJob, so the start is not a tick late; ends and `every:` periods are
    // caught by the one-second interval (both only call tick(), which reads the injected clock).
    for (const [name, e] of this.entries) {
      if (e.schedule.kind !== 'cron') continue;
      const job = CronJob.from({
        cronTime: e.schedule.expr,
        onTick: () => void this.safeTick(),
        timeZone: 'UTC',
        start: true,
      });
      this.scheduler.addCronJob(`drill:${name}`, job);
    }
    const timer = setInterval(() => void this.safeTick(), DRILL_TICK_MS);
    timer.unref();
    this.scheduler.addInterval(DrillService.INTERVAL_NAME, timer);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.scheduler.doesExist('interval', DrillService.INTERVAL_NAME)) {
      this.scheduler.deleteInterval(DrillService.INTERVAL_NAME);
    }
    for (const name of this.entries.keys()) {
      if (this.scheduler.doesExist('cron', `drill:${name}`)) this.scheduler.deleteCronJob(`drill:${name}`);
    }
    for (const name of [...this.active.keys()]) await this.end(name, true, 'the relay is shutting down');
    await this.store.close();
  }

  /** Starts what is due and ends what is over, as of the clock's now. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    for (const [name, a] of [...this.active]) {
      // Still this run (a tick running alongside may have ended it meanwhile).
      if (now >= a.endsAt && this.active.get(name) === a) await this.end(name, false, null);
    }
    for (const [name, e] of this.entries) {
      if (now < e.nextRunAt) continue;
      e.nextRunAt = nextRunAfter(e.schedule, now, e.nextRunAt);
      if (this.active.has(name)) continue;
      await this.start(e.config, 'schedule');
    }
  }

  private async safeTick(): Promise<void> {
    try {
      await this.tick();
    } catch (err) {
      this.log.error(`drill tick failed: ${(err as Error).message}`);
    }
  }

  /** POST /admin/drills/:name/run. */
  async runNow(name: string): Promise<DrillRun> {
    const entry = this.entry(name);
    if (this.active.has(name)) {
      throw new RelayError(RelayErrorCode.InvalidRequest, `drill "${name}" is already running`);
    }
    return this.start(entry.config, 'manual');
  }

  /** POST /admin/drills/:name/abort. */
  async abort(name: string): Promise<DrillRun> {
    this.entry(name);
    if (!this.active.has(name)) {
      throw new RelayError(RelayErrorCode.InvalidRequest, `drill "${name}" is not running`);
    }
    return this.end(name, true, 'aborted by the admin API');
  }

  /** GET /admin/drills. */
  list(): Record<string, unknown> {
    return {
      persistence: this.store.persistence,
      cluster: 'off: drills run on this replica (there is no cluster mode yet)',
      drills: this.config.drills.map((d) => {
        const e = this.entries.get(d.name);
        return {
          name: d.name,
          provider: d.provider,
          schedule: e ? scheduleText(e.schedule) : (d.schedule ?? `every ${d.every}`),
          duration_ms: d.duration_ms,
          abort_below_success_ratio: d.abort_below_success_ratio,
          min_requests: d.min_requests,
          next_run_at: e ? new Date(e.nextRunAt).toISOString() : null,
          running: this.active.get(d.name)?.run.id ?? null,
          history: this.runsOf(d.name)
            .reverse()
            .map((r) => ({
              id: r.id,
              trigger: r.trigger,
              status: r.status,
              started_at: r.started_at,
              ended_at: r.ended_at,
              verdict: r.verdict,
              reason: r.reason,
              requests: r.drill?.requests ?? null,
              success_ratio: r.drill?.success_ratio ?? null,
            })),
        };
      }),
    };
  }

  /** GET /admin/drills/:name/runs/:id. */
  run(name: string, id: string): DrillRun & { persistence: string } {
    this.entry(name);
    const found = this.runsOf(name).find((r) => r.id === id);
    if (!found)
      throw new RelayError(
        RelayErrorCode.NotFound,
        `drill "${name}" has no run ${JSON.stringify(id.slice(0, 100))}`,
      );
    return { ...found, persistence: this.store.persistence };
  }

  private runsOf(name: string): DrillRun[] {
    return this.history.filter((r) => r.name === name).map((r) => this.live(r));
  }

  /** A running run with its numbers so far. */
  private live(run: DrillRun): DrillRun {
    const a = this.active.get(run.name);
    return a && a.run.id === run.id ? { ...run, drill: windowStats(a.samples) } : run;
  }

  private entry(name: string): DrillEntry {
    const e = this.entries.get(name);
    if (!e)
      throw new RelayError(RelayErrorCode.NotFound, `no drill named ${JSON.stringify(name.slice(0, 100))}`);
    return e;
  }

  private async start(d: DrillConfig, trigger: DrillRun['trigger']): Promise<DrillRun> {
    const now = this.clock.now();
    const breaker = this.breakers.get(d.provider);
    const before = breaker?.snapshot();
    const run: DrillRun = {
      id: `${new Date(now).toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`,
      name: d.name,
      provider: d.provider,
      instance: this.instance,
      trigger,
      status: 'running',
      started_at: new Date(now).toISOString(),
      planned_end_at: new Date(now + d.duration_ms).toISOString(),
      ended_at: null,
      verdict: null,
      reason: null,
      thresholds: {
        duration_ms: d.duration_ms,
        abort_below_success_ratio: d.abort_below_success_ratio,
        min_requests: d.min_requests,
      },
      provider_before: { state: before?.state ?? 'unknown', forced: before?.forced ?? false },
      restore: null,
      drill: null,
      baseline: windowStats(this.recent.filter((s) => s.at >= now - d.duration_ms)),
    };
    this.history.push(run);
    if (!breaker || !before || before.state !== 'closed') {
      // Already out of rotation (failing, or forced by an operator): traffic already runs on the fallbacks, and a
      // drill could not hand the provider back "as it was" without overriding whoever put it there.
      run.status = 'ended';
      run.ended_at = run.started_at;
      run.verdict = 'inconclusive';
      run.reason = `provider "${d.provider}" was ${before?.forced ? 'forced open' : (before?.state ?? 'unknown')} when the drill was due: not drilled`;
      run.restore = 'untouched';
      this.countVerdict(d.name, 'inconclusive');
      this.log.warn(`drill "${d.name}" run ${run.id} skipped: inconclusive (${run.reason})`);
      await this.persist(run);
      return run;
    }
    const a: ActiveDrill = {
      run,
      samples: [],
      requests: 0,
      ok: 0,
      endsAt: now + d.duration_ms,
      operatorTookOver: false,
      unsubscribe: () => undefined,
    };
    this.active.set(d.name, a);
    breaker.forceOpen(d.duration_ms + FORCE_GRACE_MS, 'drill');
    // Subscribed after the drill's own force-open: any later force or reset is an operator's.
    a.unsubscribe = breaker.onTransition((t: BreakerTransition) => {
      if ((t.reason === 'forced_open' && t.detail !== 'drill') || t.reason === 'reset')
        a.operatorTookOver = true;
    });
    this.log.warn(
      `drill "${d.name}" run ${run.id} started: provider "${d.provider}" forced open for ${d.duration_ms} ms (${trigger})`,
    );
    await this.persist(run);
    return this.live(run);
  }

  private async end(name: string, stopped: boolean, why: string | null): Promise<DrillRun> {
    const a = this.active.get(name);
    if (!a) throw new Error(`drill ${name} is not running`);
    this.active.delete(name);
    a.unsubscribe();
    const run = a.run;
    const breaker = this.breakers.get(run.provider);
    if (a.operatorTookOver) {
      run.restore = 'left as an operator set it during the drill';
    } else if (breaker?.snapshot().forced) {
      breaker.reset();
      run.restore = 'restored to closed, as it was before the drill';
    } else {
      run.restore = `left ${breaker?.snapshot().state ?? 'unknown'} (the drill's force-open had already expired)`;
    }
    const stats = windowStats(a.samples);
    run.drill = stats;
    run.status = 'ended';
    run.ended_at = new Date(this.clock.now()).toISOString();
    run.verdict = verdict(stats, run.thresholds, stopped);
    run.reason =
      why ??
      (run.verdict === 'inconclusive'
        ? `${stats.requests} answers, fewer than min_requests (${run.thresholds.min_requests})`
        : `success ratio ${stats.success_ratio} over ${stats.requests} answers, floor ${run.thresholds.abort_below_success_ratio}`);
    this.countVerdict(name, run.verdict);
    const line = `drill "${name}" run ${run.id} ended: ${run.verdict} (${run.reason}); provider "${run.provider}" ${run.restore}`;
    if (run.verdict === 'pass') this.log.log(line);
    else this.log.warn(line);
    await this.persist(run);
    return run;
  }

  private onAnswer(sample: AnswerSample): void {
    if (this.maxWindowMs > 0) {
      this.recent.push(sample);
      const oldest = sample.at - this.maxWindowMs;
      while (
        this.recent.length > 0 &&
        ((this.recent[0]?.at ?? 0) < oldest || this.recent.length > MAX_SAMPLES)
      ) {
        this.recent.shift();
      }
    }
    for (const [name, a] of this.active) {
      if (a.samples.length < MAX_SAMPLES) a.samples.push(sample);
      if (!counts(sample)) continue;
      a.requests += 1;
      if (succeeded(sample)) a.ok += 1;
      if (shouldAbort({ requests: a.requests, success_ratio: a.ok / a.requests }, a.run.thresholds)) {
        void this.end(
          name,
          true,
          `success ratio ${a.ok}/${a.requests} fell below the floor ${a.run.thresholds.abort_below_success_ratio}`,
        ).catch(() => undefined);
      }
    }
  }

  private countVerdict(name: string, v: DrillVerdict): void {
    const key = `${name}\u0000${v}`;
    this.verdictCounts.set(key, (this.verdictCounts.get(key) ?? 0) + 1);
  }

  private async persist(run: DrillRun): Promise<void> {
    try {
      await this.store.saveRun(run);
    } catch (err) {
      this.log.error(`drill "${run.name}" run ${run.id} could not be stored: ${(err as Error).message}`);
    }
  }
}
