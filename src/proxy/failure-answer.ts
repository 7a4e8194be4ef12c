import type { ServerResponse } from 'node:http';
import { errorJson } from '../protocol/error-writer';
import { errorTypeOfStatus, RelayError, RelayErrorCode, statusOfErrorType } from '../protocol/relay-error';
import type { OutcomeInput } from '../protocol/outcome';
import type { RetryDecision } from '../routing/retry-policy';
import type { AttemptResult } from '../protocol/answer';

const TIMEOUT_KINDS = new Set([
  'headers_timeout',
  'pool_timeout',
  'body_timeout',
  'ttft_timeout',
  'connect_timeout',
  'stall',
]);

/**
 * An upstream stream's `event: error` that came before any content, as the HTTP error it stands for. Nothing
 * reached the client, so it is an upstream status like any other: classified by that status (a 400 is never
 * retried nor held against the breaker, a 529 fails over) and, should it be the last attempt, passed to the client
 * with the upstream's own error type and message. `headers` are the stream's picked response headers.
 */
export function streamErrorAnswer(
  type: string,
  message: string,
  headers: Record<string, string>,
  requestId: string,
): Extract<AttemptResult, { kind: 'status' }> {
  return {
    kind: 'status',
    status: statusOfErrorType(type),
    headers: { ...headers, 'content-type': 'application/json' },
    rawHeaders: headers,
    body: Buffer.from(errorJson(type, message, requestId)),
  };
}

/**
 * The retry decision a final answer stands for. The attempt loop also ends when a breaker refuses the retry or
 * failover the policy asked for (the failure just recorded opened the circuit, or reopened it under test): then the
 * relay gave up for want of a candidate, and its answer says so like any other give-up (`x-should-retry: false`
 * after a 5xx), instead of passing the upstream's own `x-should-retry: true` on between the relay's `false`s.
 */
export function finalDecision(decision: RetryDecision): RetryDecision {
  if (decision.action === 'give_up') return decision;
  return { ...decision, action: 'give_up', delayMs: 0, cause: 'no_candidate' };
}

/** What the attempt loop knows when nothing was delivered and no upstream answer can be passed through. */
export interface FailureFacts {
  /** The last attempt's result, if any attempt was made. */
  last?: AttemptResult;
  attemptsMade: number;
  /** Set when a candidate was skipped because all its keys were cooling down. */
  soonestKeyRetryMs?: number;
  /** The requested model, when no enabled provider serves it or its fallbacks. */
  unservedModel?: string;
  soonestBreakerRetryMs: () => number;
}

/** The relay-made error that says why the request could not be served. */
export function failureError(f: FailureFacts): RelayError {
  const after = `(after ${f.attemptsMade} attempts)`;
  if (f.last?.kind === 'error') {
    const r = f.last;
    const code = TIMEOUT_KINDS.has(r.error)
      ? RelayErrorCode.UpstreamTimeout
      : RelayErrorCode.UpstreamUnreachable;
    return new RelayError(code, `${r.message} ${after}`);
  }
  if (f.soonestKeyRetryMs !== undefined) {
    return new RelayError(RelayErrorCode.RateLimited, 'every key of every provider is cooling down', {
      'retry-after': String(Math.max(1, Math.ceil(f.soonestKeyRetryMs / 1000))),
      'retry-after-ms': String(Math.max(1, Math.ceil(f.soonestKeyRetryMs))),
    });
  }
  if (f.unservedModel !== undefined) {
    return new RelayError(
      RelayErrorCode.NotFound,
      `model ${JSON.stringify(f.unservedModel)} is not served by any provider`,
    );
  }
  return new RelayError(
    RelayErrorCode.Overloaded,
    'every provider for this model is unavailable (circuits open)',
    {
      'retry-after': String(Math.max(1, Math.ceil(f.soonestBreakerRetryMs() / 1000))),
    },
  );
}

/**
 * The providers refused the relay's credentials (a 401 to a key of their pool, or to no credential at all where the
 * relay keeps client keys to itself or kept a client's Anthropic key from another vendor) and nothing else was left:
 * the relay's configuration, not the client's key. Every provider that refused is named, in the order met.
 */
