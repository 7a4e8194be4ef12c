import type { ServerResponse } from 'node:http';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseSse } from '../../test/fakes/sse-parse';
import { streamEndOf } from '../common/access-log';
import { Cancellation } from '../common/cancellation';
import { classifyOutcome } from '../protocol/outcome';
import { outcomeInput } from './failure-answer';
import { CaptureBudget } from '../protocol/capture-budget';
import { relayStream, UPSTREAM_END_GRACE_MS } from './stream-relay';
import type { AttemptResult } from '../protocol/answer';
import type { AttemptOptions } from './attempt-options';

/** A writable sink with the few ServerResponse members the relay uses. */
class SinkResponse extends Writable {
  status: number | undefined;
  readonly chunks: Buffer[] = [];

  writeHead(status: number): this {
    this.status = status;
    return this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const frame = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const START = frame('message_start', {
  type: 'message_start',
  message: { model: 'claude-x', content: [], usage: { input_tokens: 5, output_tokens: 1 } },
});
const BLOCK = frame('content_block_start', { type: 'content_block_start', index: 0 });
const delta = (text: string) =>
  frame('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text },
  });
const STOP = frame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' } });
const MESSAGE_STOP = frame('message_stop', { type: 'message_stop' });
const PING = frame('ping', { type: 'ping' });
const SOCKET_CLOSED = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });

interface Relay {
  body: PassThrough;
  res: SinkResponse;
  abort: Cancellation;
  result: Promise<AttemptResult>;
  forceStop: () => void;
}

