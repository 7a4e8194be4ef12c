import type { Clock } from '../common/clock';
import { maskSecret } from '../config/mask';
import type { ProviderKeyConfig } from '../config/relay-config';
import { parseRetryAfterMs, type HeaderBag } from '../protocol/outcome';
import type { Rng } from '../common/rng';
import { SlidingWindow } from './sliding-window';
import {
  LearnedLimits,
  type LearnedLimitSnapshot,
  type LearnedObservation,
  type RateLimitFamily,
} from './learned-limits';
import { keyFingerprint, type KeyPoolSync, type SharedKeyLimits, type SharedPenalty } from './key-sync';

export type { LearnedLimitSnapshot, RateLimitFamily } from './learned-limits';

/** The key fields the pool reads (a ProviderKeyConfig satisfies it). */
export type PoolKeyConfig = Pick<
  ProviderKeyConfig,
  'key' | 'rpm_limit' | 'itpm_limit' | 'otpm_limit' | 'weight'
>;

/** The answer of {@link KeyPool.pick}. */
export type KeyPick =
  | { kind: 'key'; keyId: string; key: string }
  /** The provider has no keys of its own: forward the client's credentials. */
  | { kind: 'passthrough' }
  /** Every key is cooling down or at its limit; the soonest one frees up after retryAfterMs. */
  | { kind: 'exhausted'; retryAfterMs: number };

/** Tuning of a {@link KeyPool}. */
export interface KeyPoolOptions {
  /** The window rpm/itpm/otpm are counted over. */
  windowMs?: number;
  /** Cooldown after a 429 without retry-after; doubles with each further such 429 on the key. */
  default429CooldownMs?: number;
  /** Ceiling of that doubling. */
  max429CooldownMs?: number;
}

/** One key as the admin API shows it: never the secret itself. */
export interface KeySnapshot {
  id: string;
  key: string;
  weight: number;
  in_flight: number;
  /** Estimated input tokens of its in-flight requests, held against itpm until their usage is known. */
  reserved_input_tokens: number;
  available: boolean;
  /** Milliseconds until the key can take a request again (0 = now). */
  retry_after_ms: number;
  cooldown_until: string | null;
  /** Set while the key is parked because the provider rejected it: 401 (revoked or mistyped) or 402 (no credit). */
  rejected: { status: number; at: string } | null;
  limits: { rpm: number; itpm: number; otpm: number };
  usage: { window_ms: number; requests: number; input_tokens: number; output_tokens: number };
  learned: Partial<Record<RateLimitFamily, LearnedLimitSnapshot>>;
}

/** Default window of the local limits: Anthropic's limits are per minute. */
export const KEY_WINDOW_MS = 60_000;
const DEFAULT_429_COOLDOWN_MS = 1_000;
const MAX_429_COOLDOWN_MS = 60_000;
/** How long a key the provider rejected (401) stays out of rotation before it is tried again. */
export const REJECTED_KEY_COOLDOWN_MS = 10 * 60_000;
// When only in-flight requests' reserved tokens block a key, nothing in the windows says when they finish.
const IN_FLIGHT_WAIT_MS = 1_000;

class KeyState {
  readonly requests: SlidingWindow;
  readonly inputTokens: SlidingWindow;
  readonly outputTokens: SlidingWindow;
  inFlight = 0;
  /** Estimated input tokens of in-flight requests, held against itpm until their usage is known. */
  reservedInput = 0;
  cooldownUntil = 0;
  consecutive429 = 0;
  /** When the provider last rejected the key (401, 402), and until when it is out of rotation for it (0: not). */
  rejectedAt = 0;
  rejectedUntil = 0;
  rejectedStatus = 401;
  /** Skipped until then while a 401 of the key is being confirmed (0: not). */
  heldUntil = 0;
  readonly learned: LearnedLimits;
  /** Estimated input tokens counted in the shared windows (cluster mode) whose usage is not known yet, and how many requests. */
  sharedReserved = 0;
  sharedPending = 0;
  private fp: string | undefined;

