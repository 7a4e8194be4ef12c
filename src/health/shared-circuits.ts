import { systemClock, type Clock } from '../common/clock';
import type { BreakerRegistry } from './breaker-registry';
import type {
  BreakerLink,
  BreakerState,
  CircuitBreaker,
  SharedBreakerView,
  TransitionReason,
} from './circuit-breaker';
import {
  ACQUIRE,
  ADOPT_LOCAL_OPEN,
  FAILURE,
  FORCE_OPEN,
  PROBE_SUCCEEDED,
  RELEASE,
  RESET,
  SUCCESS,
  TOUCH,
} from './circuit-scripts';
import { CLUSTER_ADMIN_TIMEOUT_MS, type ClusterRedis, type LuaScript } from '../cluster/cluster-redis';

/**
 * Circuits shared by every replica (cluster.mode: redis). Each provider's breaker keeps deciding routing from its
 * own memory (no round trip to pick a provider); what changes the state goes through Redis scripts (circuit-scripts.ts)
 * that count failures, open, test and close for the whole cluster, and every transition is published so the other
 * replicas adopt it within milliseconds. A read of every circuit each SYNC_INTERVAL_MS is the safety net for a lost
 * message. When Redis cannot answer within timeout_ms, the breaker decides alone and this replica pushes or takes
 * the cluster's state once Redis is back (an OPEN decided alone stays OPEN: no flapping).
 *
 * HALF_OPEN test requests are cluster-wide permits in a sorted set scored by expiry. Routing cannot wait for Redis,
 * so a replica reserves one permit ahead (held PERMIT_IDLE_MS unused) and a request takes it; a permit in use is
 * kept alive by its holder every tick and lapses PERMIT_TTL_HEARTBEATS heartbeats after its holder dies.
 */

export const SYNC_INTERVAL_MS = 500;
/** A reserved permit no request took is given back by expiry after this long. */
export const PERMIT_IDLE_MS = 1_000;
/** A permit in use lives this many heartbeats past its last refresh (a killed replica leaks it no longer). */
export const PERMIT_TTL_HEARTBEATS = 3;
/** After a refused reservation, the next is asked no sooner than this. */
const ACQUIRE_BACKOFF_MS = 100;
/** How long an admin action waits for the other replicas' acknowledgements. */
export const ACK_WAIT_MS = 1_000;

export const CIRCUITS_CHANNEL = 'circuits';
export const ACKS_CHANNEL = 'acks';

export interface SharedCircuitsOptions {
  replicaId: string;
  heartbeatMs: number;
  clock?: Clock;
  syncIntervalMs?: number;
  /** Observed pub/sub delay of each transition message, in ms (a metric). */
  onLag?: (ms: number) => void;
}

/** One provider's shared circuit as the admin API shows it. */
export interface SharedCircuitState {
  state: BreakerState;
  epoch: number;
  consecutive_failures: number;
  opened_at: string | null;
  retry_at: string | null;
  reason: TransitionReason | null;
  /** The replica that caused the last transition. */
  by: string | null;
  forced: boolean;
  half_open_successes: number;
  detail: string | null;
}

/** Who acknowledged a cluster-wide admin action within ACK_WAIT_MS. */
export interface ClusterAck {
  /** False when Redis could not be asked: the action was taken on this replica only. */
  shared: boolean;
  acknowledged: string[];
}

/** Parses a script's `{result, HGETALL}` answer or a published HGETALL into a view. */
export function parseView(flat: unknown): SharedBreakerView {
  const fields = new Map<string, string>();
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  } else if (flat !== null && typeof flat === 'object') {
    for (const [k, v] of Object.entries(flat as Record<string, unknown>)) fields.set(k, String(v));
  }
  const num = (f: string): number | null => {
    const v = fields.get(f);
    if (v === undefined) return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  };
  const state = fields.get('state');
  return {
    state: state === 'open' || state === 'half_open' ? state : 'closed',
    epoch: num('epoch') ?? 0,
    failures: num('failures') ?? 0,
    openedAt: num('opened_at'),
    retryAt: num('retry_at'),
    openMs: num('open_ms'),
    reopens: num('reopens') ?? 0,
    forced: fields.get('forced') === '1',
    successes: num('successes') ?? 0,
    reason: (fields.get('reason') as TransitionReason | undefined) ?? null,
    by: fields.get('by') ?? null,
    detail: fields.get('detail') ?? null,
  };
}

function replyOf(value: unknown): { result: number; view: SharedBreakerView } {
  const reply: unknown[] = Array.isArray(value) ? (value as unknown[]) : [0, []];
  return { result: Number(reply[0]) || 0, view: parseView(reply[1]) };
}

