import type { Readable } from 'node:stream';
import { markStreamEnd, type StreamEndKind } from '../common/access-log';
import type { Cancellation } from '../common/cancellation';
import type { UpstreamErrorKind } from '../protocol/outcome';
import { streamErrorAnswer } from './failure-answer';
import { StreamCapture } from './stream/capture';
import { EventNames, EventScanner, type EventSink } from './stream/event-scanner';
import { EventWriter } from './stream/event-writer';
import { disconnectIfSilent, StreamTimers, type StreamTimerOwner } from './stream/timers';
import { StreamProgress } from './stream-progress';
import { headerList } from '../protocol/upstream-headers';
import type { AttemptResult } from '../protocol/answer';
import type { AttemptOptions } from './attempt-options';
import { describeUpstreamError, upstreamErrorKind } from './upstream-error';

export { UPSTREAM_END_GRACE_MS } from './stream/timers';

/**
 * Relays one upstream SSE stream to the client, event-driven (no async iterator: one promise per chunk was a
 * measurable cost). Until the first content event the chunks are held and a TTFT timer runs, so a failure is
 * still invisible and the attempt loop may retry. At the commit point the held bytes are written and every later
 * chunk is forwarded as it arrives, unchanged, up to its last complete event; a stall timer guards silence. After
 * the commit a failure ends the stream with an SSE `error` event, never a clean end that looks complete — unless
 * message_stop had already arrived: then the answer is whole, and the client's stream just ends.
 * With opts.commitOnHeaders (routing.commit: headers) the commit is made at once, before any event: the client
 * has the status and headers without waiting for content, and the relay gives up fail-over for this stream.
 *
 * The parts, each with its own spec: EventScanner (event boundaries and the few events the relay reads),
 * StreamProgress (commit point, usage, end), EventWriter (event-aligned writes, back-pressure, the last flush),
 * StreamTimers (TTFT, stall, client stall, end grace), StreamCapture (the copy for the cache).
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
  return new Promise<AttemptResult>((resolve) => {
    new StreamRelay(body, status, headers, abort, opts, resolve).start(ttftTimeoutMs);
  });
}

/**
 * The events the relay tells apart; the others (content_block_delta above all) are scanned for their end only, and
 * after the commit not even that (EventScanner.skimFromNow()).
 */
const RELAY_EVENT_NAMES = new EventNames(StreamProgress.namesRead);

/** One relayed stream: the upstream body's events drive it; one method per event and decision. */
class StreamRelay implements EventSink, StreamTimerOwner {
  private readonly res: AttemptOptions['res'];
  private readonly scanner = new EventScanner(this, RELAY_EVENT_NAMES);
  private readonly progress = new StreamProgress();
  private readonly writer: EventWriter;
  private readonly timers: StreamTimers;
  private readonly capture: StreamCapture;
  /** The chunks read before the commit point. */
  private readonly held: Buffer[] = [];
  private settled = false;
  private timedOut: UpstreamErrorKind | undefined;
  private forcedStop = false;
  private clientStalled = false;
  /** An `error` event completed in the chunk being read (its bytes are masked before they are written). */
  private errorInChunk = false;

  constructor(
    private readonly body: Readable,
    private readonly status: number,
    private readonly headers: Record<string, string>,
    private readonly abort: Cancellation,
    private readonly opts: AttemptOptions,
    private readonly resolve: (result: AttemptResult) => void,
  ) {
    this.res = opts.res;
    this.writer = new EventWriter(opts.res);
    const clientStallMs = opts.clientStallTimeoutMs ?? opts.stallTimeoutMs;
    this.timers = new StreamTimers(this, opts.res, opts.stallTimeoutMs, clientStallMs);
    this.capture = new StreamCapture(opts.captureLimitBytes, opts.captureBudget);
  }

  start(ttftTimeoutMs: number): void {
    // undici destroys the body when `abort` fires (it is the request's signal); the timers only say why.
    this.timers.startTtft(ttftTimeoutMs);
    if (this.opts.commitOnHeaders) {
      if (this.res.destroyed) {
        this.body.destroy();
        return this.finish({ kind: 'cancelled' });
      }
      this.open();
      // Sent now, not with the first event: the client has its status and headers while the model still thinks.
      this.res.flushHeaders();
      this.progress.committed = true;
      this.scanner.skimFromNow(StreamProgress.needlesAfterCommit);
    }
    this.body.on('data', (chunk: Buffer) => {
      if (!this.settled) this.onChunk(chunk);
    });
    this.body.on('end', () => {
      if (!this.settled) this.onEnd();
    });
    this.body.on('error', (err: unknown) => {
      if (!this.settled) this.onError(err);
    });
  }