/** Starts relayStream over a PassThrough body; like undici, the body is destroyed when the attempt is aborted. */
function relay(opts: Partial<AttemptOptions> = {}): Relay {
  const body = new PassThrough();
  const res = new SinkResponse();
  const abort = new Cancellation();
  abort.once('abort', () => body.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' })));
  let forceStop: (() => void) | undefined;
  const result = relayStream(body, 200, { 'content-type': 'text/event-stream' }, abort, {
    res: res as unknown as ServerResponse,
    addHeaders: () => {},
    stream: true,
    ttftTimeoutMs: 5_000,
    stallTimeoutMs: 5_000,
    captureLimitBytes: 0,
    onCommitted: (fn) => (forceStop = fn),
    requestId: 'req_relay_1',
    clientSignal: new Cancellation(),
    ...opts,
  });
  return {
    body,
    res,
    abort,
    result,
    forceStop: () => {
      if (!forceStop) throw new Error('not committed');
      forceStop();
    },
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The outcome the breaker and the retry policy see. */
const outcomeOf = (r: AttemptResult) => classifyOutcome(outcomeInput(r));

describe('relayStream after message_stop', () => {
  it('ends cleanly and reports success when the socket drops after message_stop', async () => {
    const r = relay();
    r.body.write(START + BLOCK + delta('hi') + STOP + MESSAGE_STOP);
    await tick();
    r.body.destroy(SOCKET_CLOSED);
    const result = await r.result;

    expect(r.res.text).toBe(START + BLOCK + delta('hi') + STOP + MESSAGE_STOP);
    expect(r.res.writableEnded).toBe(true);
    expect(result).toMatchObject({ kind: 'delivered', completed: true, failure: undefined });
    expect(outcomeOf(result)).toMatchObject({ kind: 'success', breakerFailure: false });

    // One event short of message_stop, the same drop is still a failed stream.
    const unfinished = relay();
    unfinished.body.write(START + BLOCK + delta('hi') + STOP);
    await tick();
    unfinished.body.destroy(SOCKET_CLOSED);
    const failed = await unfinished.result;
    expect(parseSse(unfinished.res.text).at(-1)?.event).toBe('error');
    expect(failed).toMatchObject({ kind: 'delivered', completed: false, failure: 'reset' });
    expect(outcomeOf(failed)).toMatchObject({ kind: 'transient', breakerFailure: true });
  });

  it('ends cleanly when the stall timer fires after message_stop', async () => {
    const r = relay({ stallTimeoutMs: 20 });
    r.body.write(START + BLOCK + delta('hi'));
    r.body.write(STOP + MESSAGE_STOP);
    const result = await r.result;

    expect(parseSse(r.res.text).map((e) => e.event)).not.toContain('error');
    expect(result).toMatchObject({ kind: 'delivered', completed: true, failure: undefined });
    expect(outcomeOf(result).kind).toBe('success');
  });

  it('ends cleanly when a graceful stop forces the stream closed after message_stop', async () => {
    const r = relay();
    r.body.write(START + BLOCK + delta('hi') + STOP + MESSAGE_STOP);
    await tick();
    r.forceStop();
    const result = await r.result;

    expect(r.res.text).toBe(START + BLOCK + delta('hi') + STOP + MESSAGE_STOP);
    expect(result).toMatchObject({ kind: 'delivered', completed: true, failure: undefined });

    // Before message_stop the same stop still ends the stream with an error event.
    const unfinished = relay();
    unfinished.body.write(START + BLOCK + delta('hi'));
    await tick();
    unfinished.forceStop();
    await unfinished.result;
    expect(parseSse(unfinished.res.text).at(-1)).toMatchObject({
      event: 'error',
      data: { error: { type: 'overloaded_error' } },
    });
  });
});

describe('relayStream event boundaries', () => {
  const half = 'event: content_block_delta\ndata: {"type":"content_block_delta","ind';

  it('drops an event cut mid-line and writes a well-formed error event after the last whole one', async () => {
    const r = relay();
    const whole = [START + BLOCK + delta('one '), delta('two ')].map((t) => Buffer.from(t));
    for (const chunk of whole) r.body.write(chunk);
    await tick();
    r.body.write(delta('three ') + half);
    await tick();
    r.body.destroy(SOCKET_CLOSED);
    const result = await r.result;

    // Chunks that end on an event pass as they are, not copied.
    whole.forEach((chunk, i) => expect(r.res.chunks[i]).toBe(chunk));

    const events = parseSse(r.res.text);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'error',
    ]);
    // Every event's data is JSON (the SDK JSON.parses each one).
    for (const e of events) expect(typeof e.data).toBe('object');
    expect(events.at(-1)?.data).toMatchObject({
      type: 'error',
      error: { type: 'api_error' },
      request_id: 'req_relay_1',
    });
    expect(result).toMatchObject({ kind: 'delivered', failure: 'reset' });
  });

  it('keeps the tail of the commit chunk too: only whole events are written at the commit', async () => {
    const r = relay();
    r.body.write(START + BLOCK + delta('one ') + half);
    await tick();
    expect(r.res.text).toBe(START + BLOCK + delta('one '));
    r.body.destroy(SOCKET_CLOSED);
    await r.result;
    expect(parseSse(r.res.text).map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'error',
    ]);
  });

  it('writes a held tail once its event completes, so the client gets the bytes unchanged', async () => {
    const whole = START + BLOCK + delta('one ') + delta('two ') + STOP + MESSAGE_STOP + ': bye\n';
    // Cut at every byte after the commit, so also inside every line end and between a \r and its \n.
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = whole.replaceAll('\n', eol);
      const bytes = Buffer.from(text);
      const commitAt = Buffer.byteLength((START + BLOCK + delta('one ')).replaceAll('\n', eol));
      for (let cut = commitAt + 1; cut < bytes.length; cut++) {
        const r = relay();
        r.body.write(bytes.subarray(0, commitAt));
        r.body.write(bytes.subarray(commitAt, cut));
        await tick();
        const sent = r.res.text;
        expect(text.startsWith(sent)).toBe(true);
        // A blank line's end; a \r\n one may still wait for its \n (the parser takes the \r as the line end).
        expect(/(\n\n|\r\n\r\n?|\r\r)$/.test(sent)).toBe(true);
        r.body.end(bytes.subarray(cut));
        const result = await r.result;
        expect(r.res.text).toBe(text);
        expect(result).toMatchObject({ kind: 'delivered', completed: true, failure: undefined });
      }
    }
  });
});

