import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Clock } from '../common/clock';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import {
  addToTally,
  availabilityReport,
  bookedProvider,
  DAY_MS,
  emptyTally,
  utcDay,
  type AvailabilityDay,
  type DayTally,
} from './availability';
import { AVAILABILITY_DAYS, type DrillStore } from './drill-store';
import { DRILL_CLOCK, DRILL_STORE } from './drill.tokens';

/** How often counted answers are written to the store (Redis: one pipelined round trip). */
export const AVAILABILITY_FLUSH_MS = 5_000;

/**
 * Delivered availability (docs/sla.md): every final answer of POST /v1/messages tallied per UTC day and provider
 * in memory, and added to the store every few seconds (and at shutdown), so the hot path never waits on Redis.
 */
@Injectable()
export class AvailabilityService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly log = new Logger('Availability');
  private pending = new Map<string, Map<string, DayTally>>();
  private timer: NodeJS.Timeout | undefined;
  /** The UTC day of the last answer (dayOf): its start (epoch ms) and `YYYY-MM-DD`. */
  private dayStart = -Infinity;
  private day = '';

  constructor(
    metrics: RelayMetrics,
    @Inject(DRILL_CLOCK) private readonly clock: Clock,
    @Inject(DRILL_STORE) private readonly store: DrillStore,
  ) {
    metrics.onAnswer((s) => {
      const day = this.dayOf(this.clock.now());
      let byProvider = this.pending.get(day);
      if (byProvider === undefined) {
        byProvider = new Map<string, DayTally>();
        this.pending.set(day, byProvider);
      }
      const name = bookedProvider(s);
      const t = byProvider.get(name) ?? emptyTally();
      // addToTally reads neither `at` nor anything the sample lacks: the sample is tallied as it came.
      if (addToTally(t, s)) byProvider.set(name, t);
    });
  }

  /** The UTC day of `ms`; the day's string is made once per day, not once per answer. */
  private dayOf(ms: number): string {
    if (ms < this.dayStart || ms >= this.dayStart + DAY_MS) {
      this.dayStart = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
      this.day = utcDay(ms);
    }
    return this.day;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), AVAILABILITY_FLUSH_MS);
    this.timer.unref();
  }

  /** Before the drill service closes the store at shutdown. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  /** Writes what was counted since the last flush. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.addTallies(batch);
    } catch (err) {
      this.log.error(`availability tallies could not be stored: ${(err as Error).message}`);
    }
  }

  /** GET /admin/availability: the last `days` UTC days, newest first. */
  async report(days = AVAILABILITY_DAYS): Promise<{ persistence: string; days: AvailabilityDay[] }> {
    await this.flush();
    const now = this.clock.now();
    const wanted = Array.from({ length: days }, (_, i) => utcDay(now - i * DAY_MS));
    const tallies = await this.store.tallies(wanted);
    return { persistence: this.store.persistence, days: availabilityReport(tallies, now, days) };
  }
}
