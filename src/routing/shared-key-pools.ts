import { createHash, randomUUID } from 'node:crypto';
import { within, type Outcome } from '../common/within';
import type {
  KeyPoolSharing,
  KeyPoolSync,
  SharedAdmission,
  SharedKeyLimits,
  SharedPenalty,
  SyncedKeyPool,
} from './key-sync';
import { RATE_LIMIT_FAMILIES, type LearnedObservation, type RateLimitFamily } from './learned-limits';
import { KEY_WINDOW_MS, REJECTED_KEY_COOLDOWN_MS } from './key-pool';
import { ADMIT_SCRIPT, CLEAR_SCRIPT, LEARN_SCRIPT, PENALISE_SCRIPT, STATE_SCRIPT } from './key-pool-scripts';

/**
 * What the shared key pools use of the cluster's Redis connection (ClusterRedis, CLUSTER_REDIS): scripts bounded by
 * cluster.redis.timeout_ms that never reject, pub/sub under the key prefix, and a call when Redis is back.
 */
/** A Lua script and its SHA1 (EVALSHA first; the connection falls back to EVAL once per node). */
export interface KeyPoolScript {
  readonly source: string;
  readonly sha: string;
}

function luaScript(source: string): KeyPoolScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export interface SharedKeyRedis {
  /** cluster.redis.timeout_ms: what script() waits at most, and the longest a request waits for its admission. */
  readonly timeoutMs: number;
  /** A key (or channel) name under cluster.redis.key_prefix. */
  key(suffix: string): string;
  script(
    what: string,
    script: KeyPoolScript,
    keys: string[],
    args: Array<string | number>,
  ): Promise<Outcome<unknown>>;
  /** Subscribes to `key(channel)`. */
  subscribe(channel: string, listener: (message: string) => void): void;
  onUp(listener: () => void): void;
}

export interface SharedKeyPoolsOptions {
  /** The key pools' window (KEY_WINDOW_MS); the shared windows count in 60 buckets of it. */
  windowMs?: number;
  /** How often settlements and learned limits are written, and penalties read back (the pub/sub safety net). */
  flushMs?: number;
  pollMs?: number;
  /** This replica's id (REPLICA_ID), in the messages it publishes (it skips its own). */
  replicaId?: string;
}

export interface SharedKeyPoolsLogger {
  warn(message: string): void;
  log?(message: string): void;
}

/** What the shared key pools count, for metrics and tests. */
export interface SharedKeyPoolsStats {
  /** Admissions asked of Redis, and those it answered in time. */
  admissions: number;
  admitted_shared: number;
  /** Decisions made locally because Redis failed or was slower than timeout_ms. */
  local_fallbacks: number;
  /** Calls that failed or timed out (request path and background). */
  sync_errors: number;
  /** Redis calls sent, by kind. */
  calls: Record<'admit' | 'penalise' | 'clear' | 'learn' | 'settle' | 'state', number>;
  /** Messages from other replicas applied, and the last one's lag (ms from publish to apply, by the replicas' clocks). */
  messages: number;
  pubsub_lag_ms: number;
  /** 1 while the last call succeeded. */
  healthy: number;
  /** Milliseconds spent deciding locally since start (Redis unavailable). */
  fallback_ms: number;
}

const BUCKETS = 60;
const DEFAULT_FLUSH_MS = 100;
const DEFAULT_POLL_MS = 500;
/** Settlements waiting for Redis, past which the oldest are dropped (a long outage; the windows expire anyway). */
const MAX_PENDING_SETTLEMENTS = 10_000;
const MAX_IN_FLIGHT_CALLS = 1_000;
const PENALTY_TTL_MS = REJECTED_KEY_COOLDOWN_MS + 60_000;
const CHANNEL = 'keys';
/**
 * Settlements wait this long for an admission of their provider to take them along (no round trip of their own
 * under steady traffic); then a flush writes them.
 */
const SETTLE_WAIT_MS = 500;
/** Admissions sent in one call at most. */
const MAX_BATCH = 64;

interface ProviderSync {
  readonly provider: string;
  pool: SyncedKeyPool;
  readonly tag: string;
  /** fingerprint -> [input delta, output tokens] not yet written. */
  settlements: Map<string, [number, number]>;
  /** When the oldest pending settlement was made (they ride along with admissions; flushed alone after SETTLE_WAIT_MS). */
  settlementsSince: number;
  /** "<fp>:<family>" -> observation JSON not yet written. */
  learned: Map<string, string>;
  /** fingerprint -> penalty that did not reach Redis (retried with the flushes; merging makes a retry harmless). */
  penalties: Map<string, SharedPenalty>;
  lastClearAt: number;
  handle: KeyPoolSync;
  /** Admissions waiting for the call out to return, and whether one is out. */
  queue: {
    candidates: readonly SharedKeyLimits[];
    estimate: number;
    resolve: (a: SharedAdmission | undefined) => void;
  }[];
  admitting: boolean;
}