  // EventSink: every event goes to StreamProgress; an error event before any content stops the scan.
  keepsDataOf(name: string | undefined): boolean {
    return StreamProgress.readsDataOf(name);
  }

  onEvent(name: string | undefined, data: string): boolean {
    // From the commit point on, only the events StreamProgress still reads are looked at.
    if (this.progress.observeEvent(name, data)) this.scanner.skimFromNow(StreamProgress.needlesAfterCommit);
    if (name === 'error') this.errorInChunk = true;
    return this.progress.committed || !this.progress.errorType;
  }

  // StreamTimerOwner
  onUpstreamTimeout(kind: 'ttft_timeout' | 'stall'): void {
    this.timedOut = kind;
    this.abort.abort();
  }

  onClientStalled(idleMs: number): void {
    this.clientStalled = true;
    this.reportCut(
      'client_stalled',
      `the client read nothing for ${idleMs} ms`,
      'stream ended: the client stopped reading',
    );
    this.abort.abort();
  }

  onEndGraceOver(): void {
    this.abort.abort();
  }

  private onChunk(chunk: Buffer): void {
    this.errorInChunk = false;
    const wasCommitted = this.progress.committed;
    const eventEnd = this.scanner.scan(chunk);
    this.capture.add(chunk);
    if (wasCommitted) return this.relayChunk(chunk, eventEnd);
    this.held.push(chunk);
    const progress = this.progress;
    if (progress.errorType && !progress.committed) {
      // An error event before any content: invisible to the client, so it can be retried elsewhere, or answered
      // as the HTTP error it stands for.
      this.body.destroy();
      const message = maskedMessage(progress.errorMessage, this.opts);
      return this.finish(streamErrorAnswer(progress.errorType, message, this.headers, this.opts.requestId));
    }
    if (!progress.committed && !progress.completed) return;
    if (this.res.destroyed) {
      this.body.destroy();
      return this.finish({ kind: 'cancelled' });
    }
    this.commit(eventEnd);
  }

  /** A chunk after the commit: written as it came, up to its last whole event; back-pressure pauses the upstream. */
  private relayChunk(chunk: Buffer, eventEnd: number): void {
    this.timers.touch();
    if (this.progress.completed && !this.writer.holdingLast) this.writer.holdLast(() => this.afterLastTurn());
    if (this.writer.forward(chunk, eventEnd, this.errorInChunk ? this.masking() : undefined)) return;
    // Back-pressure: a slow client slows the upstream read instead of growing the relay's memory.
    this.body.pause();
    this.timers.behind();
    this.res.once('drain', () => {
      this.timers.caughtUp();
      this.body.resume();
    });
  }

  /** The commit's first half: status and headers out, the graceful stop told, TTFT off and the stall timer on. */
  private open(): void {
    const out = headerList(this.headers);
    this.opts.addHeaders(out);
    out.push('cache-control', 'no-cache', 'x-accel-buffering', 'no');
    this.res.writeHead(this.status, out);
    this.opts.onCommitted?.(() => this.onForcedStop());
    this.timers.committed();
  }

  private commit(eventEnd: number): void {
    this.open();
    const edit = this.errorInChunk ? this.masking() : undefined;
    this.writer.writeHeld(this.held, eventEnd, edit, this.progress.completed, () => this.afterLastTurn());
    this.held.length = 0;
  }

  /**
   * How the bytes of an upstream `error` event are passed on after the commit: with the relay's keys an upstream
   * echoed in them masked, as in a pre-content error. Only chunks that complete an error event are searched.
   */
  private masking(): ((bytes: Buffer) => Buffer) | undefined {
    const masker = this.opts.masker;
    return masker ? (bytes) => masker.maskBytes(bytes) : undefined;
  }

  /** The graceful stop ends a committed stream: whole answers cleanly, the others with an error event. */
  private onForcedStop(): void {
    this.forcedStop = true;
    if (this.answered()) this.writer.endCleanly();
    else this.endWithError('overloaded_error', 'the relay is shutting down; retry the request');
    this.abort.abort();
  }

  /**
   * A turn of the event loop after the answer's last bytes: the upstream's end usually came before it; an
   * upstream that keeps its response open past that is given UPSTREAM_END_GRACE_MS, then let go.
   */
  private afterLastTurn(): void {
    if (!this.settled && this.answered()) this.timers.startEndGrace();
  }

