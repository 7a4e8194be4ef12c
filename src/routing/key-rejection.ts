import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether a 401 to a key of the pool is the key's fault (revoked, mistyped: park it) or the request's (a client
 * input the provider refused: pass the 401 on, keep the key). One request must never take the relay's keys out for
 * everyone, so a 401 parks a key only once confirmed: a cheap authenticated call with the key answered 401/403, or
 * (when that call says nothing) a second 401 of the key from another request soon after.
 */

/** How long a key is skipped while its 401 is being confirmed: a few seconds, never the 10 minutes of parking. */
export const KEY_CONFIRM_HOLD_MS = 5_000;
/**
 * A key the check found working is taken as working for this long without another check: a client repeating a
 * request the provider refuses does not make the relay call the provider twice per request.
 */
export const KEY_CHECK_REUSE_MS = 30_000;
/** An unconfirmed 401 of the key from another request within this long confirms (when the check said nothing). */
export const SECOND_401_WINDOW_MS = 60_000;

/**
 * Whether the request's own headers could explain a 401: it carried client headers the relay forwards that change
 * how the provider authenticates (an `anthropic-beta` asking for OAuth, `oauth-2025-04-20`, makes Anthropic
 * refuse an API key). Such a 401 is the client's, and never parks a key.
 */
export function requestExplains401(client: IncomingHttpHeaders): boolean {
  const beta = client['anthropic-beta'];
  const values = Array.isArray(beta) ? beta : beta === undefined ? [] : [beta];
  return values.some((v) => /oauth/i.test(v));
}

/** What the confirmation call (GET /v1/models with the key) said. */
export type KeyCheck =
  /** 401/403: the provider does not accept the key. */
  | 'rejected'
  /** 2xx: the key works, so the request caused the 401. */
  | 'accepted'
  /** Anything else (no such endpoint, a 5xx, a timeout): no information. */
  | 'unknown';

/** The confirmation call's status (undefined when it failed) as a {@link KeyCheck}. */
export function keyCheckOfStatus(status: number | undefined): KeyCheck {
  if (status === 401 || status === 403) return 'rejected';
  if (status !== undefined && status >= 200 && status < 300) return 'accepted';
  return 'unknown';
}

/** What to do about a 401 to a key of the pool. */
export interface Key401Decision {
  /** Park the key for REJECTED_KEY_COOLDOWN_MS. */
  park: boolean;
  /** The request caused the 401: the client gets the upstream 401 as is (not "the relay's key was rejected"). */
  requestCaused: boolean;
  /** Skip the key this long (0: back in rotation now). */
  holdMs: number;
}

/** The facts a 401 is judged on. */
export interface Key401Facts {
  /** {@link requestExplains401} of the request. */
  explainedByRequest: boolean;
  /** The confirmation call's verdict (undefined when none was made). */
  check?: KeyCheck;
  /** When an earlier unconfirmed 401 of the key came from another request (undefined: none), and now. */
  earlierOther401At?: number;
  nowMs: number;
}

/** Whether a 401 of a key needs the confirmation call at all (a request that explains its 401 does not). */
export function needsKeyCheck(explainedByRequest: boolean): boolean {
  return !explainedByRequest;
}

/** The pure decision on a 401 of a key. */
export function decideKey401(f: Key401Facts): Key401Decision {
  if (f.explainedByRequest) return { park: false, requestCaused: true, holdMs: 0 };
  if (f.check === 'rejected') return { park: true, requestCaused: false, holdMs: 0 };
  if (f.check === 'accepted') return { park: false, requestCaused: true, holdMs: 0 };
  // The check said nothing: a second 401 from another request confirms, else the key sits out only briefly.
  const second = f.earlierOther401At !== undefined && f.nowMs - f.earlierOther401At <= SECOND_401_WINDOW_MS;
  return second
    ? { park: true, requestCaused: false, holdMs: 0 }
    : { park: false, requestCaused: false, holdMs: KEY_CONFIRM_HOLD_MS };
}
