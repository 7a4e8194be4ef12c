/**
 * The one classification of an upstream attempt. The circuit breaker, the key pool and the retry policy all read
 * its result, so they can never disagree about what a failure is.
 */

/** How an attempt failed when there is no HTTP status to look at (or the body broke after it). */
export type UpstreamErrorKind =
  | 'connect_refused'
  | 'connect_timeout'
  | 'dns'
  | 'reset'
  | 'headers_timeout'
  /** Every upstream connection of the provider stayed taken (its max_connections) for the whole time allowed. */
  | 'pool_timeout'
  | 'body_timeout'
  | 'ttft_timeout'
  | 'stall'
  | 'protocol'
  /** The answer was larger than the relay holds in memory: not the provider's health, and no retry helps. */
  | 'too_large';

/**
 * The classes an attempt falls into. `key_rejected`: the upstream refused the key the relay itself injected (401),
 * or the account behind it is out of credit or quota (402, e.g. OpenAI's `insufficient_quota`): a fault of the
 * relay's configuration or billing, not of the client's request: another key or provider is tried.
 * `unsupported`: the provider has no such endpoint (a 404 or 405 to count_tokens, which Anthropic-compatible
 * gateways such as Ollama's do not all serve): the request moves to another provider, the breaker is not told.
 */
export type OutcomeKind =
  | 'success'
  | 'permanent'
  | 'transient'
  | 'rate_limited'
  | 'key_rejected'
  | 'unsupported'
  | 'client_cancelled';

/** Response headers as Node and undici hand them over (names may arrive in any case). */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** What the attempt loop knows about one finished attempt. */
export interface OutcomeInput {
  status?: number;
  headers?: HeaderBag;
  error?: UpstreamErrorKind;
  clientCancelled?: boolean;
  /** The relay sent a key of its own pool (not the client's credential, as a pass-through provider does). */
  relayKey?: boolean;
  /** The attempt was a `POST /v1/messages/count_tokens`, an endpoint some compatible gateways lack. */
  countTokens?: boolean;
  /** Only needed to turn an HTTP-date `retry-after` into a delay; without it such a date is ignored. */
  nowMs?: number;
}

/** The classified attempt. */
export interface AttemptOutcome {
  kind: OutcomeKind;
  status?: number;
  error?: UpstreamErrorKind;
  /** The upstream's own wait hint (`retry-after-ms` / `retry-after`), when it sent a usable one. */
  retryAfterMs?: number;
  /** Whether the provider's circuit breaker counts this attempt as a failure. */
  breakerFailure: boolean;
  /** A short human description for logs and debug output. */
  reason: string;
}

// Retried by the official SDKs although they are 4xx: a timed-out or conflicting request may well pass next time.
const RETRYABLE_4XX = new Set([408, 409]);

// What a server answers for a route it does not have (Not Found, Method Not Allowed).
const ENDPOINT_MISSING = new Set([404, 405]);

const ERROR_REASONS: Record<UpstreamErrorKind, string> = {
  connect_refused: 'connection refused',
  connect_timeout: 'connect timeout',
  dns: 'DNS lookup failed',
  reset: 'connection reset',
  headers_timeout: 'no response headers in time',
  pool_timeout: 'no free upstream connection in time',
  body_timeout: 'response body timed out',
  ttft_timeout: 'no first token in time',
  stall: 'stream stalled',
  protocol: 'malformed upstream response',
  too_large: 'upstream answer too large',
};