  constructor(
    readonly id: string,
    public config: PoolKeyConfig,
    windowMs: number,
  ) {
    this.requests = new SlidingWindow(windowMs);
    this.inputTokens = new SlidingWindow(windowMs);
    this.outputTokens = new SlidingWindow(windowMs);
    this.learned = new LearnedLimits(windowMs);
  }

  /** The key's non-secret name in shared state (computed once, when first needed). */
  get fingerprint(): string {
    return (this.fp ??= keyFingerprint(this.config.key));
  }

  get limited(): boolean {
    return this.config.rpm_limit > 0 || this.config.itpm_limit > 0 || this.config.otpm_limit > 0;
  }
}

/**
 * The keys of one provider. Picks the least-used available key, honours rpm/itpm/otpm locally, learns the
 * upstream's own limits from `anthropic-ratelimit-*` headers and steers away from a key before it runs out, and
 * cools a key down after a 429.
 *
 * Least used means, in order: the lowest utilisation (the highest fraction used of any known limit in the window,
 * local or learned); then the fewest requests in the window per unit of weight (so unlimited keys share by weight);
 * then the fewest in flight; exact ties are broken at random so replicas do not all start on the first key.
 * Weight 0 drains a key, unless every key has weight 0 (a pool that refuses everything is never what a config means).
 * Learned limits only steer (utilisation, and no picks while `remaining` cannot cover the request until its reset);
 * the configured limits are enforced on this pool's own counts.
 *
 * In cluster mode (cluster.mode: redis) a {@link KeyPoolSync} is attached: {@link acquire} then has the configured
 * limits enforced on the cluster's counts (one round trip, only for keys with limits), and cooldowns, parking and
 * learned headers are told to, and taken from, the other replicas (the `apply*` methods). Without it the pool
 * answers exactly as it always has.
 */
export class KeyPool {
  /** How many times an operator cleared the pool's penalties: what was learned about its keys before is stale. */
  resetCount = 0;
  private states: KeyState[];
  private nextIndex: number;
  private readonly windowMs: number;
  private readonly default429CooldownMs: number;
  private readonly max429CooldownMs: number;
  /** Shared state with the other replicas (cluster.mode: redis), when attached. */
  private sync: KeyPoolSync | undefined;

  constructor(
    readonly provider: string,
    keys: readonly PoolKeyConfig[],
    private readonly clock: Clock,
    private readonly rng: Rng,
    options: KeyPoolOptions = {},
  ) {
    this.windowMs = options.windowMs ?? KEY_WINDOW_MS;
    this.default429CooldownMs = options.default429CooldownMs ?? DEFAULT_429_COOLDOWN_MS;
    this.max429CooldownMs = options.max429CooldownMs ?? MAX_429_COOLDOWN_MS;
    this.states = keys.map((k, i) => new KeyState(`${provider}#${i}`, k, this.windowMs));
    this.nextIndex = keys.length;
  }

  /** How many keys the pool holds (0 = pass-through). */
  get size(): number {
    return this.states.length;
  }

  /** Chooses a key for a request of about `estimatedInputTokens` input tokens and counts the request against it. */
  pick(estimatedInputTokens = 0): KeyPick {
    if (this.states.length === 0) return { kind: 'passthrough' };
    const now = this.clock.now();
    const estimate = nonNegative(estimatedInputTokens);
    const active = this.active();

    let best: KeyState[] = [];
    let bestScore: readonly number[] = [];
    let soonest = Infinity;
    for (const s of active) {
      const wait = this.waitMs(s, now, estimate);
      if (wait > 0) {
        soonest = Math.min(soonest, wait);
        continue;
      }
      const score = [this.utilisation(s, now), s.requests.total(now) / effectiveWeight(s), s.inFlight];
      const cmp = best.length === 0 ? -1 : compareScores(score, bestScore);
      if (cmp < 0) {
        best = [s];
        bestScore = score;
      } else if (cmp === 0) {
        best.push(s);
      }
    }

    if (best.length === 0) {
      const retryAfterMs = Number.isFinite(soonest) ? Math.max(1, Math.ceil(soonest)) : IN_FLIGHT_WAIT_MS;
      return { kind: 'exhausted', retryAfterMs };
    }
    const chosen = best.length === 1 ? best[0]! : best[Math.floor(this.rng() * best.length)]!;
    return this.take(chosen, now, estimate);
  }

