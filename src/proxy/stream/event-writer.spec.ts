import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventWriter } from './event-writer';

/** A response that records each write as one string (what left in one piece) and can refuse writes. */
class Sink extends Writable {
  readonly writes: string[] = [];
  constructor() {
    super({ highWaterMark: 1 << 20 });
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, done: () => void): void {
    this.writes.push(Buffer.concat(chunks.map((c) => c.chunk)).toString());
    done();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.writes.push(chunk.toString());
    done();
  }
}

const EVENT = 'event: ping\ndata: {}\n\n';
const b = (s: string) => Buffer.from(s);
const tick = () => new Promise<void>((r) => setImmediate(r));

function writer() {
  const sink = new Sink();
  return { sink, w: new EventWriter(sink as unknown as ServerResponse) };
}

describe('EventWriter', () => {
  it('writes a chunk that ends on an event as it came, and counts the bytes', async () => {
    const { sink, w } = writer();
    const chunk = b(EVENT + EVENT);
    expect(w.forward(chunk, chunk.length)).toBe(true);
    await tick();
    expect(sink.writes).toEqual([EVENT + EVENT]);
    expect(w.sentBytes).toBe(chunk.length);
  });

  it('holds the bytes after the last whole event until their event completes', async () => {
    const { sink, w } = writer();
    w.forward(b(EVENT + 'event: pi'), EVENT.length);
    w.forward(b('ng\nda'), -1);
    w.forward(b('ta: {}\n\n'), 8);
    await tick();
    expect(sink.writes).toEqual([EVENT, EVENT]);
  });

  it('drops a held part-event and ends with a well-formed error event after the last whole one', async () => {
    const { sink, w } = writer();
    w.forward(b(EVENT + 'event: content_block_delta\ndata: {"ty'), EVENT.length);
    w.endWithError('api_error', 'cut', 'req_1');
    await tick();
    expect(sink.writes.join('')).toBe(
      EVENT +
        'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"cut"},"request_id":"req_1"}\n\n',
    );
  });

  it('rewrites the bytes it writes with `edit`, held tail included', async () => {
    const { sink, w } = writer();
    const edit = (bytes: Buffer) => b(bytes.toString().replace('sk-secret', 'sk-…'));
    w.forward(b('event: error\ndata: {"m":"sk-se'), -1);
    w.forward(b('cret"}\n\n'), 8, edit);
    await tick();
    expect(sink.writes).toEqual(['event: error\ndata: {"m":"sk-…"}\n\n']);
  });

  it('writes the held chunks of the commit in one batch', async () => {
    const { sink, w } = writer();
    w.writeHeld([b(EVENT), b(EVENT + 'event: x')], EVENT.length, undefined, false, () => {});
    await tick();
    expect(sink.writes).toEqual([EVENT + EVENT]);
  });

  it('holds the answer’s last bytes corked until the end, so they leave with it', async () => {
    const { sink, w } = writer();
    let turned = false;
    w.forward(b(EVENT), EVENT.length);
    await tick();
    w.holdLast(() => (turned = true));
    w.forward(b(EVENT), EVENT.length);
    w.endWithTail();
    await tick();
    expect(sink.writes).toEqual([EVENT, EVENT]);
    expect(turned).toBe(false);
  });

  it('lets the last bytes go on the next turn when the end does not come', async () => {
    const { sink, w } = writer();
    let turned = false;
    w.holdLast(() => (turned = true));
    w.forward(b(EVENT), EVENT.length);
    expect(w.holdingLast).toBe(true);
    await tick();
    await tick();
    expect(sink.writes).toEqual([EVENT]);
    expect(turned).toBe(true);
    expect(w.holdingLast).toBe(false);
  });
});