  private onEnd(): void {
    const progress = this.progress;
    if (this.res.destroyed && !this.res.writableEnded) return this.finish({ kind: 'cancelled' });
    if (!progress.committed) {
      return this.finish({
        kind: 'error',
        error: 'reset',
        message: 'the upstream stream ended before any content',
      });
    }
    if (progress.completed || progress.errorType) {
      // What follows the last event can only be trailing blank lines or a comment: the upstream's own end.
      if (progress.errorType && !progress.completed) {
        markStreamEnd(this.res, { stream_end: 'upstream_error_event', reason: progress.errorType });
      }
      this.writer.endWithTail(this.masking());
      return this.finish(this.delivered(progress.errorType ? 'upstream_error_event' : undefined));
    }
    const reason = 'the upstream stream ended before message_stop';
    this.reportCut('upstream_error', reason, 'upstream stream failed after content was sent');
    this.endWithError('api_error', reason);
    this.finish(this.delivered('reset'));
  }

  private onError(err: unknown): void {
    if (this.opts.clientSignal.aborted && !this.forcedStop) return this.finish({ kind: 'cancelled' });
    if (this.clientStalled) return this.letClientGo();
    const kind = this.timedOut ?? upstreamErrorKind(err);
    if (!this.progress.committed) {
      return this.finish({ kind: 'error', error: kind, message: describeUpstreamError(kind) });
    }
    if (this.answered()) {
      // The socket dropped before the chunked terminator, the stall timer or a graceful stop fired: all after
      // the whole answer was relayed, so it is delivered, and no failure of the provider.
      this.writer.endCleanly();
      return this.finish(this.delivered(undefined));
    }
    if (this.progress.errorType) {
      // The upstream's own `event: error` already reached the client: that is how this stream ended.
      markStreamEnd(this.res, { stream_end: 'upstream_error_event', reason: this.progress.errorType });
      this.writer.endCleanly();
      return this.finish(this.delivered('upstream_error_event'));
    }
    if (!this.forcedStop) {
      const end = kind === 'stall' ? 'upstream_stall' : 'upstream_error';
      this.reportCut(end, describeUpstreamError(kind), 'upstream stream failed after content was sent');
      this.endWithError(kind === 'stall' ? 'timeout_error' : 'api_error', describeUpstreamError(kind));
    }
    this.finish(this.delivered(this.forcedStop ? undefined : kind));
  }

  /**
   * Ends the stream of a client that stopped reading: the written bytes end on a whole event, so the error
   * event is queued after them and reaches the client should it read again (none after message_stop: the
   * answer is then whole). One that takes nothing more for another such timeout is disconnected.
   */
  private letClientGo(): void {
    const { clientStallMs, watchEveryMs } = this.timers;
    if (this.answered()) this.writer.endCleanly();
    else {
      this.endWithError(
        'timeout_error',
        `the client read nothing for ${clientStallMs} ms; the relay ended the stream`,
      );
    }
    disconnectIfSilent(this.res, clientStallMs, watchEveryMs);
    this.finish({ kind: 'cancelled' });
  }

  // After message_stop (and no error event) the client holds the whole answer: whatever goes wrong later must not
  // turn it into an error the SDK throws and Claude Code re-sends, paying for the answer twice.
  private answered(): boolean {
    return this.progress.completed && !this.progress.errorType;
  }

  private endWithError(type: string, message: string): void {
    this.writer.endWithError(type, message, this.opts.requestId);
  }

  /** A stream that stopped short after its commit: one warn line, and the access line says how it ended. */
  private reportCut(end: StreamEndKind, reason: string, message: string): void {
    markStreamEnd(this.res, { stream_end: end, reason });
    const { provider, log } = this.opts;
    log?.warn({ provider, bytes: this.writer.sentBytes, stream_end: end, reason }, message);
  }

  private delivered(failure: UpstreamErrorKind | 'upstream_error_event' | undefined): AttemptResult {
    const progress = this.progress;
    return {
      kind: 'delivered',
      status: this.status,
      headers: this.headers,
      usage: progress.usage,
      model: progress.model,
      streamBytes: this.capture.chunks,
      captureOverflowed: this.capture.overflowed,
      captureRefused: this.capture.refused,
      completed: progress.completed && !progress.errorType,
      failure,
      stopReason: progress.stopReason,
    };
  }

  private finish(result: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.timers.clear();
    // What was captured now belongs to the result (the cache stores it at once): off the in-flight budget.
    this.capture.release();
    this.writer.flushLast();
    this.resolve(result);
  }
}

/** A pre-content error event's message as passed on: the relay's keys an upstream echoed in it masked. */
function maskedMessage(message: string | undefined, opts: AttemptOptions): string {
  const text = message ?? 'upstream stream error';
  return opts.masker ? opts.masker.mask(text) : text;
}
