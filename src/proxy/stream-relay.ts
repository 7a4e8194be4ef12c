import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { markStreamEnd, type StreamEndKind } from '../common/access-log';
import type { Cancellation } from '../common/cancellation';
import { errorBody } from '../protocol/relay-error';
import type { UpstreamErrorKind } from '../protocol/outcome';
import { streamErrorAnswer } from './failure-answer';
import { formatSseEvent, MAX_LINE_BYTES, SseScanner } from '../protocol/sse-scanner';
import { StreamProgress } from './stream-progress';
import { headerList } from '../protocol/upstream-headers';
import type { AttemptResult } from '../protocol/answer';
import type { AttemptOptions } from './attempt-options';
import { describeUpstreamError, upstreamErrorKind } from './upstream-error';

/** How long the upstream may keep its response open after message_stop before the relay ends the client's. */
export const UPSTREAM_END_GRACE_MS = 1_000;

/**
 * A value that changes whenever the client takes bytes off the relay's socket: the bytes queued in the response
 * and the socket's stream, and libuv's write queue, which shrinks with every partial write the kernel accepts
 * (Node's own socket timeout watches the same field to tell a slow writer from a stuck one). While back-pressure
 * holds the relay writes nothing, so a change can only be the client reading.
 */
function writeProgress(res: ServerResponse): string {
  const socket: (Socket & { _handle?: { writeQueueSize?: number } }) | null = res.socket;
  return `${res.writableLength}:${socket?.writableLength ?? 0}:${socket?._handle?.writeQueueSize ?? 0}`;
}

/**
 * Relays one upstream SSE stream to the client, event-driven (no async iterator: one promise per chunk was a
 * measurable cost). Until the first content event the chunks are held and a TTFT timer runs, so a failure is
 * still invisible and the attempt loop may retry. At the commit point the held bytes are written and every later
 * chunk is forwarded as it arrives, unchanged, up to its last complete event; a stall timer guards silence. After
 * the commit a failure ends the stream with an SSE `error` event, never a clean end that looks complete — unless
 * message_stop had already arrived: then the answer is whole, and the client's stream just ends.
 * With opts.commitOnHeaders (routing.commit: headers) the commit is made at once, before any event: the client
 * has the status and headers without waiting for content, and the relay gives up fail-over for this stream.
 */
