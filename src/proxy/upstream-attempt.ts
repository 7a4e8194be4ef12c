import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { UpstreamErrorKind } from '../routing/outcome';
import { errorBody } from '../common/relay-error';
import { formatSseEvent, SseScanner } from './sse-scanner';
import { StreamProgress, type Usage } from './stream-progress';
import type { UpstreamClient, UpstreamRequest } from './upstream-client';
import { describeUpstreamError, UpstreamError, upstreamErrorKind } from './upstream-error';
import { pickResponseHeaders } from './upstream-headers';

/** Largest upstream error/JSON body the relay holds in memory (answers are far smaller; protects the heap). */
const MAX_BUFFERED_BODY = 64 * 1024 * 1024;

/** How one attempt ended, as the attempt loop needs it. */
export type AttemptResult =
  /** The answer reached the client (JSON sent, or a stream that ran to its end or failed after the commit). */
  | {
      kind: 'delivered';
      status: number;
      headers: Record<string, string>;
      usage: Usage;
      model?: string;
      /** JSON answers: the bytes sent (the cache stores them). */
      body?: Buffer;
      /** Streams: the raw SSE bytes, kept only when the caller asked to capture them (cache). */
      streamBytes?: Buffer[];
      /** Streams: whether the answer ran to message_stop. */
      completed: boolean;
      /** Streams that failed after the commit point: what went wrong (counts against the provider). */
      failure?: UpstreamErrorKind | 'upstream_error_event';
      stopReason?: string;
    }
  /** The upstream answered with a non-success status; nothing was sent to the client yet. */
  | {
      kind: 'status';
      status: number;
      headers: Record<string, string>;
      rawHeaders: Record<string, string | string[] | undefined>;
      body: Buffer;
    }
  /** The exchange failed before anything was sent to the client. */
  | { kind: 'error'; error: UpstreamErrorKind; message: string; status?: number }
  /** The client went away. */
  | { kind: 'cancelled' };

/** What the attempt needs besides the upstream request. */
export interface AttemptOptions {
  res: ServerResponse;
  /** Extra response headers (request id, debug headers). */
  extraHeaders: () => Record<string, string | number | string[]>;
  stream: boolean;
  ttftTimeoutMs: number;
  stallTimeoutMs: number;
  /** Keep a copy of the streamed bytes for the cache. */
  captureStream: boolean;
  /** Registers a function the graceful stop calls to end this stream; returns the unregister function. */
  onCommitted?: (forceStop: () => void) => void;
  requestId: string;
  /** Aborted when the client goes away. */
  clientSignal: AbortSignal;
}

/**
 * Runs one upstream attempt and, when it succeeds, delivers the answer. Before the commit point (the whole JSON
 * answer, or the first content event of a stream) nothing is written to the client, so the attempt loop may still
 * retry or fail over; after it, a failure ends the stream with an SSE `error` event — never a clean end that
 * looks like a complete answer.
 */
export async function runAttempt(
  client: UpstreamClient,
  req: UpstreamRequest,
  abort: AbortController,
  opts: AttemptOptions,
): Promise<AttemptResult> {
  let response;
  try {
    response = await client.send(req);
  } catch (err) {
    return failed(err, opts.clientSignal);
  }
  const rawHeaders = response.headers;
  const headers = pickResponseHeaders(rawHeaders);
  const status = response.statusCode;
  const isSse = String(rawHeaders['content-type'] ?? '').startsWith('text/event-stream');

  if (status < 200 || status >= 300 || !(opts.stream && isSse)) {
    let body: Buffer;
    try {
      body = await readAll(response.body, MAX_BUFFERED_BODY);
    } catch (err) {
      return failed(err, opts.clientSignal);
    }
    if (status < 200 || status >= 300) return { kind: 'status', status, headers, rawHeaders, body };
    if (opts.res.destroyed) return { kind: 'cancelled' };
    const usage = usageOfJson(body);
    opts.res.writeHead(status, { ...headers, ...opts.extraHeaders(), 'content-length': body.length });
    opts.res.end(body);
    return {
      kind: 'delivered',
      status,
      headers,
      usage: usage.usage,
      model: usage.model,
      body,
      completed: true,
      stopReason: usage.stopReason,
    };
  }
  return relayStream(response.body, status, headers, abort, opts);
}