/**
 * Key pools shared between the replicas of a cluster (cluster.mode: redis), through one Redis connection:
 *
 * - **cooldowns and parking**: a 429's cooldown or a confirmed 401 is merged into the provider's penalty hash and
 *   published in one script; every replica applies the message at once, and reads the hash every `pollMs` in case
 *   it missed one (a reconnect, a partition);
 * - **rpm / itpm / otpm**: keys with limits are admitted by one Lua script over per-key bucketed windows (the only
 *   request-path call, and only for keys with limits); usage corrections ride along with the next admission of
 *   the provider or a flush every `flushMs`;
 * - **learned `anthropic-ratelimit-*`**: written in the same flushes, read with the penalties.
 *
 * Every call is bounded by timeout_ms and never fails a request: a failed or slow admission is decided locally,
 * counted, and logged once per outage; what was learned meanwhile is written when Redis is back.
 */
export class SharedKeyPools implements KeyPoolSharing {
  private readonly providers = new Map<string, ProviderSync>();
  private readonly channel: string;
  private readonly replicaId: string;
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly scripts = {
    admit: luaScript(ADMIT_SCRIPT),
    penalise: luaScript(PENALISE_SCRIPT),
    clear: luaScript(CLEAR_SCRIPT),
    learn: luaScript(LEARN_SCRIPT),
    state: luaScript(STATE_SCRIPT),
  };
  private started = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private failingSince: number | undefined;
  private fallbackMs = 0;
  private readonly counts: SharedKeyPoolsStats = {
    admissions: 0,
    admitted_shared: 0,
    local_fallbacks: 0,
    sync_errors: 0,
    calls: { admit: 0, penalise: 0, clear: 0, learn: 0, settle: 0, state: 0 },
    messages: 0,
    pubsub_lag_ms: 0,
    healthy: 1,
    fallback_ms: 0,
  };

  constructor(
    private readonly redis: SharedKeyRedis,
    private readonly options: SharedKeyPoolsOptions = {},
    private readonly logger?: SharedKeyPoolsLogger,
  ) {
    this.channel = redis.key(CHANNEL);
    // The replica's id names it in messages; the suffix tells apart two instances that share an id (several apps in
    // one process, as the e2e tests run them), so none takes another's message for its own.
    this.replicaId = `${(options.replicaId ?? 'replica').replace(/\s/g, '_')}~${randomUUID().slice(0, 8)}`;
    this.windowMs = options.windowMs ?? KEY_WINDOW_MS;
    this.bucketMs = Math.max(1, Math.ceil(this.windowMs / BUCKETS));
  }

  /**
   * Subscribes to the other replicas' messages, starts the flush and read timers, and reads the shared state once
   * (again each time Redis comes back). Never rejects.
   */
  async start(): Promise<void> {
    const flushMs = this.options.flushMs ?? DEFAULT_FLUSH_MS;
    const pollMs = this.options.pollMs ?? DEFAULT_POLL_MS;
    this.flushTimer ??= setInterval(() => void this.flush(), flushMs).unref();
    this.pollTimer ??= setInterval(() => void this.poll(), pollMs).unref();
    if (!this.started) {
      this.started = true;
      this.redis.subscribe(CHANNEL, (message) => this.onMessage(message));
      // Back from an outage: what was learned meanwhile goes out, what the others learned comes in.
      this.redis.onUp(() => void this.poll().then(() => this.flush(true)));
    }
    await this.poll();
  }

  /** Stops the timers and writes what is still pending (bounded by timeout_ms). */
  async stop(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.flushTimer = this.pollTimer = undefined;
    await this.flush(true);
    for (const p of this.providers.values()) p.pool.attach(undefined);
    this.providers.clear();
  }

