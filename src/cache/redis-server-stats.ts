import type { Clock } from '../common/clock';
import type { RedisConnection } from './redis-connection';

/**
 * The numbers the `ha` cache reads from Redis itself, best effort and in the background: the keys under its prefix,
 * the server's memory and its evictions. RedisCache.stats() reports them beside its own counters.
 */

const STATS_REFRESH_MS = 10_000;
/**
 * Counting the keys under the prefix is a SCAN of the whole database (MATCH filters after the walk): on a shared
 * Redis of a million keys ~1,000 round trips, each replica, each refresh. The count is refreshed at most this
 * often, and never more often than KEY_COUNT_COST_FACTOR times the last count took, so every replica together
 * keeps Redis busy counting for a small share of its time whatever the database's size.
 */
const KEY_COUNT_REFRESH_MS = 60_000;
const KEY_COUNT_COST_FACTOR = 100;

/** The server-side numbers of the cache, refreshed at most every STATS_REFRESH_MS (key counts less often). */
export class RedisServerStats {
  keyCount = 0;
  bytesUsed = 0;
  evictions = 0;
  private statsAt = Number.NEGATIVE_INFINITY;
  private keyCountAt = Number.NEGATIVE_INFINITY;
  private statsRefreshCounts = false;
  private keyCountEveryMs = KEY_COUNT_REFRESH_MS;
  private statsRefresh: Promise<void> | undefined;

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  /** Starts a refresh in the background when the numbers are STATS_REFRESH_MS old (counting keys when due). */
  refreshIfStale(): void {
    const now = this.clock.now();
    if (now - this.statsAt >= STATS_REFRESH_MS) {
      this.refresh(now - this.keyCountAt >= this.keyCountEveryMs).catch(() => undefined);
    }
  }

  /** Resolves when the refresh under way (if any) is over. */
  async inFlight(): Promise<void> {
    await this.statsRefresh?.catch(() => undefined);
  }

  /** One refresh at a time; a refresh that must count keys waits for one under way that does not, then counts. */
  refresh(countKeys: boolean): Promise<void> {
    const running = this.statsRefresh;
    if (running && (this.statsRefreshCounts || !countKeys)) return running;
    const start = running ? running.catch(() => undefined) : Promise.resolve();
    const refresh = start
      .then(() => this.read(countKeys))
      .finally(() => {
        if (this.statsRefresh === refresh) this.statsRefresh = undefined;
      });
    this.statsRefresh = refresh;
    this.statsRefreshCounts = countKeys;
    return refresh;
  }

  private async read(countKeys: boolean): Promise<void> {
    this.statsAt = this.clock.now();
    const masters = await this.connection.masters();
    countKeys &&= this.prefix !== '';
    let keys = 0;
    let bytes = 0;
    let evicted = 0;
    const countStarted = this.clock.now();
    for (const node of masters) {
      if (countKeys) {
        for await (const batch of this.connection.scanPrefix(node, this.prefix)) keys += batch.length;
      }
      const info = await node.info();
      bytes += infoField(info, 'used_memory');
      evicted += infoField(info, 'evicted_keys');
    }
    if (countKeys) {
      this.keyCountAt = this.clock.now();
      this.keyCountEveryMs = Math.max(
        KEY_COUNT_REFRESH_MS,
        KEY_COUNT_COST_FACTOR * (this.keyCountAt - countStarted),
      );
      this.keyCount = keys;
    }
    this.bytesUsed = bytes;
    this.evictions = evicted;
  }
}

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}