  /** Counts a picked request against the key. */
  private take(chosen: KeyState, now: number, estimate: number): KeyPick {
    chosen.requests.add(now);
    chosen.inFlight++;
    chosen.reservedInput += estimate;
    chosen.learned.spend(estimate);
    return { kind: 'key', keyId: chosen.id, key: chosen.config.key };
  }

  /** The keys that could take the request now, best first as {@link pick} scores them (ties in random order). */
  private ranked(now: number, estimate: number): KeyState[] {
    const scored: { s: KeyState; score: number[]; tie: number }[] = [];
    for (const s of this.active()) {
      if (this.waitMs(s, now, estimate) > 0) continue;
      const score = [this.utilisation(s, now), s.requests.total(now) / effectiveWeight(s), s.inFlight];
      scored.push({ s, score, tie: this.rng() });
    }
    scored.sort((a, b) => compareScores(a.score, b.score) || a.tie - b.tie);
    return scored.map((x) => x.s);
  }

  /**
   * {@link pick}, with the cluster's counts where they decide: in cluster mode, when the best keys have rpm/itpm/otpm
   * limits, one round trip to the shared state admits the first of them that fits cluster-wide. Without shared state,
   * or when no candidate has limits, it is `pick` (no round trip); when the shared state does not answer in time, the
   * pool decides on its own counts like `pick`.
   */
  acquire(estimatedInputTokens = 0): KeyPick | Promise<KeyPick> {
    // Without shared state no promise is made: the answer is pick's.
    const sync = this.sync;
    if (!sync || this.states.length === 0) return this.pick(estimatedInputTokens);
    return this.acquireShared(sync, estimatedInputTokens);
  }

  private async acquireShared(sync: KeyPoolSync, estimatedInputTokens: number): Promise<KeyPick> {
    const now = this.clock.now();
    const estimate = nonNegative(estimatedInputTokens);
    const ranked = this.ranked(now, estimate);
    const first = ranked[0];
    if (first === undefined) return this.exhausted(now, estimate, Infinity);
    if (!first.limited) return this.take(first, now, estimate);
    // The limited keys in order, up to the first one without limits (which needs no shared count).
    const candidates: KeyState[] = [];
    let unlimited: KeyState | undefined;
    for (const s of ranked) {
      if (!s.limited) {
        unlimited = s;
        break;
      }
      candidates.push(s);
    }
    const limits: SharedKeyLimits[] = candidates.map((s) => ({
      fingerprint: s.fingerprint,
      rpm: s.config.rpm_limit,
      itpm: s.config.itpm_limit,
      otpm: s.config.otpm_limit,
    }));
    const answer = await sync.admit(limits, estimate);
    if (answer === undefined || sync !== this.sync) return this.pick(estimatedInputTokens);
    const at = this.clock.now();
    if (answer.admitted) {
      const chosen = candidates[answer.index];
      // A reload while the answer was on its way dropped the key: its shared count stands, the pool decides.
      if (chosen === undefined || !this.states.includes(chosen)) return this.pick(estimatedInputTokens);
      if (estimate > 0) {
        chosen.sharedReserved += estimate;
        chosen.sharedPending++;
      }
      return this.take(chosen, at, estimate);
    }
    if (unlimited && this.states.includes(unlimited)) return this.take(unlimited, at, estimate);
    return this.exhausted(at, estimate, answer.retryAfterMs);
  }

  /** No key can take the request: the soonest any might, locally or by the shared windows (`sharedWaitMs`). */
  private exhausted(now: number, estimate: number, sharedWaitMs: number): KeyPick {
    let soonest = sharedWaitMs;
    for (const s of this.active()) {
      const wait = this.waitMs(s, now, estimate);
      if (wait > 0) soonest = Math.min(soonest, wait);
    }
    return {
      kind: 'exhausted',
      retryAfterMs: Number.isFinite(soonest) ? Math.max(1, Math.ceil(soonest)) : IN_FLIGHT_WAIT_MS,
    };
  }