/** The link of one provider's breaker to its shared circuit. */
class RedisBreakerLink implements BreakerLink {
  readonly circuitKey: string;
  readonly permitsKey: string;
  /** The shared consecutive-failure count as last seen: a success clears it only when it is not zero. */
  sharedFailures = 0;
  private reserved: { id: string; epoch: number; until: number } | undefined;
  private acquiring = false;
  private nextAcquireAt = 0;
  /** Permits in use by requests of this replica, kept alive each tick. */
  readonly held = new Set<string>();
  private seq = 0;

  constructor(
    readonly name: string,
    private readonly owner: SharedCircuits,
    private readonly breaker: () => CircuitBreaker | undefined,
  ) {
    // The provider is the hash tag: both keys of a script live in one Redis Cluster slot.
    this.circuitKey = owner.redis.key(`circuit:{${name}}`);
    this.permitsKey = owner.redis.key(`permits:{${name}}`);
  }

  active(): boolean {
    return this.owner.redis.isUp();
  }

  async failure(probe: string | undefined): Promise<SharedBreakerView | undefined> {
    if (probe !== undefined) this.held.delete(probe);
    const cfg = this.breaker()?.settings;
    if (!cfg) return undefined;
    return this.call('circuit failure', FAILURE, [
      cfg.failure_threshold,
      cfg.open_duration_ms,
      cfg.max_open_duration_ms,
      probe === undefined ? 'normal' : 'probe',
      probe ?? '',
    ]);
  }

  success(probe: string | undefined): Promise<SharedBreakerView | undefined> | undefined {
    if (probe === undefined && this.sharedFailures === 0) return undefined;
    if (probe !== undefined) this.held.delete(probe);
    const cfg = this.breaker()?.settings;
    if (!cfg) return Promise.resolve(undefined);
    return this.call('circuit success', SUCCESS, [
      cfg.half_open_probes,
      probe === undefined ? 'normal' : 'probe',
      probe ?? '',
    ]);
  }

  release(probe: string): void {
    this.held.delete(probe);
    void this.call('circuit release', RELEASE, [probe]);
  }

  takeProbe(): string | undefined {
    const reserved = this.reserved;
    if (reserved === undefined || this.owner.clock.now() >= reserved.until) {
      this.reserved = undefined;
      this.requestPermit();
      return undefined;
    }
    this.reserved = undefined;
    this.held.add(reserved.id);
    // In use now: it lives on while its request runs (refreshed every tick).
    void this.call('circuit permit', TOUCH, [this.owner.permitTtlMs, reserved.id]);
    return reserved.id;
  }

  hasProbe(): boolean {
    if (this.reserved !== undefined && this.owner.clock.now() < this.reserved.until) return true;
    this.reserved = undefined;
    this.requestPermit();
    return false;
  }

  probeSucceeded(): Promise<SharedBreakerView | undefined> {
    return this.call('circuit probe', PROBE_SUCCEEDED, []);
  }

  forceOpen(durationMs: number, reason: string): Promise<SharedBreakerView | undefined> {
    return this.call('circuit force-open', FORCE_OPEN, [durationMs, reason], CLUSTER_ADMIN_TIMEOUT_MS);
  }

  reset(): Promise<SharedBreakerView | undefined> {
    return this.call('circuit reset', RESET, [], CLUSTER_ADMIN_TIMEOUT_MS);
  }

  /** A view seen anywhere (answer, message, read): a reservation from an earlier epoch is void. */
  observe(view: SharedBreakerView): void {
    this.sharedFailures = view.failures;
    if (this.reserved !== undefined && view.epoch !== this.reserved.epoch) this.reserved = undefined;
  }

  /** Keeps the permits in use alive. */
  async touch(): Promise<void> {
    if (this.held.size === 0) return;
    await this.call('circuit permit', TOUCH, [this.owner.permitTtlMs, ...this.held]);
  }

  async call(
    what: string,
    script: LuaScript,
    args: Array<string | number>,
    timeoutMs?: number,
  ): Promise<SharedBreakerView | undefined> {
    const reply = await this.raw(what, script, args, timeoutMs);
    if (reply === undefined) return undefined;
    this.owner.seen(this.name, reply.view);
    return reply.view;
  }

