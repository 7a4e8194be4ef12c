import { describe, expect, it } from 'vitest';
import { answerToCache, decodeAnswer, encodeAnswer, renderAnswer } from './cached-answer';
import { sseFromMessage } from './sse-message';

const message = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'm',
  content: [{ type: 'text', text: 'hi "quoted" — ünïcode' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 1, output_tokens: 2 },
};
const json = Buffer.from(JSON.stringify(message));

describe('cached answers', () => {
  it('stores complete JSON answers and round-trips them through bytes, body byte for byte', () => {
    const entry = answerToCache('messages', { status: 200, body: json, completed: true }, 1_796_000_000_123);
    expect(entry).toEqual({ kind: 'json', body: json, storedAt: 1_796_000_000_123 });
    const bytes = encodeAnswer(entry!);
    expect(bytes.subarray(16).equals(json)).toBe(true);
    expect(decodeAnswer(bytes)).toEqual(entry);
  });

  it('round-trips a stored stream and an empty body', () => {
    const sse = Buffer.from(sseFromMessage(message));
    const entry = answerToCache('messages', { status: 200, streamBytes: [sse], completed: true }, 5)!;
    expect(decodeAnswer(encodeAnswer(entry))).toEqual({ kind: 'sse', body: sse, storedAt: 5 });
    const empty = { kind: 'json' as const, body: Buffer.alloc(0), storedAt: 0 };
    expect(decodeAnswer(encodeAnswer(empty))).toEqual(empty);
  });

  it('still reads entries of format version 1 (JSON), as older replicas write them to a shared cache', () => {
    const v1 = Buffer.from(JSON.stringify({ v: 1, kind: 'json', body: json.toString(), storedAt: 42 }));
    expect(decodeAnswer(v1)).toEqual({ kind: 'json', body: json, storedAt: 42 });
  });

  it('reads anything else as no entry', () => {
    const good = encodeAnswer({ kind: 'json', body: json, storedAt: 1 });
    const badKind = Buffer.from(good);
    badKind[4] = 9;
    const badPad = Buffer.from(good);
    badPad[6] = 1;
    const otherVersion = Buffer.from(good);
    otherVersion[3] = 3;
    for (const bytes of [badKind, badPad, otherVersion, good.subarray(0, 15), Buffer.from('{"v":2}')]) {
      expect(decodeAnswer(bytes)).toBeUndefined();
    }
    expect(decodeAnswer(Buffer.from('{not json'))).toBeUndefined();
    expect(decodeAnswer(Buffer.alloc(0))).toBeUndefined();
  });

  it('refuses errors, truncated answers and incomplete streams', () => {
    expect(answerToCache('messages', { status: 500, body: json, completed: true }, 0)).toBeUndefined();
    const truncated = Buffer.from(JSON.stringify({ ...message, stop_reason: 'max_tokens' }));
    expect(answerToCache('messages', { status: 200, body: truncated, completed: true }, 0)).toBeUndefined();
    expect(
      answerToCache('messages', { status: 200, body: Buffer.from('{"type":'), completed: true }, 0),
    ).toBeUndefined();
    const sse = sseFromMessage(message);
    const cut = Buffer.from(sse.slice(0, sse.indexOf('event: message_stop')));
    expect(
      answerToCache('messages', { status: 200, streamBytes: [cut], completed: false }, 0),
    ).toBeUndefined();
  });

  it('stores count_tokens answers that carry a count', () => {
    const body = Buffer.from('{"input_tokens":17}');
    expect(answerToCache('count_tokens', { status: 200, body, completed: true }, 0)?.body).toBe(body);
    expect(
      answerToCache('count_tokens', { status: 200, body: Buffer.from('{}'), completed: true }, 0),
    ).toBeUndefined();
  });

  it('renders a stored stream as JSON and a stored JSON answer as SSE', () => {
    const fromStream = answerToCache(
      'messages',
      { status: 200, streamBytes: [Buffer.from(sseFromMessage(message))], completed: true },
      0,
    )!;
    expect(fromStream.kind).toBe('sse');
    expect(JSON.parse(renderAnswer(fromStream, false)!.body.toString())).toEqual(message);
    const asSse = renderAnswer({ kind: 'json', body: json, storedAt: 0 }, true)!;
    expect(asSse.contentType).toContain('text/event-stream');
    expect(asSse.body.toString().startsWith('event: message_start')).toBe(true);
    expect(renderAnswer({ kind: 'json', body: json, storedAt: 0 }, false)!.body).toBe(json);
  });

  it('renders an entry that cannot take the asked-for form as nothing (a miss), never a throw', () => {
    const garbage = { kind: 'json' as const, body: Buffer.from('{"type":"mess'), storedAt: 0 };
    expect(renderAnswer(garbage, true)).toBeUndefined();
    expect(
      renderAnswer({ kind: 'sse', body: Buffer.from('event: ping\ndata: {}\n\n'), storedAt: 0 }, false),
    ).toBeUndefined();
  });
});