  /** Shares this pool's learning with the other replicas from now on (cluster.mode: redis); undefined detaches. */
  attach(sync: KeyPoolSync | undefined): void {
    this.sync = sync;
  }

  /** The fingerprints of the pool's keys (their names in shared state). */
  fingerprints(): string[] {
    return this.states.map((s) => s.fingerprint);
  }

  /** Another replica cooled a key down or parked it (or put it back): honoured here at once. */
  applyPenalty(fingerprint: string, penalty: SharedPenalty): void {
    for (const s of this.states) {
      if (s.fingerprint !== fingerprint) continue;
      if (penalty.cooldownUntil !== undefined)
        s.cooldownUntil = Math.max(s.cooldownUntil, penalty.cooldownUntil);
      if (penalty.rejectedUntil !== undefined && penalty.rejectedUntil > s.rejectedUntil) {
        s.rejectedUntil = penalty.rejectedUntil;
        s.rejectedAt = penalty.rejectedAt ?? s.rejectedAt;
        s.heldUntil = 0;
      }
      if (penalty.acceptedAt !== undefined && s.rejectedUntil > 0 && penalty.acceptedAt >= s.rejectedAt) {
        s.rejectedAt = 0;
        s.rejectedUntil = 0;
        s.heldUntil = 0;
      }
    }
  }

  /** Another replica learned the key's rate-limit headers: taken when newer than this pool's own. */
  applyLearned(fingerprint: string, family: RateLimitFamily, observation: LearnedObservation): void {
    for (const s of this.states) if (s.fingerprint === fingerprint) s.learned.adopt(family, observation);
  }

  /** Another replica cleared the provider's penalties (admin reset). */
  applyClear(): void {
    this.clearLocal();
  }

  /** Whether some key could take a request right now (for "try another key of this provider"). */
  hasAvailableKey(estimatedInputTokens = 0): boolean {
    const now = this.clock.now();
    const estimate = nonNegative(estimatedInputTokens);
    return this.active().some((s) => this.waitMs(s, now, estimate) === 0);
  }

  /**
   * Whether every key of the pool is out of rotation because the provider rejected it (401): the pool is not
   * "cooling down", it holds no key the provider accepts (false for a pass-through pool).
   */
  allRejected(): boolean {
    if (this.states.length === 0) return false;
    const now = this.clock.now();
    return this.active().every((s) => s.rejectedUntil > now);
  }

  /** Milliseconds until some key can take a request (0 = now, also for a pass-through pool). */
  soonestAvailableMs(): number {
    if (this.states.length === 0) return 0;
    const now = this.clock.now();
    let soonest = Infinity;
    for (const s of this.active()) soonest = Math.min(soonest, this.waitMs(s, now, 0));
    return Number.isFinite(soonest) ? Math.ceil(soonest) : IN_FLIGHT_WAIT_MS;
  }

  /**
   * Learns from a response of the key: `anthropic-ratelimit-*` limits, remainings and resets on every status, and a
   * cooldown on 429 for its retry-after (or a doubling default when it has none). A 401 parks nothing here: the
   * request may have caused it (see KeyRejectionPolicy); {@link reject} parks a key once the 401 is confirmed.
   */
  recordResponse(keyId: string, status: number, headers: HeaderBag): void {
    const s = this.find(keyId);
    if (!s) return;
    const now = this.clock.now();
    const changed = s.learned.observe(headers, now);
    const sync = this.sync;
    if (sync) {
      for (const family of changed) {
        const observation = s.learned.observation(family);
        if (observation) sync.learned(s.fingerprint, family, observation);
      }
      // An answer that is not a success spent no tokens: its reservation in the shared windows is given back.
      if ((status < 200 || status >= 300) && s.sharedPending > 0) {
        const share = this.takeSharedShare(s);
        if (share > 0) sync.settle(s.fingerprint, -share, 0);
      }
    }

    if (status === 429) {
      s.consecutive429++;
      const hint = parseRetryAfterMs(headers, now);
      const cooldown =
        hint !== undefined && hint > 0
          ? hint
          : Math.min(this.max429CooldownMs, this.default429CooldownMs * 2 ** (s.consecutive429 - 1));
      s.cooldownUntil = Math.max(s.cooldownUntil, now + cooldown);
      sync?.penalise(s.fingerprint, { cooldownUntil: s.cooldownUntil });
    } else if (status >= 200 && status < 300) {
      s.consecutive429 = 0;
      if (sync && s.rejectedUntil > 0) sync.penalise(s.fingerprint, { acceptedAt: now });
      // The key evidently works (a request of it that was in flight succeeded): back in rotation.
      s.rejectedAt = 0;
      s.rejectedUntil = 0;
      s.heldUntil = 0;
    }
  }

