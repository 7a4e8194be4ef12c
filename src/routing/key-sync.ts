import { createHmac } from 'node:crypto';
import type { LearnedObservation, RateLimitFamily } from './learned-limits';

/**
 * The side of a KeyPool the shared state talks to: written out here (KeyPool satisfies it) so this seam does not
 * import the pool that imports it.
 */
export interface SyncedKeyPool {
  readonly provider: string;
  attach(sync: KeyPoolSync | undefined): void;
  applyPenalty(fingerprint: string, penalty: SharedPenalty): void;
  applyLearned(fingerprint: string, family: RateLimitFamily, observation: LearnedObservation): void;
  applyClear(): void;
}

/** What RoutingService hands its key pools to (SharedKeyPools in cluster mode). */
export interface KeyPoolSharing {
  /** Shares the pool from now on (a pool of a provider already shared replaces the old one). */
  attach(pool: SyncedKeyPool): void;
  /** Stops sharing the pool of a provider that left the config. */
  detach(provider: string): void;
}

/**
 * The seam between one provider's KeyPool and state shared with other replicas (cluster.mode: redis). The pool
 * stays the authority of its replica: it asks the shared side only where a cluster-wide count decides (a key with
 * rpm/itpm/otpm limits), tells it what it learned (cooldowns, parking, rate-limit headers), and takes what the other
 * replicas learned through the `apply*` methods of KeyPool. Keys are named by {@link keyFingerprint}, never by their
 * secret.
 */
export interface KeyPoolSync {
  /**
   * One round trip: admits the first candidate whose cluster-wide windows fit one request of `estimate` input
   * tokens (and counts it there), or says how long until the soonest one would. Undefined when the shared state did
   * not answer in time: the pool then decides on its own counts.
   */
  admit(candidates: readonly SharedKeyLimits[], estimate: number): Promise<SharedAdmission | undefined>;
  /** Corrects a key's windows once a request's usage is known (batched, never on the request path). */
  settle(fingerprint: string, inputDelta: number, outputTokens: number): void;
  /** A key cooled down (429) or was parked (401 confirmed), or a success put a parked key back. */
  penalise(fingerprint: string, penalty: SharedPenalty): void;
  /** Rate-limit headers the key's response carried (batched, the latest observation wins). */
  learned(fingerprint: string, family: RateLimitFamily, observation: LearnedObservation): void;
  /** The operator cleared the provider's penalties (admin reset). */
  clear(): void;
}

/** What the shared side checks for one key. */
export interface SharedKeyLimits {
  fingerprint: string;
  rpm: number;
  itpm: number;
  otpm: number;
}

export type SharedAdmission = { admitted: true; index: number } | { admitted: false; retryAfterMs: number };

/** A key's penalties as epoch milliseconds (0: none). */
export interface SharedPenalty {
  cooldownUntil?: number;
  rejectedUntil?: number;
  rejectedAt?: number;
  /** Set when a success put the key back in rotation: parking older than this is over. */
  acceptedAt?: number;
}

const FINGERPRINT_LABEL = 'cc-relay key fingerprint v1';

/**
 * A key's name in shared state: 16 characters of an HMAC-SHA256 of the secret (96 bits), the same on every replica
 * that has the key, from which the key cannot be recovered.
 */
export function keyFingerprint(secret: string): string {
  return createHmac('sha256', FINGERPRINT_LABEL).update(secret, 'utf8').digest('base64url').slice(0, 16);
}