  /** Shares the pool of `provider` (a pool of a provider already attached replaces the old one). */
  attach(pool: SyncedKeyPool): void {
    const provider = pool.provider;
    const existing = this.providers.get(provider);
    if (existing) {
      existing.pool = pool;
      pool.attach(existing.handle);
      return;
    }
    const p: ProviderSync = {
      provider,
      pool,
      tag: this.redis.key(`{kp:${provider}}`),
      settlements: new Map(),
      settlementsSince: 0,
      learned: new Map(),
      penalties: new Map(),
      lastClearAt: 0,
      queue: [],
      admitting: false,
      handle: undefined as unknown as KeyPoolSync,
    };
    p.handle = {
      admit: (candidates, estimate) => this.admit(p, candidates, estimate),
      settle: (fp, inputDelta, output) => this.settle(p, fp, inputDelta, output),
      penalise: (fp, penalty) => void this.penalise(p, fp, penalty),
      learned: (fp, family, o) => this.learned(p, fp, family, o),
      clear: () => void this.clear(p),
    };
    this.providers.set(provider, p);
    pool.attach(p.handle);
  }

  /** Stops sharing the pool of a provider that left the config. */
  detach(provider: string): void {
    const p = this.providers.get(provider);
    if (!p) return;
    p.pool.attach(undefined);
    this.providers.delete(provider);
  }

  stats(): SharedKeyPoolsStats {
    const now = Date.now();
    return {
      ...this.counts,
      calls: { ...this.counts.calls },
      healthy: this.failingSince === undefined ? 1 : 0,
      fallback_ms: this.fallbackMs + (this.failingSince === undefined ? 0 : now - this.failingSince),
    };
  }

  private windowKey(p: ProviderSync, fp: string): string {
    return `${p.tag}:w:${fp}`;
  }

  /**
   * Queues the admission; one call per provider is out at a time, and the admissions that arrive meanwhile go
   * together in the next (one round trip per request at low concurrency, fewer under load). A request never waits
   * longer than timeout_ms for its answer: past it, it is decided locally.
   */
  private async admit(
    p: ProviderSync,
    candidates: readonly SharedKeyLimits[],
    estimate: number,
  ): Promise<SharedAdmission | undefined> {
    this.counts.admissions++;
    // Redis is failing or stalled: decide locally at once rather than make every request wait timeout_ms; the
    // periodic read (every pollMs) finds out when it answers again.
    if (this.failingSince !== undefined) {
      this.counts.local_fallbacks++;
      return undefined;
    }
    const answer = new Promise<SharedAdmission | undefined>((resolve) =>
      p.queue.push({ candidates, estimate, resolve }),
    );
    if (!p.admitting) void this.sendAdmissions(p);
    const outcome = await within(answer, this.redis.timeoutMs);
    const result = outcome.ok ? outcome.value : undefined;
    if (result === undefined) this.counts.local_fallbacks++;
    else if (result.admitted) this.counts.admitted_shared++;
    return result;
  }

  /** Sends the queued admissions of the provider (and its pending settlements) in one script call, until none wait. */
  private async sendAdmissions(p: ProviderSync): Promise<void> {
    p.admitting = true;
    try {
      while (p.queue.length > 0) {
        const batch = p.queue.splice(0, MAX_BATCH);
        const keys: string[] = [];
        const keyIndex = new Map<string, number>();
        const indexOf = (fp: string): string => {
          let k = keyIndex.get(fp);
          if (k === undefined) {
            keys.push(this.windowKey(p, fp));
            k = keys.length;
            keyIndex.set(fp, k);
          }
          return String(k);
        };
        const args = [String(this.bucketMs), String(BUCKETS), String(batch.length)];
        for (const q of batch) {
          args.push(String(Math.round(q.estimate)), String(q.candidates.length));
          for (const c of q.candidates)
            args.push(indexOf(c.fingerprint), String(c.rpm), String(c.itpm), String(c.otpm));
        }
        // The provider's pending settlements ride along (same hash tag): no round trip of their own.
        const settled = p.settlements;
        p.settlements = new Map();
        args.push(String(settled.size));
        for (const [fp, [input, output]] of settled) {
          args.push(indexOf(fp), String(Math.round(input)), String(Math.round(output)));
        }
        this.counts.calls.admit++;
        const reply = await this.call('admit', this.scripts.admit, keys, args);
        if (!Array.isArray(reply)) {
          this.requeue(p, settled);
          for (const q of batch) q.resolve(undefined);
          // Those still queued are decided locally too: Redis just failed them.
          for (const q of p.queue.splice(0)) q.resolve(undefined);
          return;
        }
        batch.forEach((q, at) => {
          const index = Number(reply[2 * at]);
          const wait = Number(reply[2 * at + 1]);
          q.resolve(
            index >= 0 ? { admitted: true, index } : { admitted: false, retryAfterMs: Math.max(1, wait) },
          );
        });
      }
    } finally {
      p.admitting = false;
    }
  }