  /**
   * The provider confirmed it does not know the key (a 401 confirmed): a revoked or mistyped key fails every
   * request, so it is out of rotation for REJECTED_KEY_COOLDOWN_MS and stops failing one request in N. The same
   * for a 402: the account behind the key is out of credit or quota, which no short wait cures.
   */
  reject(keyId: string, status = 401): void {
    const s = this.find(keyId);
    if (!s) return;
    const now = this.clock.now();
    s.rejectedStatus = status;
    s.rejectedAt = now;
    s.rejectedUntil = now + REJECTED_KEY_COOLDOWN_MS;
    s.heldUntil = 0;
    this.sync?.penalise(s.fingerprint, { rejectedUntil: s.rejectedUntil, rejectedAt: now });
  }

  /** Skips the key for `ms` (a 401 of it is being confirmed); 0 puts it back at once. */
  hold(keyId: string, ms: number): void {
    const s = this.find(keyId);
    if (!s) return;
    s.heldUntil = ms > 0 ? this.clock.now() + ms : 0;
  }

  /**
   * Counts tokens a request of the key used (from the JSON usage, or a stream's message_start/message_delta).
   * Amounts add up, so report each token once: final totals, or increments.
   */
  recordUsage(keyId: string, inputTokens: number, outputTokens: number): void {
    const s = this.find(keyId);
    if (!s) return;
    const now = this.clock.now();
    const input = nonNegative(inputTokens);
    const output = nonNegative(outputTokens);
    if (input > 0) s.inputTokens.add(now, input);
    if (output > 0) s.outputTokens.add(now, output);
    const sync = this.sync;
    if (sync && (s.config.itpm_limit > 0 || s.config.otpm_limit > 0)) {
      // The shared windows counted the estimate at admission: correct it to the usage, add the output tokens.
      const inputDelta = input > 0 ? input - this.takeSharedShare(s) : 0;
      if (inputDelta !== 0 || output > 0) sync.settle(s.fingerprint, inputDelta, output);
    }
  }

  /** One request's share of the key's estimate still counted in the shared windows (taken off the key). */
  private takeSharedShare(s: KeyState): number {
    if (s.sharedPending === 0) return 0;
    const share = Math.round(s.sharedReserved / s.sharedPending);
    s.sharedPending--;
    s.sharedReserved = s.sharedPending === 0 ? 0 : Math.max(0, s.sharedReserved - share);
    return share;
  }

  /** Ends one in-flight request of the key (call exactly once per successful pick). */
  release(keyId: string): void {
    const s = this.find(keyId);
    if (!s || s.inFlight === 0) return;
    // Estimates are not tracked per request: each finished request gives back an equal share of the reservation.
    s.reservedInput -= s.reservedInput / s.inFlight;
    s.inFlight--;
    if (s.inFlight === 0) s.reservedInput = 0;
  }

  /**
   * The operator fixed the provider's keys (admin reset): every key back in rotation now, its 401 parking and 429
   * cooldown gone. Returns how many keys were parked and how many cooling down. Windows and learned limits stay.
   */
  clearPenalties(): { parked: number; cooling: number } {
    this.sync?.clear();
    return this.clearLocal();
  }

  private clearLocal(): { parked: number; cooling: number } {
    // Here, so a reset another replica made also makes this replica's 401 verifier forget (resetCount).
    this.resetCount++;
    const now = this.clock.now();
    let parked = 0;
    let cooling = 0;
    for (const s of this.states) {
      if (s.rejectedUntil > now) parked++;
      if (s.cooldownUntil > now) cooling++;
      s.rejectedAt = 0;
      s.rejectedUntil = 0;
      s.heldUntil = 0;
      s.cooldownUntil = 0;
      s.consecutive429 = 0;
    }
    return { parked, cooling };
  }