export function keyRejectedError(providers: readonly string[], keyless: boolean): RelayError {
  const names = providers.map((p) => `"${p}"`).join(', ');
  const who = providers.length === 1 ? `provider ${names}` : `providers ${names}`;
  return new RelayError(
    RelayErrorCode.ProviderKeyRejected,
    keyless
      ? `${who} answered 401: ${providers.length === 1 ? 'it has' : 'they have'} no keys, and the relay never ` +
          `forwards its clients' relay keys, nor an Anthropic key to another vendor's provider, so ` +
          `${providers.length === 1 ? 'it was' : 'they were'} called without credentials (give ` +
          `${providers.length === 1 ? 'it' : 'them'} keys in the config)`
      : `${who} rejected the relay's own API key (401) and no other key or provider ` +
          `was left: a relay configuration problem (check the provider's keys), not the client's credentials`,
  );
}

/** Whether an upstream status is no answer a client can read: an informational or a redirect one (1xx, 3xx). */
export function isUnexpectedStatus(status: number): boolean {
  return status < 200 || (status >= 300 && status < 400);
}

/**
 * The last provider answered with a redirect (or a 1xx): the relay never follows one (the provider's key would go
 * wherever it points), and an SDK given a bare 3xx without its Location reports an empty "302 status code". A 502
 * that names the provider and the likely cause instead.
 */
export function unexpectedStatusError(provider: string | undefined, status: number): RelayError {
  const who = provider === undefined ? 'the provider' : `provider "${provider}"`;
  const hint =
    status >= 300 && status < 400
      ? 'a redirect, which the relay does not follow: check its base_url (scheme, host and path)'
      : 'not an answer';
  return new RelayError(RelayErrorCode.UpstreamProtocol, `${who} answered HTTP ${status}, ${hint}`);
}

/** The outcome classifier's input for an attempt result. */
export function outcomeInput(result: AttemptResult): OutcomeInput {
  switch (result.kind) {
    case 'delivered':
      // A stream that failed after the commit still counts against the provider; one that failed only after its
      // message_stop was delivered whole and carries no failure.
      if (result.failure) {
        return {
          status: result.status,
          error: result.failure === 'upstream_error_event' ? 'protocol' : result.failure,
        };
      }
      return { status: result.status };
    case 'status':
      return { status: result.status, headers: result.rawHeaders, nowMs: Date.now() };
    case 'error':
      return { error: result.error };
    case 'cancelled':
      return { clientCancelled: true };
  }
}

const SHOWN_UPSTREAM_TEXT = 200;

/**
 * The last upstream error answer as the client gets it. Anthropic's own error body (`{"type":"error","error":…}`)
 * goes through byte for byte; anything else — a compatible gateway's plain-text "404 page not found", a load
 * balancer's HTML 502 page, an OpenAI-style `{"error":"…"}` — is wrapped into that shape, with the status's error
 * type and the start of the upstream's text, so SDKs and Claude Code read a typed error and its message.
 */
export function upstreamErrorAnswer(
  status: number,
  headers: Record<string, string>,
  body: Buffer,
  provider: string | undefined,
  requestId: string,
): { headers: Record<string, string>; body: Buffer } {
  if (status < 400 || isAnthropicErrorBody(body)) return { headers, body };
  const text = body
    .toString('utf8', 0, 4 * SHOWN_UPSTREAM_TEXT)
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const shown = text.length > SHOWN_UPSTREAM_TEXT ? `${text.slice(0, SHOWN_UPSTREAM_TEXT)}…` : text;
  const who = provider === undefined ? 'the provider' : `provider "${provider}"`;
  const message = `${who} answered HTTP ${status}${shown === '' ? '' : `: ${shown}`}`;
  return {
    headers: { ...headers, 'content-type': 'application/json' },
    body: Buffer.from(errorJson(errorTypeOfStatus(status), message, requestId)),
  };
}

function isAnthropicErrorBody(body: Buffer): boolean {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09))
    i++;
  if (body[i] !== 0x7b) return false; // '{'
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { type?: unknown; error?: unknown };
    return parsed.type === 'error' && typeof parsed.error === 'object' && parsed.error !== null;
  } catch {
    return false;
  }
}

/** Writes a complete answer on a response the handler has taken over, unless one was already started. */
export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Buffer | string,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