export function relayStream(
  body: Readable,
  status: number,
  headers: Record<string, string>,
  abort: Cancellation,
  opts: AttemptOptions,
  /** What is left of opts.ttftTimeoutMs once the response headers are in (no options copy per stream). */
  ttftTimeoutMs = opts.ttftTimeoutMs,
): Promise<AttemptResult> {
  const { res } = opts;
  const scanner = new SseScanner(StreamProgress.readsDataOf);
  const progress = new StreamProgress();
  const held: Buffer[] = [];
  // The bytes after the last complete event, held until their event completes: a failure can then drop them and
  // append its `event: error` where the client's parser expects a new event. Written after a half-sent line, the
  // error event would merge into it, and the SDK would throw a SyntaxError instead of an APIError. Upstream
  // chunks nearly always end on an event, so this is nearly always empty.
  let tail: Buffer[] = [];
  let tailBytes = 0;
  let captured: Buffer[] | undefined = opts.captureLimitBytes > 0 ? [] : undefined;
  let capturedBytes = 0;
  let captureOverflowed = false;
  let captureRefused = false;
  const budget = opts.captureBudget;
  let timedOut: UpstreamErrorKind | undefined;
  let forcedStop = false;
  let stallTimer: NodeJS.Timeout | undefined;
  // Set while the client does not read (back-pressure has paused the upstream): silence then is the client's.
  let clientBehind = false;
  let clientStalled = false;
  // While back-pressure holds, the upstream's stall timer waits (its silence is the relay's doing) and the client
  // is watched instead, a quarter of its own timeout at a time, for any byte it takes.
  let clientWatch: NodeJS.Timeout | undefined;
  let clientMark = '';
  let clientMarkAt = 0;
  const clientStallMs = opts.clientStallTimeoutMs ?? opts.stallTimeoutMs;
  const watchEveryMs = Math.max(1, Math.ceil(clientStallMs / 4));
  // Bytes written to the client so far (the log line of a failed stream says how far it got).
  let sentBytes = 0;
  // Set while the answer's last bytes (message_stop seen) wait corked for the upstream's end: the final write and
  // the chunked terminator then leave in one syscall instead of two (a loopback write costs tens of µs).
  let lastFlush: NodeJS.Immediate | undefined;
  // Started at message_stop: an upstream that then keeps its response open is let go, so the client's ends.
  let endGrace: NodeJS.Timeout | undefined;
  // undici destroys the body when `abort` fires (it is the request's signal); the timers only say why.
  const ttftTimer = setTimeout(() => {
    timedOut = 'ttft_timeout';
    abort.abort();
  }, ttftTimeoutMs);

  const dropCapture = () => {
    captured = undefined;
    budget?.give(capturedBytes);
    capturedBytes = 0;
  };
  const endWithError = (type: string, message: string) => {
    tail = [];
    tailBytes = 0;
    if (!res.writableEnded && !res.destroyed) {
      res.end(formatSseEvent('error', errorBody(type, message, opts.requestId)));
    }
  };
  /** A stream that stopped short after its commit: one warn line, and the access line says how it ended. */
  const reportCut = (end: StreamEndKind, reason: string, message: string) => {
    markStreamEnd(res, { stream_end: end, reason });
    opts.log?.warn(
      { provider: opts.provider, bytes: sentBytes, events: progress.events, stream_end: end, reason },
      message,
    );
  };
  const write = (chunk: Buffer): boolean => {
    sentBytes += chunk.length;
    return res.write(chunk);
  };
  // After message_stop (and no error event) the client holds the whole answer: whatever goes wrong later must not
  // turn it into an error the SDK throws and Claude Code re-sends, paying for the answer twice.
  const answered = () => progress.completed && !progress.errorType;
  const endCleanly = () => {
    if (!res.writableEnded && !res.destroyed) res.end();
  };
  /**
   * Writes `chunk` up to `eventEnd` (its last complete event's end, -1 for none), after any held tail, and holds
   * the rest. Returns what res.write returned (true when nothing was written).
   */
  const forward = (chunk: Buffer, eventEnd: number): boolean => {
    if (tailBytes === 0 && eventEnd === chunk.length) return write(chunk);
    if (eventEnd < 0) {
      if (tailBytes + chunk.length <= MAX_LINE_BYTES) {
        tail.push(chunk);
        tailBytes += chunk.length;
        return true;
      }
      // An event this long is relayed without the guarantee, as the scanner leaves such a line unread.
      eventEnd = chunk.length;
    }
    const head = eventEnd === chunk.length ? chunk : chunk.subarray(0, eventEnd);
    const out = tailBytes === 0 ? head : Buffer.concat([...tail, head]);
    tail = eventEnd === chunk.length ? [] : [chunk.subarray(eventEnd)];
    tailBytes = chunk.length - eventEnd;
    return out.length === 0 || write(out);
  };
  const delivered = (failure: UpstreamErrorKind | 'upstream_error_event' | undefined): AttemptResult => ({
    kind: 'delivered',
    status,
    headers,
    usage: progress.usage,
    model: progress.model,
    streamBytes: captured,
    captureOverflowed,
    captureRefused,
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
    // An upstream that keeps its response open past that is given UPSTREAM_END_GRACE_MS, then let go (the timer
    // is made only then: the usual stream has ended before the next turn).
    const holdLast = () => {
      res.cork();
      lastFlush = setImmediate(() => {
        flushLast();
        if (!settled && answered() && !endGrace) {
          endGrace = setTimeout(() => abort.abort(), UPSTREAM_END_GRACE_MS);
        }
      });
    };

    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(ttftTimer);
      if (stallTimer) clearTimeout(stallTimer);
      if (clientWatch) clearTimeout(clientWatch);
      if (endGrace) clearTimeout(endGrace);
      // What was captured now belongs to the result (the cache stores it at once): off the in-flight budget.
      budget?.give(capturedBytes);
      flushLast();
      resolve(result);
    };

    /** The commit's first half: status and headers out, the graceful stop told, TTFT off and the stall timer on. */
    const open = () => {
      const out = headerList(headers);
      opts.addHeaders(out);
      out.push('cache-control', 'no-cache', 'x-accel-buffering', 'no');
      res.writeHead(status, out);
      opts.onCommitted?.(() => {
        forcedStop = true;
        if (answered()) endCleanly();
        else endWithError('overloaded_error', 'the relay is shutting down; retry the request');
        abort.abort();
      });
      clearTimeout(ttftTimer);
      stallTimer = setTimeout(() => {
        // The upstream is paused while the client is behind: its silence is the relay's doing, and the client
        // watch judges the client.
        if (clientBehind) return stallTimer?.refresh();
        timedOut = 'stall';
        abort.abort();
      }, opts.stallTimeoutMs);
    };

    const commit = (eventEnd: number) => {
      open();
      res.cork();
      // The commit comes with an event completed in the last chunk: the earlier ones are whole events, or parts
      // of events that end in it.
      const last = held.length - 1;
      for (let i = 0; i < last; i++) write(held[i]!);
      forward(held[last]!, eventEnd);
      if (progress.completed) holdLast();
      res.uncork();
      held.length = 0;
    };

    const onChunk = (chunk: Buffer): void => {
      const events = scanner.push(chunk);
      const eventEnd = scanner.lastEventEnd;
      if (captured) {
        if (capturedBytes + chunk.length > opts.captureLimitBytes) {
          dropCapture();
          captureOverflowed = true; // too long to be cached: stop holding it
        } else if (budget && !budget.take(chunk.length)) {
          dropCapture();
          captureRefused = true;
        } else {
          capturedBytes += chunk.length;
          captured.push(chunk);
        }
      }
      if (!progress.committed) {
        held.push(chunk);
        let commitNow = false;
        for (const ev of events) {
          if (progress.observe(ev)) commitNow = true;
          if (progress.errorType && !progress.committed) {
            // An error event before any content: invisible to the client, so it can be retried elsewhere, or
            // answered as the HTTP error it stands for.
            body.destroy();
            finish(
              streamErrorAnswer(
                progress.errorType,
                maskedMessage(progress.errorMessage, opts),
                headers,
                opts.requestId,
              ),
            );
            return;
          }
        }
        if (!commitNow && !progress.completed) return;
        if (res.destroyed) {
          body.destroy();
          finish({ kind: 'cancelled' });
          return;
        }
        commit(eventEnd);
        return;
      }
      for (const ev of events) progress.observe(ev);
      stallTimer?.refresh();
      if (progress.completed && !lastFlush) holdLast();
      if (!forward(chunk, eventEnd)) {
        // Back-pressure: a slow client slows the upstream read instead of growing the relay's memory.
        body.pause();
        clientBehind = true;
        clientMark = writeProgress(res);
        clientMarkAt = Date.now();
        if (clientWatch) clientWatch.refresh();
        else clientWatch = setTimeout(watchClient, watchEveryMs);
        res.once('drain', () => {
          clientBehind = false;
          stallTimer?.refresh();
          body.resume();
        });
      }
    };

    // Only a client that took no byte for its whole timeout is let go: one that reads, however slowly, is not.
    const watchClient = () => {
      if (settled || !clientBehind) return;
      const now = Date.now();
      const mark = writeProgress(res);
      if (mark !== clientMark) {
        clientMark = mark;
        clientMarkAt = now;
      } else if (now - clientMarkAt >= clientStallMs) {
        clientStalled = true;
        reportCut(
          'client_stalled',
          `the client read nothing for ${now - clientMarkAt} ms`,
          'stream ended: the client stopped reading',
        );
        abort.abort();
        return;
      }
      clientWatch?.refresh();
    };

    /**
     * Ends the stream of a client that stopped reading: the written bytes end on a whole event, so the error
     * event is queued after them and reaches the client should it read again (none after message_stop: the
     * answer is then whole). One that takes nothing more for another such timeout is disconnected, so its socket
     * and the bytes queued for it are freed.
     */
    const letClientGo = () => {
      if (answered()) endCleanly();
      else {
        endWithError(
          'timeout_error',
          `the client read nothing for ${clientStallMs} ms; the relay ended the stream`,
        );
      }
      let mark = writeProgress(res);
      let markAt = Date.now();
      const timer = setInterval(() => {
        if (res.writableFinished || res.destroyed) return clearInterval(timer);
        const now = Date.now();
        const next = writeProgress(res);
        if (next !== mark) {
          mark = next;
          markAt = now;
        } else if (now - markAt >= clientStallMs) {
          clearInterval(timer);
          res.destroy();
        }
      }, watchEveryMs);
    };

    if (opts.commitOnHeaders) {
      if (res.destroyed) {
        body.destroy();
        finish({ kind: 'cancelled' });
        return;
      }
      open();
      // Sent now, not with the first event: the client has its status and headers while the model still thinks.
      res.flushHeaders();
      progress.committed = true;
    }

    body.on('data', (chunk: Buffer) => {
      if (!settled) onChunk(chunk);
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
        // What follows the last event can only be trailing blank lines or a comment: the upstream's own end.
        if (progress.errorType && !progress.completed) {
          markStreamEnd(res, { stream_end: 'upstream_error_event', reason: progress.errorType });
        }
        if (tailBytes > 0) res.end(Buffer.concat(tail));
        else res.end();
        flushLast();
        return finish(delivered(progress.errorType ? 'upstream_error_event' : undefined));
      }
      reportCut(
        'upstream_error',
        'the upstream stream ended before message_stop',
        'upstream stream failed after content was sent',
      );
      endWithError('api_error', 'the upstream stream ended before message_stop');
      finish(delivered('reset'));
    });

    body.on('error', (err: unknown) => {
      if (settled) return;
      if (opts.clientSignal.aborted && !forcedStop) return finish({ kind: 'cancelled' });
      if (clientStalled) {
        letClientGo();
        return finish({ kind: 'cancelled' });
      }
      const kind = timedOut ?? upstreamErrorKind(err);
      if (!progress.committed)
        return finish({ kind: 'error', error: kind, message: describeUpstreamError(kind) });
      if (answered()) {
        // The socket dropped before the chunked terminator, the stall timer or a graceful stop fired: all after
        // the whole answer was relayed, so it is delivered, and no failure of the provider.
        endCleanly();
        return finish(delivered(undefined));
      }
      if (progress.errorType) {
        // The upstream's own `event: error` already reached the client: that is how this stream ended.
        markStreamEnd(res, { stream_end: 'upstream_error_event', reason: progress.errorType });
        endCleanly();
        return finish(delivered('upstream_error_event'));
      }
      if (!forcedStop) {
        reportCut(
          kind === 'stall' ? 'upstream_stall' : 'upstream_error',
          describeUpstreamError(kind),
          'upstream stream failed after content was sent',
        );
        endWithError(kind === 'stall' ? 'timeout_error' : 'api_error', describeUpstreamError(kind));
      }
      finish(delivered(forcedStop ? undefined : kind));
    });
  });
}

/** A pre-content error event's message as passed on: the relay's keys an upstream echoed in it masked. */
function maskedMessage(message: string | undefined, opts: AttemptOptions): string {
  const text = message ?? 'upstream stream error';
  return opts.masker ? opts.masker.mask(text) : text;
}
