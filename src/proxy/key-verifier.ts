import type { IncomingHttpHeaders } from 'node:http';
import { Cancellation } from '../common/cancellation';
import { systemClock, type Clock } from '../common/clock';
import {
  decideKey401,
  KEY_CHECK_REUSE_MS,
  KEY_CONFIRM_HOLD_MS,
  keyCheckOfStatus,
  needsKeyCheck,
  requestExplains401,
  type KeyCheck,
} from '../routing/key-rejection';
import type { ProviderRuntime } from '../routing/routing.service';
import type { AttemptResult } from '../protocol/answer';
import type { UpstreamClient } from './upstream-client';

/** settle401's answer to anything but a 401 (settled once, shared). */
const NOT_A_401: Promise<boolean> = Promise.resolve(false);

/** Bounds the confirmation call (its headers and its body). */
const KEY_CHECK_TIMEOUT_MS = 5_000;

/**
 * Confirms a 401 to a key of the pool before the key is parked (see key-rejection.ts): one request whose input the
 * provider refused must not take the relay's keys out for everyone. While the check runs the key is skipped by
 * other requests for a few seconds; concurrent 401s of one key share one check.
 */
export class KeyVerifier {
  private readonly checks = new Map<string, Promise<KeyCheck>>();
  /**
   * The last unconfirmed 401 of each key: when, from which request, and in which reset era of its pool (an admin
   * reset forgets it: the operator says the keys are fixed, so a 401 from before must not confirm one after).
   */
  private readonly unconfirmed = new Map<string, { at: number; requestId: string; era: number }>();
  /** When the check last found each key working (reused for KEY_CHECK_REUSE_MS), and in which reset era. */
  private readonly acceptedAt = new Map<string, { at: number; era: number }>();

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * After an attempt with a key of the pool: on a 401, decides whether the key is parked, and returns whether the
   * request itself caused the 401 (the client then gets the upstream 401 as is). Anything else: false at once.
   */
  settle401(
    rt: ProviderRuntime,
    lease: { keyId: string; key: string },
    request: { id: string; headers: IncomingHttpHeaders },
    result: AttemptResult,
  ): Promise<boolean> {
    // Nearly every attempt: one shared settled promise, no async frame of its own.
    if (result.kind !== 'status' || result.status !== 401) return NOT_A_401;
    return this.settleKey401(rt, lease, request);
  }

  private async settleKey401(
    rt: ProviderRuntime,
    lease: { keyId: string; key: string },
    request: { id: string; headers: IncomingHttpHeaders },
  ): Promise<boolean> {
    const { keyId } = lease;
    const explainedByRequest = requestExplains401(request.headers);
    let check: KeyCheck | undefined;
    if (needsKeyCheck(explainedByRequest)) {
      const accepted = this.acceptedAt.get(keyId);
      if (
        accepted !== undefined &&
        accepted.era === rt.keys.resetCount &&
        this.clock.now() - accepted.at < KEY_CHECK_REUSE_MS
      ) {
        check = 'accepted';
      } else {
        rt.keys.hold(keyId, KEY_CONFIRM_HOLD_MS);
        check = await this.check(rt, lease);
        if (check === 'accepted')
          this.acceptedAt.set(keyId, { at: this.clock.now(), era: rt.keys.resetCount });
        else this.acceptedAt.delete(keyId);
      }
    }
    const remembered = this.unconfirmed.get(keyId);
    const earlier = remembered?.era === rt.keys.resetCount ? remembered : undefined;
    const nowMs = this.clock.now();
    const decision = decideKey401({
      explainedByRequest,
      check,
      earlierOther401At: earlier && earlier.requestId !== request.id ? earlier.at : undefined,
      nowMs,
    });
    if (decision.park) {
      rt.keys.reject(keyId);
      this.unconfirmed.delete(keyId);
    } else {
      if (check !== undefined) rt.keys.hold(keyId, decision.holdMs);
      if (!decision.requestCaused)
        this.unconfirmed.set(keyId, { at: nowMs, requestId: request.id, era: rt.keys.resetCount });
    }
    return decision.requestCaused;
  }

  private check(rt: ProviderRuntime, lease: { keyId: string; key: string }): Promise<KeyCheck> {
    const running = this.checks.get(lease.keyId);
    if (running) return running;
    const started = this.probe(rt, lease.key).finally(() => this.checks.delete(lease.keyId));
    this.checks.set(lease.keyId, started);
    return started;
  }

  /** `GET /v1/models?limit=1` with the key, sent the way the provider's auth style wants. */
  private async probe(rt: ProviderRuntime, key: string): Promise<KeyCheck> {
    const headers = ['anthropic-version', '2023-06-01', 'accept-encoding', 'identity'];
    if (rt.auth === 'bearer') headers.push('authorization', `Bearer ${key}`);
    else headers.push('x-api-key', key);
    try {
      const res = await this.upstream.send({
        provider: rt.name,
        maxConnections: rt.maxConnections,
        baseUrl: rt.baseUrl,
        pathAndQuery: '/v1/models?limit=1',
        method: 'GET',
        headers,
        signal: new Cancellation(),
        headersTimeoutMs: KEY_CHECK_TIMEOUT_MS,
        bodyTimeoutMs: KEY_CHECK_TIMEOUT_MS,
      });
      await res.body.dump();
      return keyCheckOfStatus(res.statusCode);
    } catch {
      return keyCheckOfStatus(undefined);
    }
  }
}