describe('relayStream error events before any content', () => {
  it('answers as the HTTP error the type stands for, writing nothing to the client', async () => {
    const r = relay();
    r.body.write(
      START +
        frame('error', {
          type: 'error',
          error: { type: 'permission_error', message: 'no access to this model' },
        }),
    );
    const result = await r.result;

    expect(r.res.status).toBeUndefined();
    expect(r.res.chunks).toHaveLength(0);
    expect(result).toMatchObject({
      kind: 'status',
      status: 403,
      headers: { 'content-type': 'application/json' },
    });
    const body = result.kind === 'status' ? (JSON.parse(result.body.toString()) as unknown) : undefined;
    expect(body).toEqual({
      type: 'error',
      error: { type: 'permission_error', message: 'no access to this model' },
      request_id: 'req_relay_1',
    });
    expect(outcomeOf(result)).toMatchObject({ kind: 'permanent', breakerFailure: false });
  });
});

/** A response whose client stopped reading: nothing written is ever taken, so writes soon return false. */
class StuckResponse extends SinkResponse {
  constructor() {
    super({ highWaterMark: 16 });
  }

  override _write(): void {}
}

/** A client that reads, slowly: each write is taken 20 ms after it was handed over. */
class SlowResponse extends SinkResponse {
  constructor() {
    super({ highWaterMark: 16 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    setTimeout(() => {
      this.chunks.push(chunk);
      done();
    }, 20);
  }
}

/** A logger that keeps its warn lines. */
function warnings(): {
  log: { warn(obj: object, msg: string): void };
  lines: { obj: object; msg: string }[];
} {
  const lines: { obj: object; msg: string }[] = [];
  return { log: { warn: (obj, msg) => lines.push({ obj, msg }) }, lines };
}

describe('relayStream with a client that stops reading', () => {
  it('lets the client go when it has not read for its timeout, says why, and ends on an error event', async () => {
    const res = new StuckResponse();
    const { log, lines } = warnings();
    const r = relay({
      res: res as unknown as ServerResponse,
      stallTimeoutMs: 30,
      clientStallTimeoutMs: 30,
      log,
      provider: 'alpha',
    });
    r.body.write(START + BLOCK + delta('hi'));
    await tick();
    r.body.write(delta(' there'));
    const result = await r.result;

    expect(result.kind).toBe('cancelled');
    expect(outcomeOf(result)).toMatchObject({ kind: 'client_cancelled', breakerFailure: false });
    expect(lines).toEqual([
      {
        msg: 'stream ended: the client stopped reading',
        obj: expect.objectContaining({
          provider: 'alpha',
          stream_end: 'client_stalled',
          reason: expect.stringMatching(/^the client read nothing for \d+ ms$/),
        }),
      },
    ]);
    expect(streamEndOf(res)).toMatchObject({ stream_end: 'client_stalled' });
    // The error event is queued after the whole events written so far; a client that still takes nothing is
    // then disconnected.
    expect(res.writableEnded).toBe(true);
    for (let i = 0; i < 50 && !res.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(res.destroyed).toBe(true);
  });

  it('never cuts a client that keeps reading, however long the relay waits on it', async () => {
    const res = new SlowResponse();
    const { log, lines } = warnings();
    const r = relay({
      res: res as unknown as ServerResponse,
      stallTimeoutMs: 30,
      clientStallTimeoutMs: 1_000,
      log,
    });
    // Eight chunks held until the first content, then written at once: the client takes 160 ms over them, far
    // longer than the upstream's stall timeout, and the upstream is paused meanwhile.
    for (const part of [START, BLOCK, PING, PING, PING, PING, PING]) {
      r.body.write(part);
      await tick();
    }
    r.body.write(delta('hi'));
    await tick();
    r.body.write(delta(' there'));
    await tick();
    r.body.end(STOP + MESSAGE_STOP);
    const result = await r.result;

    expect(result).toMatchObject({ kind: 'delivered', completed: true, failure: undefined });
    await new Promise<void>((resolve) => res.once('finish', resolve));
    expect(
      parseSse(res.text)
        .map((e) => e.event)
        .at(-1),
    ).toBe('message_stop');
    expect(lines).toEqual([]);
  });

  it('still calls a silent upstream a stall while the client keeps up', async () => {
    const r = relay({ stallTimeoutMs: 30 });
    r.body.write(START + BLOCK + delta('hi'));
    const result = await r.result;

    expect(result).toMatchObject({ kind: 'delivered', failure: 'stall' });
    expect(outcomeOf(result).breakerFailure).toBe(true);
  });
});

describe('relayStream endings', () => {
  it('logs a stream the upstream drops mid-answer, with how far it got and why, and marks its access line', async () => {
    const { log, lines } = warnings();
    const r = relay({ log, provider: 'alpha' });
    const sent = START + BLOCK + delta('hi');
    r.body.write(sent);
    await tick();
    r.body.destroy(SOCKET_CLOSED);
    const result = await r.result;

    expect(result).toMatchObject({ kind: 'delivered', failure: 'reset' });
    expect(parseSse(r.res.text).at(-1)).toMatchObject({
      event: 'error',
      data: { error: { type: 'api_error' } },
    });
    expect(lines).toEqual([
      {
        msg: 'upstream stream failed after content was sent',
        obj: {
          provider: 'alpha',
          bytes: Buffer.byteLength(sent),
          stream_end: 'upstream_error',
          reason: 'the upstream closed the connection',
        },
      },
    ]);
    expect(streamEndOf(r.res)).toEqual({
      stream_end: 'upstream_error',
      reason: 'the upstream closed the connection',
    });
  });

  it('ends the client’s response soon after message_stop when the upstream keeps its own open', async () => {
    const r = relay({ stallTimeoutMs: 60_000 });
    const started = Date.now();
    r.body.write(START + BLOCK + delta('hi') + STOP + MESSAGE_STOP); // and never ends
    const result = await r.result;

    expect(Date.now() - started).toBeLessThan(UPSTREAM_END_GRACE_MS + 2_000);
    expect(r.res.writableEnded).toBe(true);
    expect(r.res.text).toBe(START + BLOCK + delta('hi') + STOP + MESSAGE_STOP);
    expect(result).toMatchObject({ kind: 'delivered', completed: true, failure: undefined });
    expect(r.abort.aborted).toBe(true); // the lingering upstream request is let go
  });

  it('adds no second error event when the socket drops after the upstream’s own event: error', async () => {
    const r = relay();
    const error = frame('error', { type: 'error', error: { type: 'overloaded_error', message: 'busy' } });
    r.body.write(START + BLOCK + delta('hi') + error);
    await tick();
    r.body.destroy(SOCKET_CLOSED);
    const result = await r.result;

    expect(parseSse(r.res.text).filter((e) => e.event === 'error')).toHaveLength(1);
    expect(result).toMatchObject({ kind: 'delivered', failure: 'upstream_error_event' });
  });
});

describe('relayStream capture for the cache', () => {
  const whole = START + BLOCK + delta('hi') + STOP + MESSAGE_STOP;

  it('captures within the shared budget and hands the bytes back to it when the stream ends', async () => {
    const budget = new CaptureBudget(10_000);
    const r = relay({ captureLimitBytes: 10_000, captureBudget: budget });
    r.body.end(whole);
    const result = await r.result;

    expect(result.kind === 'delivered' && Buffer.concat(result.streamBytes ?? []).toString()).toBe(whole);
    expect(budget.usedBytes).toBe(0);
  });

  it('relays in full but captures nothing when the captures in flight have spent the budget', async () => {
    const budget = new CaptureBudget(10_000);
    expect(budget.take(9_990)).toBe(true); // other streams hold nearly all of it
    const r = relay({ captureLimitBytes: 10_000, captureBudget: budget });
    r.body.write(START);
    r.body.end(BLOCK + delta('hi') + STOP + MESSAGE_STOP);
    const result = await r.result;

    expect(r.res.text).toBe(whole);
    expect(result).toMatchObject({ kind: 'delivered', captureRefused: true, streamBytes: undefined });
    expect(budget.usedBytes).toBe(9_990);
  });
});
