import { createClient } from '@keyv/redis';
import type { DayTally } from './availability';
import { emptyTally, TTFB_BUCKETS_MS } from './availability';
import type { DrillRun } from './drill-run';

/** Runs kept per drill; older ones are dropped. */
export const RUNS_KEPT = 100;
/** Days of availability kept. */
export const AVAILABILITY_DAYS = 30;
/** How long a call waits for the first connection to Redis before it fails. */
const CONNECT_TIMEOUT_MS = 2_000;

/** Where drill history and availability tallies live: Redis (cache.mode ha) or this process. */
export interface DrillStore {
  readonly persistence: 'redis' | 'memory';
  saveRun(run: DrillRun): Promise<void>;
  /** Every kept run of every drill, oldest first. */
  runs(): Promise<DrillRun[]>;
  /** Adds availability deltas (day → provider → tally). */
  addTallies(deltas: Map<string, Map<string, DayTally>>): Promise<void>;
  /** The stored tallies of `days` (day → provider → tally). */
  tallies(days: string[]): Promise<Map<string, Map<string, DayTally>>>;
  close(): Promise<void>;
}

/** This process only: lost on restart (the admin answers say `"persistence": "memory"`). */
export class MemoryDrillStore implements DrillStore {
  readonly persistence = 'memory' as const;
  private readonly kept: DrillRun[] = [];
  private readonly days = new Map<string, Map<string, DayTally>>();

  saveRun(run: DrillRun): Promise<void> {
    const i = this.kept.findIndex((r) => r.id === run.id);
    if (i >= 0) this.kept[i] = structuredClone(run);
    else this.kept.push(structuredClone(run));
    const ofDrill = this.kept.filter((r) => r.name === run.name);
    if (ofDrill.length > RUNS_KEPT) this.kept.splice(this.kept.indexOf(ofDrill[0] as DrillRun), 1);
    return Promise.resolve();
  }

  runs(): Promise<DrillRun[]> {
    return Promise.resolve(this.kept.map((r) => structuredClone(r)));
  }

  addTallies(deltas: Map<string, Map<string, DayTally>>): Promise<void> {
    for (const [day, providers] of deltas) {
      const stored = this.days.get(day) ?? new Map<string, DayTally>();
      this.days.set(day, stored);
      for (const [name, t] of providers) {
        const into = stored.get(name) ?? emptyTally();
        into.expected += t.expected;
        into.succeeded += t.succeeded;
        into.fallback += t.fallback;
        t.ttfb.forEach((n, i) => (into.ttfb[i] = (into.ttfb[i] ?? 0) + n));
        stored.set(name, into);
      }
    }
    const newest = [...this.days.keys()].sort().slice(-AVAILABILITY_DAYS - 1);
    for (const day of this.days.keys()) if (!newest.includes(day)) this.days.delete(day);
    return Promise.resolve();
  }

  tallies(days: string[]): Promise<Map<string, Map<string, DayTally>>> {
    const out = new Map<string, Map<string, DayTally>>();
    for (const day of days) {
      const stored = this.days.get(day);
      if (stored) out.set(day, new Map([...stored].map(([k, t]) => [k, structuredClone(t)])));
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

type Client = ReturnType<typeof createClient>;

/**
 * Redis, under the cache's key prefix: `<prefix>drills:runs` (a hash, run id → JSON) and
 * `<prefix>availability:<day>` (a hash of counters `provider|field`, added with HINCRBY so replicas sum up;
 * expires after 32 days). Standalone Redis only (cache.redis.url); a Redis Cluster is not used for this yet.
 */
export class RedisDrillStore implements DrillStore {
  readonly persistence = 'redis' as const;
  private readonly client: Client;
  private connected: Promise<unknown> | undefined;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    // Commands fail at once while Redis is away (no offline queue), so an admin call or the start never hangs on it.
    this.client = createClient({ url, disableOfflineQueue: true });
    this.client.on('error', () => {
      // Reconnects on its own; a failed command rejects and is reported by the caller.
    });
  }

  private async ready(): Promise<Client> {
    this.connected ??= this.client.connect();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis not reachable within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.connected, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.client;
  }

  private get runsKey(): string {
    return `${this.prefix}drills:runs`;
  }

  async saveRun(run: DrillRun): Promise<void> {
    const c = await this.ready();
    await c.hSet(this.runsKey, run.id, JSON.stringify(run));
    const all = await this.runs();
    const ofDrill = all.filter((r) => r.name === run.name);
    const extra = ofDrill.slice(0, Math.max(0, ofDrill.length - RUNS_KEPT)).map((r) => r.id);
    if (extra.length > 0) await c.hDel(this.runsKey, extra);
  }

  async runs(): Promise<DrillRun[]> {
    const c = await this.ready();
    const all = await c.hGetAll(this.runsKey);
    return Object.values(all)
      .map((json) => JSON.parse(String(json)) as DrillRun)
      .sort((a, b) => a.started_at.localeCompare(b.started_at) || a.id.localeCompare(b.id));
  }

  async addTallies(deltas: Map<string, Map<string, DayTally>>): Promise<void> {
    const c = await this.ready();
    const multi = c.multi();
    for (const [day, providers] of deltas) {
      const key = `${this.prefix}availability:${day}`;
      for (const [name, t] of providers) {
        if (t.expected) multi.hIncrBy(key, `${name}|expected`, t.expected);
        if (t.succeeded) multi.hIncrBy(key, `${name}|succeeded`, t.succeeded);
        if (t.fallback) multi.hIncrBy(key, `${name}|fallback`, t.fallback);
        t.ttfb.forEach((n, i) => {
          if (n) multi.hIncrBy(key, `${name}|ttfb${i}`, n);
        });
      }
      multi.expire(key, (AVAILABILITY_DAYS + 2) * 86_400);
    }
    await multi.exec();
  }

  async tallies(days: string[]): Promise<Map<string, Map<string, DayTally>>> {
    const c = await this.ready();
    const out = new Map<string, Map<string, DayTally>>();
    for (const day of days) {
      const fields = await c.hGetAll(`${this.prefix}availability:${day}`);
      const providers = new Map<string, DayTally>();
      for (const [field, raw] of Object.entries(fields)) {
        const bar = field.lastIndexOf('|');
        const name = field.slice(0, bar);
        const what = field.slice(bar + 1);
        const t = providers.get(name) ?? emptyTally();
        providers.set(name, t);
        const n = Number(raw);
        if (what === 'expected' || what === 'succeeded' || what === 'fallback') t[what] = n;
        else if (what.startsWith('ttfb')) {
          const i = Number(what.slice(4));
          if (i >= 0 && i <= TTFB_BUCKETS_MS.length) t.ttfb[i] = n;
        }
      }
      if (providers.size > 0) out.set(day, providers);
    }
    return out;
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch {
      // Already closed, or never connected.
    }
  }
}
