import type { Readable } from 'node:stream';
import type { Cancellation } from '../common/cancellation';
import { errorBody } from '../common/relay-error';
import type { UpstreamErrorKind } from '../routing/outcome';
import { formatSseEvent, SseScanner } from './sse-scanner';
import { StreamProgress } from './stream-progress';
import { headerList } from './upstream-headers';
import type { AttemptOptions, AttemptResult } from './upstream-attempt';
import { describeUpstreamError, upstreamErrorKind } from './upstream-error';

/**
 * Relays one upstream SSE stream to the client, event-driven (no async iterator: one promise per chunk was a
 * measurable cost). Until the first content event the chunks are held and a TTFT timer runs, so a failure is
 * still invisible and the attempt loop may retry. At the commit point the held bytes are written and every later
 * chunk is forwarded as it arrives, unchanged; a stall timer guards silence. After the commit a failure ends the
 * stream with an SSE `error` event, never a clean end that looks complete.
 */
export function relayStream(
  body: Readable,
  status: number,
  headers: Record<string, string>,
  abort: Cancellation,
  opts: AttemptOptions,
): Promise<AttemptResult> {
  const { res } = opts;
  const scanner = new SseScanner(StreamProgress.readsDataOf);
  const progress = new StreamProgress();
  const held: Buffer[] = [];
  let captured: Buffer[] | undefined = opts.captureLimitBytes > 0 ? [] : undefined;
  let capturedBytes = 0;
  let captureOverflowed = false;
  let timedOut: UpstreamErrorKind | undefined;
  let forcedStop = false;
  let stallTimer: NodeJS.Timeout | undefined;
  // Set while the answer's last bytes (message_stop seen) wait corked for the upstream's end: the final write and
  // the chunked terminator then leave in one syscall instead of two (a loopback write costs tens of µs).
  let lastFlush: NodeJS.Immediate | undefined;
  // undici destroys the body when `abort` fires (it is the request's signal); the timers only say why.
  const ttftTimer = setTimeout(() => {
    timedOut = 'ttft_timeout';
    abort.abort();
  }, opts.ttftTimeoutMs);

  const endWithError = (type: string, message: string) => {
    if (!res.writableEnded && !res.destroyed) {
      res.end(formatSseEvent('error', errorBody(type, message, opts.requestId)));
    }
  };
  const delivered = (failure: UpstreamErrorKind | 'upstream_error_event' | undefined): AttemptResult => ({
    kind: 'delivered',
    status,
    headers,
    usage: progress.usage,
    model: progress.model,
    streamBytes: captured,
    captureOverflowed,
    completed: progress.completed && !progress.errorType,
    failure,
    stopReason: progress.stopReason,
  });

  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const flushLast = () => {
      if (!lastFlush) return;
      clearImmediate(lastFlush);
      lastFlush = undefined;
      res.uncork();
    };
    // After message_stop the upstream's end follows at once; should it not, the bytes still leave on the next turn.
    const holdLast = () => {
      res.cork();
      lastFlush = setImmediate(flushLast);
    };

    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(ttftTimer);
      if (stallTimer) clearTimeout(stallTimer);
      flushLast();
      resolve(result);
    };

    const commit = () => {
      const out = headerList(headers);
      opts.addHeaders(out);
      out.push('cache-control', 'no-cache', 'x-accel-buffering', 'no');
      res.writeHead(status, out);
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
      res.cork();
      for (const piece of held) res.write(piece);
      if (progress.completed) holdLast();
      res.uncork();
      held.length = 0;
    };

    body.on('data', (chunk: Buffer) => {
      if (settled) return;
      const events = scanner.push(chunk);
      if (captured) {
        capturedBytes += chunk.length;
        if (capturedBytes <= opts.captureLimitBytes) {
          captured.push(chunk);
        } else {
          captured = undefined; // too long to be cached: stop holding it
          captureOverflowed = true;
        }
      }
      if (!progress.committed) {
        held.push(chunk);
        let commitNow = false;
        for (const ev of events) {
          if (progress.observe(ev)) commitNow = true;
          if (progress.errorType && !progress.committed) {
            // An error event before any content: invisible to the client, so it can be retried elsewhere.
            body.destroy();
            finish({
              kind: 'error',
              error: 'protocol',
              message: `upstream stream error: ${progress.errorType}`,
              status: statusOfStreamError(progress.errorType),
            });
            return;
          }
        }
        if (!commitNow && !progress.completed) return;
        if (res.destroyed) {
          body.destroy();
          finish({ kind: 'cancelled' });
          return;
        }
        commit();
        return;
      }
      for (const ev of events) progress.observe(ev);
      stallTimer?.refresh();
      if (progress.completed && !lastFlush) holdLast();
      if (!res.write(chunk)) {
        // Back-pressure: a slow client slows the upstream read instead of growing the relay's memory.
        body.pause();
        res.once('drain', () => body.resume());
      }
    });

    body.on('end', () => {
      if (settled) return;
      if (res.destroyed && !res.writableEnded) return finish({ kind: 'cancelled' });
      if (!progress.committed) {
        return finish({
          kind: 'error',
          error: 'reset',
          message: 'the upstream stream ended before any content',
        });
      }
      if (progress.completed || progress.errorType) {
        res.end();
        flushLast();
        return finish(delivered(progress.errorType ? 'upstream_error_event' : undefined));
      }
      endWithError('api_error', 'the upstream stream ended before message_stop');
      finish(delivered('reset'));
    });

    body.on('error', (err: unknown) => {
      if (settled) return;
      if (opts.clientSignal.aborted && !forcedStop) return finish({ kind: 'cancelled' });
      const kind = timedOut ?? upstreamErrorKind(err);
      if (!progress.committed)
        return finish({ kind: 'error', error: kind, message: describeUpstreamError(kind) });
      if (!forcedStop)
        endWithError(kind === 'stall' ? 'timeout_error' : 'api_error', describeUpstreamError(kind));
      finish(delivered(forcedStop ? undefined : kind));
    });
  });
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