  async raw(
    what: string,
    script: LuaScript,
    args: Array<string | number>,
    timeoutMs?: number,
  ): Promise<{ result: number; view: SharedBreakerView } | undefined> {
    const redis = this.owner.redis;
    const outcome = await redis.script(
      what,
      script,
      [this.circuitKey, this.permitsKey],
      [this.owner.clock.now(), redis.key(CIRCUITS_CHANNEL), this.name, this.owner.replicaId, ...args],
      timeoutMs,
    );
    return outcome.ok ? replyOf(outcome.value) : undefined;
  }

  private requestPermit(): void {
    const now = this.owner.clock.now();
    if (this.acquiring || now < this.nextAcquireAt || !this.active()) return;
    const cfg = this.breaker()?.settings;
    if (!cfg) return;
    this.acquiring = true;
    this.seq += 1;
    const id = `${this.owner.replicaId}#${this.seq}`;
    // The local deadline ends before Redis' expiry (measured from the same send time), so a permit is never used
    // after the cluster may have given it to another replica.
    const until = now + PERMIT_IDLE_MS - Math.max(100, 2 * this.owner.redis.timeoutMs);
    void this.raw('circuit permit', ACQUIRE, [cfg.half_open_probes, PERMIT_IDLE_MS, id]).then((reply) => {
      this.acquiring = false;
      if (reply === undefined) {
        this.nextAcquireAt = this.owner.clock.now() + ACQUIRE_BACKOFF_MS;
        return;
      }
      this.owner.seen(this.name, reply.view);
      if (reply.result === 1) this.reserved = { id, epoch: reply.view.epoch, until };
      else this.nextAcquireAt = this.owner.clock.now() + ACQUIRE_BACKOFF_MS;
    });
  }
}

/** The shared circuits of one replica: links, pub/sub, the periodic read, resynchronisation. */
export class SharedCircuits {
  readonly clock: Clock;
  readonly replicaId: string;
  readonly permitTtlMs: number;
  private readonly syncIntervalMs: number;
  private readonly links = new Map<string, RedisBreakerLink>();
  private readonly views = new Map<string, SharedBreakerView>();
  private readonly ackWaiters = new Set<(ack: { p: string; e: number; r: string }) => void>();
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  private readonly actionListeners: Array<(provider: string, reason: 'forced_open' | 'reset') => void> = [];

  constructor(
    readonly redis: ClusterRedis,
    private readonly registry: BreakerRegistry,
    private readonly options: SharedCircuitsOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.replicaId = options.replicaId;
    this.permitTtlMs = PERMIT_TTL_HEARTBEATS * options.heartbeatMs;
    this.syncIntervalMs = options.syncIntervalMs ?? SYNC_INTERVAL_MS;
  }

  /** Attaches every breaker, subscribes, and starts the periodic read. */
  start(): void {
    this.registry.attachLinks((name) => this.linkOf(name));
    this.redis.subscribe(CIRCUITS_CHANNEL, (message) => this.onMessage(message));
    this.redis.subscribe(ACKS_CHANNEL, (message) => this.onAck(message));
    this.redis.onUp(() => void this.sync());
    this.timer = setInterval(() => void this.sync(), this.syncIntervalMs);
    this.timer.unref();
    void this.sync();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.registry.attachLinks(undefined);
  }

  /** Called when an operator's force-open or reset taken on another replica reaches this one. */
  onOperatorAction(listener: (provider: string, reason: 'forced_open' | 'reset') => void): void {
    this.actionListeners.push(listener);
  }