/** Classifies one attempt from its status, transport error, headers and whether the client went away. */
export function classifyOutcome(input: OutcomeInput): AttemptOutcome {
  const { status, error, headers } = input;

  // The client leaving says nothing about the provider's health, whatever the upstream was doing at the time.
  if (input.clientCancelled) {
    return { kind: 'client_cancelled', status, error, breakerFailure: false, reason: 'client cancelled' };
  }

  // An answer too large to hold would be as large on a retry and says nothing about the provider's health.
  if (error === 'too_large') {
    return { kind: 'permanent', status, error, breakerFailure: false, reason: ERROR_REASONS[error] };
  }

  // A transport error wins over a status: a 200 whose stream then stalls or resets is still a failed attempt.
  if (error !== undefined) {
    // A request that never left the relay's own connection queue says nothing about the provider's health.
    const breakerFailure = error !== 'pool_timeout';
    return { kind: 'transient', status, error, breakerFailure, reason: ERROR_REASONS[error] };
  }

  if (status === undefined) {
    return {
      kind: 'transient',
      error: 'protocol',
      breakerFailure: true,
      reason: 'attempt ended without status or error',
    };
  }

  if (status >= 200 && status < 300) {
    return { kind: 'success', status, breakerFailure: false, reason: 'success' };
  }
  const retryAfterMs = headers ? parseRetryAfterMs(headers, input.nowMs) : undefined;
  const withHint = retryAfterMs === undefined ? {} : { retryAfterMs };
  if (status === 429) {
    // Counts for the breaker as the spec's table says: a provider that only answers 429 is no use to routing.
    return { kind: 'rate_limited', status, ...withHint, breakerFailure: true, reason: '429 rate limited' };
  }
  if (status === 401 && input.relayKey) {
    // Not the client's credential: telling the client its key is invalid would send it to the wrong fix.
    return {
      kind: 'key_rejected',
      status,
      breakerFailure: false,
      reason: "401 the provider rejected the relay's key",
    };
  }
  if (status === 402 && input.relayKey) {
    // The relay's account is out of credit or quota: no wait helps this key, another key or provider may serve.
    return {
      kind: 'key_rejected',
      status,
      breakerFailure: false,
      reason: "402 the account behind the relay's key is out of credit or quota",
    };
  }
  if (input.countTokens && ENDPOINT_MISSING.has(status)) {
    // The gateway implements the Messages API only; another provider may well count the tokens.
    return {
      kind: 'unsupported',
      status,
      breakerFailure: false,
      reason: `${status} the provider does not serve count_tokens`,
    };
  }
  if (RETRYABLE_4XX.has(status)) {
    // The request's own trouble, not the provider's: retried, but never held against the breaker.
    return { kind: 'transient', status, ...withHint, breakerFailure: false, reason: `${status} retryable` };
  }
  if (status >= 400 && status < 500) {
    return { kind: 'permanent', status, breakerFailure: false, reason: `${status} not retryable` };
  }
  if (status >= 500) {
    // 529 (overloaded) lands here too: the request is fine, the capacity is not.
    return {
      kind: 'transient',
      status,
      ...withHint,
      breakerFailure: true,
      reason: `${status} upstream error`,
    };
  }
  // 1xx/3xx from an API base URL means a misconfigured provider (an http->https redirect, a login page):
  // another provider can still answer, and the breaker should notice.
  return { kind: 'transient', status, breakerFailure: true, reason: `unexpected status ${status}` };
}

/**
 * The outcome to feed the retry policy when a provider's key pool had no usable key, so no upstream call was made.
 * It is rate-limited (the pool's own quota) but never a breaker failure: the provider was not even asked.
 */
export function keyPoolExhaustedOutcome(retryAfterMs: number): AttemptOutcome {
  return {
    kind: 'rate_limited',
    retryAfterMs,
    breakerFailure: false,
    reason: 'all keys of the provider cooling down',
  };
}

// setTimeout cannot wait longer than 2^31-1 ms; a longer hint still means "not soon", so it is clamped, not dropped.
const MAX_RETRY_AFTER_MS = 2 ** 31 - 1;

/**
 * The wait an upstream asks for: `retry-after-ms` (float milliseconds) first, then `retry-after` (float seconds or an
 * HTTP date, which needs `nowMs`). Undefined when absent or unusable; a date in the past gives 0.
 */
export function parseRetryAfterMs(headers: HeaderBag, nowMs?: number): number | undefined {
  const ms = parseNonNegativeFloat(headerValue(headers, 'retry-after-ms'));
  if (ms !== undefined) return capped(ms);

  const raw = headerValue(headers, 'retry-after');
  if (raw === undefined) return undefined;
  const seconds = parseNonNegativeFloat(raw);
  if (seconds !== undefined) return capped(seconds * 1000);
  // Only a real date: Date.parse also accepts bare numbers like "-1" as years.
  if (nowMs === undefined || !/[a-z]/i.test(raw)) return undefined;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  return capped(Math.max(0, at - nowMs));
}

/**
 * The first value of a header. Names must be given in lower case: Node and undici hand over header bags with
 * lower-cased names, and this runs several times per request on the hot path, so there is no case-folding scan.
 */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.trim();
}

function parseNonNegativeFloat(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d+(\.\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}

function capped(ms: number): number {
  return Math.min(MAX_RETRY_AFTER_MS, Math.ceil(ms));
}