async function relayStream(
  body: AsyncIterable<Buffer> & { destroy(err?: Error): void },
  status: number,
  headers: Record<string, string>,
  abort: AbortController,
  opts: AttemptOptions,
): Promise<AttemptResult> {
  const { res } = opts;
  const scanner = new SseScanner();
  const progress = new StreamProgress();
  const held: Buffer[] = [];
  const captured: Buffer[] | undefined = opts.captureStream ? [] : undefined;
  let timedOut: UpstreamErrorKind | undefined;
  // Before the commit the TTFT deadline runs; after it the stall timer, refreshed by every chunk.
  const ttftTimer = setTimeout(() => {
    timedOut = 'ttft_timeout';
    abort.abort();
  }, opts.ttftTimeoutMs);
  let stallTimer: NodeJS.Timeout | undefined;
  const clearTimers = () => {
    clearTimeout(ttftTimer);
    if (stallTimer) clearTimeout(stallTimer);
  };
  let forcedStop = false;

  const endWithError = (type: string, message: string) => {
    if (!res.writableEnded && !res.destroyed)
      res.end(formatSseEvent('error', errorBody(type, message, opts.requestId)));
  };

  try {
    for await (const chunk of body) {
      const events = scanner.push(chunk);
      captured?.push(chunk);
      if (!progress.committed) {
        held.push(chunk);
        let commitNow = false;
        for (const ev of events) {
          if (progress.observe(ev)) commitNow = true;
          if (progress.errorType && !progress.committed) {
            // An error event before any content: invisible to the client, so it can be retried elsewhere.
            clearTimers();
            body.destroy();
            return {
              kind: 'error',
              error: 'protocol',
              message: `upstream stream error: ${progress.errorType}`,
              status: statusOfStreamError(progress.errorType),
            };
          }
        }
        if (!commitNow && !progress.completed) continue;
        if (res.destroyed) return { kind: 'cancelled' };
        res.writeHead(status, {
          ...headers,
          ...opts.extraHeaders(),
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
        });
        opts.onCommitted?.(() => {
          forcedStop = true;
          endWithError('overloaded_error', 'the relay is shutting down; retry the request');
          abort.abort();
        });
        clearTimeout(ttftTimer);
        stallTimer = setTimeout(() => {
          timedOut = 'stall';
          abort.abort();
        }, opts.stallTimeoutMs);
        for (const piece of held) res.write(piece);
        held.length = 0;
        continue;
      }
      for (const ev of events) progress.observe(ev);
      stallTimer?.refresh();
      if (!res.write(chunk)) {
        await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (res.destroyed) break;
      }
    }
  } catch (err) {
    clearTimers();
    if (opts.clientSignal.aborted && !forcedStop) return { kind: 'cancelled' };
    const kind = timedOut ?? upstreamErrorKind(err);
    if (!progress.committed) return { kind: 'error', error: kind, message: describeUpstreamError(kind) };
    if (!forcedStop)
      endWithError(kind === 'stall' ? 'timeout_error' : 'api_error', describeUpstreamError(kind));
    return delivered(status, headers, progress, captured, forcedStop ? undefined : kind);
  }
  clearTimers();
  if (res.destroyed && !res.writableEnded) return { kind: 'cancelled' };
  if (!progress.committed) {
    // The upstream ended the stream without any content event.
    return { kind: 'error', error: 'reset', message: 'the upstream stream ended before any content' };
  }
  if (progress.completed || progress.errorType) {
    res.end();
    return delivered(
      status,
      headers,
      progress,
      captured,
      progress.errorType ? 'upstream_error_event' : undefined,
    );
  }
  endWithError('api_error', 'the upstream stream ended before message_stop');
  return delivered(status, headers, progress, captured, 'reset');
}

function delivered(
  status: number,
  headers: Record<string, string>,
  progress: StreamProgress,
  captured: Buffer[] | undefined,
  failure: UpstreamErrorKind | 'upstream_error_event' | undefined,
): AttemptResult {
  return {
    kind: 'delivered',
    status,
    headers,
    usage: progress.usage,
    model: progress.model,
    streamBytes: captured,
    completed: progress.completed && !progress.errorType,
    failure,
    stopReason: progress.stopReason,
  };
}

function failed(err: unknown, clientSignal: AbortSignal): AttemptResult {
  if (clientSignal.aborted) return { kind: 'cancelled' };
  const kind = upstreamErrorKind(err);
  return { kind: 'error', error: kind, message: describeUpstreamError(kind) };
}

/** A stream `error` event's type, as the HTTP status it stands for (overloaded_error = 529). */
function statusOfStreamError(type: string): number {
  switch (type) {
    case 'overloaded_error':
      return 529;
    case 'rate_limit_error':
      return 429;
    case 'timeout_error':
      return 504;
    case 'invalid_request_error':
      return 400;
    default:
      return 500;
  }
}

async function readAll(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new UpstreamError('protocol', 'upstream body too large');
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

function usageOfJson(body: Buffer): { usage: Usage; model?: string; stopReason?: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      usage?: Partial<Usage>;
      input_tokens?: number;
      model?: string;
      stop_reason?: string;
    };
    return {
      usage: {
        input_tokens: parsed.usage?.input_tokens ?? parsed.input_tokens ?? 0,
        output_tokens: parsed.usage?.output_tokens ?? 0,
      },
      model: parsed.model,
      stopReason: parsed.stop_reason,
    };
  } catch {
    return { usage: { input_tokens: 0, output_tokens: 0 } };
  }
}