  /** The shared state of a provider as last seen, for the admin API. */
  sharedState(name: string): SharedCircuitState | undefined {
    const view = this.views.get(name);
    if (view === undefined) return undefined;
    const now = this.clock.now();
    const state =
      view.state === 'open' && view.retryAt !== null && now >= view.retryAt ? 'half_open' : view.state;
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      state,
      epoch: view.epoch,
      consecutive_failures: view.failures,
      opened_at: state === 'closed' ? null : iso(view.openedAt),
      retry_at: state === 'open' ? iso(view.retryAt) : null,
      reason: view.reason,
      by: view.by,
      forced: state === 'open' && view.forced,
      half_open_successes: view.successes,
      detail: view.detail,
    };
  }

  /** Reads every circuit now (admin answers want the latest), within the admin timeout. */
  async refresh(): Promise<void> {
    await Promise.all(
      [...this.registry.names()].map(async (name) => {
        const link = this.linkOf(name);
        const outcome = await this.redis.run(
          'circuit read',
          (c) => c.hGetAll(link.circuitKey),
          CLUSTER_ADMIN_TIMEOUT_MS,
        );
        if (outcome.ok) this.seen(name, parseView(outcome.value));
      }),
    );
  }

  /**
   * Admin: force OPEN (or reset) on every replica. Runs the script, adopts its answer here, and waits up to
   * ACK_WAIT_MS for the replicas that adopted it to say so. Without Redis it is this replica's alone.
   */
  async command(name: string, action: 'open' | 'reset', durationMs = 0, reason = ''): Promise<ClusterAck> {
    const breaker = this.registry.get(name);
    const link = this.linkOf(name);
    const reply =
      action === 'open'
        ? await link.raw('circuit force-open', FORCE_OPEN, [durationMs, reason], CLUSTER_ADMIN_TIMEOUT_MS)
        : await link.raw('circuit reset', RESET, [], CLUSTER_ADMIN_TIMEOUT_MS);
    if (reply === undefined) {
      // The breaker takes it alone (and pushes it again, or remembers it diverged for the resync).
      if (action === 'open') breaker?.forceOpen(durationMs, reason);
      else breaker?.reset();
      return { shared: false, acknowledged: [this.replicaId] };
    }
    const acknowledged = new Set<string>([this.replicaId]);
    const waiter = (ack: { p: string; e: number; r: string }) => {
      if (ack.p === name && ack.e === reply.view.epoch) acknowledged.add(ack.r);
    };
    this.ackWaiters.add(waiter);
    this.seen(name, reply.view);
    await new Promise((resolve) => setTimeout(resolve, ACK_WAIT_MS).unref());
    this.ackWaiters.delete(waiter);
    return { shared: true, acknowledged: [...acknowledged].sort() };
  }

  /** A view from anywhere: recorded, given to the link and adopted by the breaker. */
  seen(name: string, view: SharedBreakerView, resync = false): void {
    const known = this.views.get(name);
    if (known === undefined || view.epoch >= known.epoch) this.views.set(name, view);
    this.links.get(name)?.observe(view);
    this.registry.get(name)?.adopt(view, resync);
  }

  private linkOf(name: string): RedisBreakerLink {
    let link = this.links.get(name);
    if (link === undefined) {
      link = new RedisBreakerLink(name, this, () => this.registry.get(name));
      this.links.set(name, link);
    }
    return link;
  }

  private onMessage(message: string): void {
    let parsed: { p?: unknown; s?: unknown; at?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.p !== 'string') return;
    if (typeof parsed.at === 'number') this.options.onLag?.(Math.max(0, this.clock.now() - parsed.at));
    const view = parseView(parsed.s);
    const before = this.views.get(parsed.p)?.epoch ?? 0;
    this.seen(parsed.p, view);
    // Operator actions are acknowledged, so the replica that took them can say who follows.
    if (view.epoch > before && (view.reason === 'forced_open' || view.reason === 'reset')) {
      for (const listener of this.actionListeners) listener(parsed.p, view.reason);
      this.redis.publish(ACKS_CHANNEL, JSON.stringify({ p: parsed.p, e: view.epoch, r: this.replicaId }));
    }
  }

  private onAck(message: string): void {
    try {
      const ack = JSON.parse(message) as { p: string; e: number; r: string };
      for (const waiter of this.ackWaiters) waiter(ack);
    } catch {
      // not ours
    }
  }

  /**
   * The safety net: reads every circuit, keeps permits in use alive, and brings a breaker that decided alone while
   * Redis was away back in line (its OPEN becomes the cluster's when the cluster's is CLOSED).
   */
  async sync(): Promise<void> {
    if (this.syncing || !this.redis.isUp()) return;
    this.syncing = true;
    try {
      await Promise.all(this.registry.names().map((name) => this.syncOne(name)));
    } finally {
      this.syncing = false;
    }
  }

  private async syncOne(name: string): Promise<void> {
    const link = this.linkOf(name);
    const breaker = this.registry.get(name);
    await link.touch();
    if (breaker?.divergedWhileAlone) {
      const snap = breaker.snapshot();
      if (snap.state === 'open' && snap.retry_at !== null) {
        const reply = await link.raw('circuit resync', ADOPT_LOCAL_OPEN, [
          Date.parse(snap.retry_at),
          snap.open_duration_ms,
          'failure_threshold',
          snap.reopens,
          snap.opened_at === null ? this.clock.now() : Date.parse(snap.opened_at),
        ]);
        if (reply !== undefined) this.seen(name, reply.view, true);
        return;
      }
    }
    const outcome = await this.redis.run('circuit read', (c) => c.hGetAll(link.circuitKey));
    if (outcome.ok) this.seen(name, parseView(outcome.value), breaker?.divergedWhileAlone ?? false);
  }
}