  private settle(p: ProviderSync, fp: string, inputDelta: number, output: number): void {
    const pending = p.settlements.get(fp);
    if (pending) {
      pending[0] += inputDelta;
      pending[1] += output;
    } else if (p.settlements.size < MAX_PENDING_SETTLEMENTS) {
      if (p.settlements.size === 0) p.settlementsSince = Date.now();
      p.settlements.set(fp, [inputDelta, output]);
    }
  }

  private requeue(p: ProviderSync, settled: Map<string, [number, number]>): void {
    for (const [fp, [input, output]] of settled) this.settle(p, fp, input, output);
  }

  private async penalise(p: ProviderSync, fp: string, penalty: SharedPenalty): Promise<void> {
    this.counts.calls.penalise++;
    const answer = await this.call(
      'penalise',
      this.scripts.penalise,
      [`${p.tag}:pen`],
      [
        fp,
        String(penalty.cooldownUntil ?? 0),
        String(penalty.rejectedUntil ?? 0),
        String(penalty.rejectedAt ?? 0),
        String(penalty.acceptedAt ?? 0),
        String(PENALTY_TTL_MS),
        this.channel,
        `${this.replicaId} ${Date.now()} ${p.provider}`,
      ],
    );
    // Kept for the next flush: the others learn it once Redis is back (merged with a later one of the key).
    if (answer === undefined) p.penalties.set(fp, mergePenalty(p.penalties.get(fp), penalty));
  }

  private async clear(p: ProviderSync): Promise<void> {
    this.counts.calls.clear++;
    const at = await this.call(
      'clear',
      this.scripts.clear,
      [`${p.tag}:pen`],
      [String(PENALTY_TTL_MS), this.channel, `${this.replicaId} ${Date.now()} ${p.provider}`],
    );
    if (at !== undefined) p.lastClearAt = Math.max(p.lastClearAt, Number(at));
  }

  private learned(p: ProviderSync, fp: string, family: RateLimitFamily, o: LearnedObservation): void {
    p.learned.set(`${fp}:${family}`, JSON.stringify(o));
  }

