import { systemClock, type Clock } from '../common/clock';
import { CLUSTER_ADMIN_TIMEOUT_MS, type ClusterRedis } from './cluster-redis';

/** A replica is gone after this many heartbeats without one. */
export const MISSED_HEARTBEATS = 3;

/** What a replica says about itself every heartbeat (GET /admin/replicas shows the first six fields). */
export interface ReplicaBeat {
  id: string;
  version: string;
  config_hash: string;
  started_at: string;
  last_seen: string;
  in_flight: number;
  /** Its own breakers, for the admin API's "local view where it differs". */
  circuits?: Record<string, { state: string; consecutive_failures: number }>;
  /** Its response cache counters (GET /admin/cache/stats per replica and totals). */
  cache?: { mode: string; stats: Record<string, number> };
}

/** A live replica as GET /admin/replicas lists it. */
export interface ReplicaView {
  id: string;
  version: string;
  config_hash: string;
  started_at: string;
  last_seen: string;
  in_flight: number;
  /** True when its config hash differs from the one most replicas run (a rollout in progress). */
  config_differs: boolean;
}

export interface ReplicaHeartbeatOptions {
  id: string;
  version: string;
  heartbeatMs: number;
  clock?: Clock;
  /** The changing part of the beat, read at each heartbeat. */
  describe: () => Omit<ReplicaBeat, 'id' | 'version' | 'started_at' | 'last_seen'>;
}

/**
 * Heartbeats in one Redis hash (`<prefix>replicas`, field = replica id, value = the beat as JSON), written every
 * heartbeat_ms. Readers drop (and delete) beats older than MISSED_HEARTBEATS heartbeats; a replica that stops
 * cleanly deletes its own at once.
 */
export class ReplicaHeartbeat {
  readonly startedAt: string;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: ClusterRedis,
    private readonly options: ReplicaHeartbeatOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.startedAt = new Date(this.clock.now()).toISOString();
  }

  get key(): string {
    return this.redis.key('replicas');
  }

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.timer.unref();
    this.redis.onUp(() => void this.beat());
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.run('replica leave', (c) => c.hDel(this.key, this.options.id));
  }

  /** Writes this replica's beat now. */
  async beat(): Promise<boolean> {
    const beat: ReplicaBeat = {
      id: this.options.id,
      version: this.options.version,
      started_at: this.startedAt,
      last_seen: new Date(this.clock.now()).toISOString(),
      ...this.options.describe(),
    };
    const outcome = await this.redis.run('heartbeat', (c) =>
      c.hSet(this.key, this.options.id, JSON.stringify(beat)),
    );
    return outcome.ok;
  }

  /** The live replicas' beats (this one's included), by id; undefined when Redis did not answer. */
  async beats(): Promise<ReplicaBeat[] | undefined> {
    const outcome = await this.redis.run(
      'replicas read',
      (c) => c.hGetAll(this.key),
      CLUSTER_ADMIN_TIMEOUT_MS,
    );
    if (!outcome.ok) return undefined;
    const goneBefore = this.clock.now() - MISSED_HEARTBEATS * this.options.heartbeatMs;
    const live: ReplicaBeat[] = [];
    const gone: string[] = [];
    for (const [id, text] of Object.entries(outcome.value)) {
      const beat = parseBeat(text);
      if (beat === undefined || Date.parse(beat.last_seen) < goneBefore) gone.push(id);
      else live.push(beat);
    }
    if (gone.length > 0) void this.redis.run('replicas cleanup', (c) => c.hDel(this.key, gone));
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** The replicas as GET /admin/replicas shows them, flagging config hashes that differ from the most common one. */
export function replicaViews(beats: ReplicaBeat[]): ReplicaView[] {
  const counts = new Map<string, number>();
  for (const b of beats) counts.set(b.config_hash, (counts.get(b.config_hash) ?? 0) + 1);
  let common = '';
  let most = 0;
  for (const [hash, n] of counts) {
    if (n > most) {
      common = hash;
      most = n;
    }
  }
  return beats.map((b) => ({
    id: b.id,
    version: b.version,
    config_hash: b.config_hash,
    started_at: b.started_at,
    last_seen: b.last_seen,
    in_flight: b.in_flight,
    config_differs: b.config_hash !== common,
  }));
}

function parseBeat(text: string): ReplicaBeat | undefined {
  try {
    const beat = JSON.parse(text) as Partial<ReplicaBeat>;
    if (typeof beat.id !== 'string' || typeof beat.last_seen !== 'string') return undefined;
    return beat as ReplicaBeat;
  } catch {
    return undefined;
  }
}
