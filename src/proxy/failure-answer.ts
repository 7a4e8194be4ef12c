import type { ServerResponse } from 'node:http';
import { RelayError, RelayErrorCode } from '../common/relay-error';
import type { OutcomeInput } from '../routing/outcome';
import type { AttemptResult } from './upstream-attempt';

const TIMEOUT_KINDS = new Set([
  'headers_timeout',
  'body_timeout',
  'ttft_timeout',
  'connect_timeout',
  'stall',
]);

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
    if (r.status === 529) return new RelayError(RelayErrorCode.Overloaded, `${r.message} ${after}`);
    if (r.status === 429) return new RelayError(RelayErrorCode.RateLimited, `${r.message} ${after}`);
    const code = TIMEOUT_KINDS.has(r.error)
      ? RelayErrorCode.UpstreamTimeout
      : RelayErrorCode.UpstreamUnreachable;
    return new RelayError(code, `${r.message} ${after}`);
  }
  if (f.soonestKeyRetryMs !== undefined) {
    return new RelayError(RelayErrorCode.RateLimited, 'every key of every provider is cooling down', {
      'retry-after': String(Math.max(1, Math.ceil(f.soonestKeyRetryMs / 1000))),
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

/** The outcome classifier's input for an attempt result. */
export function outcomeInput(result: AttemptResult): OutcomeInput {
  switch (result.kind) {
    case 'delivered':
      // A stream that failed after the commit still counts against the provider.
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
      return result.status !== undefined ? { status: result.status } : { error: result.error };
    case 'cancelled':
      return { clientCancelled: true };
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