  /**
   * Writes pending learned limits and penalties, and settlements no admission took along within SETTLE_WAIT_MS
   * (`all`: every one), one call per provider and kind.
   */
  private async flush(all = false): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (const p of this.providers.values()) {
      if (p.penalties.size > 0 && this.failingSince === undefined) {
        const penalties = p.penalties;
        p.penalties = new Map();
        for (const [fp, penalty] of penalties) calls.push(this.penalise(p, fp, penalty));
      }
      if (p.settlements.size > 0 && (all || Date.now() - p.settlementsSince >= SETTLE_WAIT_MS)) {
        const settled = p.settlements;
        p.settlements = new Map();
        const keys: string[] = [];
        const args = [String(this.bucketMs), String(BUCKETS), '0', String(settled.size)];
        for (const [fp, [input, output]] of settled) {
          keys.push(this.windowKey(p, fp));
          args.push(String(keys.length), String(Math.round(input)), String(Math.round(output)));
        }
        this.counts.calls.settle++;
        calls.push(
          this.call('settle', this.scripts.admit, keys, args).then((r) => {
            if (r === undefined) this.requeue(p, settled);
          }),
        );
      }
      if (p.learned.size > 0) {
        const learned = p.learned;
        p.learned = new Map();
        const args = [String(2 * this.windowMs)];
        for (const [field, json] of learned) args.push(field, json);
        this.counts.calls.learn++;
        calls.push(
          this.call('learn', this.scripts.learn, [`${p.tag}:learned`], args).then((r) => {
            if (r === undefined)
              for (const [field, json] of learned) if (!p.learned.has(field)) p.learned.set(field, json);
          }),
        );
      }
    }
    await Promise.all(calls);
  }

  /** Reads every provider's penalties and learned limits (the safety net of pub/sub). */
  private async poll(): Promise<void> {
    await Promise.all(
      [...this.providers.values()].map(async (p) => {
        this.counts.calls.state++;
        const reply = await this.call('state', this.scripts.state, [`${p.tag}:pen`, `${p.tag}:learned`], []);
        if (!Array.isArray(reply)) return;
        const [pen, learned] = reply as [unknown, unknown];
        for (const [field, value] of pairs(pen)) {
          if (field === '~clear') this.applyClear(p, Number(value));
          else p.pool.applyPenalty(field, parsePenalty(value));
        }
        for (const [field, value] of pairs(learned)) {
          const at = field.lastIndexOf(':');
          const family = field.slice(at + 1) as RateLimitFamily;
          if (at < 0 || !RATE_LIMIT_FAMILIES.includes(family)) continue;
          const o = parseObservation(value);
          if (o) p.pool.applyLearned(field.slice(0, at), family, o);
        }
      }),
    );
  }

  private applyClear(p: ProviderSync, at: number): void {
    if (!(at > p.lastClearAt)) return;
    p.lastClearAt = at;
    p.pool.applyClear();
  }

  /** "<replica> <sentAt> <provider> <fp> <c,r,a,u>" or "<replica> <sentAt> <provider> ~clear <at>". */
  private onMessage(message: string): void {
    const [replica, sentAt, provider, field, value] = message.split(' ');
    if (replica === this.replicaId || provider === undefined || field === undefined || value === undefined)
      return;
    const p = this.providers.get(provider);
    if (!p) return;
    this.counts.messages++;
    const lag = Date.now() - Number(sentAt);
    if (Number.isFinite(lag)) this.counts.pubsub_lag_ms = Math.max(0, lag);
    if (field === '~clear') this.applyClear(p, Number(value));
    else p.pool.applyPenalty(field, parsePenalty(value));
  }

  /**
   * One script call, bounded by cluster.redis.timeout_ms (ClusterRedis); undefined when it failed or was slower
   * (logged once per outage and counted). Calls still unanswered past MAX_IN_FLIGHT_CALLS (a stalled Redis) are
   * not sent at all.
   */
  private async call(kind: string, s: KeyPoolScript, keys: string[], args: string[]): Promise<unknown> {
    if (this.inFlight >= MAX_IN_FLIGHT_CALLS) {
      this.failed(kind, new Error(`${MAX_IN_FLIGHT_CALLS} calls unanswered`));
      return undefined;
    }
    this.inFlight++;
    let outcome: Outcome<unknown>;
    try {
      outcome = await this.redis.script(`key pools ${kind}`, s, keys, args);
    } finally {
      this.inFlight--;
    }
    if (outcome.ok) {
      this.recovered();
      return outcome.value ?? null;
    }
    this.failed(
      kind,
      outcome.timedOut ? new Error('no answer within cluster.redis.timeout_ms') : outcome.error,
    );
    return undefined;
  }

  private failed(kind: string, error: unknown): void {
    this.counts.sync_errors++;
    if (this.failingSince !== undefined) return;
    this.failingSince = Date.now();
    const reason = error instanceof Error ? error.message : String(error);
    this.logger?.warn(
      `shared key pools: Redis ${kind} failed (${reason}); key limits and cooldowns are decided locally until it answers again`,
    );
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    const down = Date.now() - this.failingSince;
    this.fallbackMs += down;
    this.failingSince = undefined;
    this.logger?.log?.(`shared key pools: Redis answers again after ${down} ms; key state is shared again`);
  }
}

function pairs(reply: unknown): [string, string][] {
  if (Array.isArray(reply)) {
    const out: [string, string][] = [];
    for (let k = 0; k + 1 < reply.length; k += 2) out.push([String(reply[k]), String(reply[k + 1])]);
    return out;
  }
  if (reply && typeof reply === 'object') return Object.entries(reply).map(([k, v]) => [k, String(v)]);
  return [];
}

function mergePenalty(a: SharedPenalty | undefined, b: SharedPenalty): SharedPenalty {
  if (!a) return b;
  const newerParking = (b.rejectedUntil ?? 0) > (a.rejectedUntil ?? 0);
  return {
    cooldownUntil: Math.max(a.cooldownUntil ?? 0, b.cooldownUntil ?? 0),
    rejectedUntil: newerParking ? b.rejectedUntil : a.rejectedUntil,
    rejectedAt: newerParking ? b.rejectedAt : a.rejectedAt,
    acceptedAt: Math.max(a.acceptedAt ?? 0, b.acceptedAt ?? 0),
  };
}

function parsePenalty(value: string): SharedPenalty {
  const [c, r, a, u] = value.split(',').map(Number);
  return {
    cooldownUntil: c || 0,
    rejectedUntil: r || 0,
    rejectedAt: a || 0,
    ...(u ? { acceptedAt: u } : {}),
  };
}

function parseObservation(json: string): LearnedObservation | undefined {
  try {
    const o = JSON.parse(json) as Partial<LearnedObservation>;
    if (typeof o.observedAtMs !== 'number') return undefined;
    return {
      observedAtMs: o.observedAtMs,
      ...(typeof o.limit === 'number' && { limit: o.limit }),
      ...(typeof o.remaining === 'number' && { remaining: o.remaining }),
      ...(typeof o.resetAtMs === 'number' && { resetAtMs: o.resetAtMs }),
    };
  } catch {
    return undefined;
  }
}