  /**
   * Takes a new key list (config reload) and keeps what it knows: a key whose secret is unchanged keeps its id,
   * windows, cooldown, learned limits and in-flight count; new keys get fresh ids.
   */
  reconfigure(keys: readonly PoolKeyConfig[]): void {
    const old = [...this.states];
    this.states = keys.map((k) => {
      const i = old.findIndex((s) => s.config.key === k.key);
      if (i < 0) return new KeyState(`${this.provider}#${this.nextIndex++}`, k, this.windowMs);
      const kept = old.splice(i, 1)[0]!;
      kept.config = k;
      return kept;
    });
  }

  /** Every key's state for the admin API, with masked secrets. */
  snapshot(): KeySnapshot[] {
    const now = this.clock.now();
    const active = new Set(this.active());
    return this.states.map((s) => {
      const wait = active.has(s) ? this.waitMs(s, now, 0) : Infinity;
      const learned = s.learned.snapshot(now);
      return {
        id: s.id,
        key: maskSecret(s.config.key),
        weight: s.config.weight,
        in_flight: s.inFlight,
        reserved_input_tokens: Math.ceil(s.reservedInput),
        available: wait === 0,
        retry_after_ms: Number.isFinite(wait) ? Math.ceil(wait) : -1,
        cooldown_until: s.cooldownUntil > now ? new Date(s.cooldownUntil).toISOString() : null,
        rejected:
          s.rejectedUntil > now
            ? { status: s.rejectedStatus, at: new Date(s.rejectedAt).toISOString() }
            : null,
        limits: { rpm: s.config.rpm_limit, itpm: s.config.itpm_limit, otpm: s.config.otpm_limit },
        usage: {
          window_ms: this.windowMs,
          requests: s.requests.total(now),
          input_tokens: s.inputTokens.total(now),
          output_tokens: s.outputTokens.total(now),
        },
        learned,
      };
    });
  }

  private find(keyId: string): KeyState | undefined {
    return this.states.find((s) => s.id === keyId);
  }

  private active(): KeyState[] {
    const weighted = this.states.filter((s) => s.config.weight > 0);
    return weighted.length > 0 ? weighted : this.states;
  }

  /** 0 when the key can take the request now, else how long until it might. */
  private waitMs(s: KeyState, now: number, estimate: number): number {
    let wait = Math.max(0, s.cooldownUntil - now, s.rejectedUntil - now, s.heldUntil - now);
    const { rpm_limit: rpm, itpm_limit: itpm, otpm_limit: otpm } = s.config;
    if (rpm > 0) wait = Math.max(wait, s.requests.msUntilFits(now, rpm, 1));
    if (itpm > 0) {
      // A request bigger than the whole limit can only go when the window is empty.
      const need = Math.max(1, Math.min(estimate, itpm));
      const room = itpm - s.reservedInput;
      const byWindow = need > room ? IN_FLIGHT_WAIT_MS : s.inputTokens.msUntilFits(now, room, need);
      wait = Math.max(wait, Number.isFinite(byWindow) ? byWindow : IN_FLIGHT_WAIT_MS);
    }
    if (otpm > 0) wait = Math.max(wait, s.outputTokens.msUntilFits(now, otpm, 1));
    return Math.max(wait, s.learned.waitMs(now, estimate));
  }

  private utilisation(s: KeyState, now: number): number {
    let used = 0;
    const { rpm_limit: rpm, itpm_limit: itpm, otpm_limit: otpm } = s.config;
    if (rpm > 0) used = Math.max(used, s.requests.total(now) / rpm);
    if (itpm > 0) used = Math.max(used, (s.inputTokens.total(now) + s.reservedInput) / itpm);
    if (otpm > 0) used = Math.max(used, s.outputTokens.total(now) / otpm);
    return Math.max(used, s.learned.utilisation(now));
  }
}

function effectiveWeight(s: KeyState): number {
  return s.config.weight > 0 ? s.config.weight : 1;
}

function compareScores(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
