import { describe, expect, it } from 'vitest';
import { answerToCache, decodeAnswer, encodeAnswer, renderAnswer } from './cached-answer';
import { sseFromMessage } from './sse-message';

const message = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'm',
  content: [{ type: 'text', text: 'hi' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 1, output_tokens: 2 },
};
const json = Buffer.from(JSON.stringify(message));

describe('cached answers', () => {
  it('stores complete JSON answers and round-trips them through bytes', () => {
    const entry = answerToCache('messages', { status: 200, body: json, completed: true }, 123);
    expect(entry).toEqual({ v: 1, kind: 'json', body: json.toString(), storedAt: 123 });
    expect(decodeAnswer(encodeAnswer(entry!))).toEqual(entry);
  });

  it('refuses errors, truncated answers and incomplete streams', () => {
    expect(answerToCache('messages', { status: 500, body: json, completed: true }, 0)).toBeUndefined();
    const truncated = Buffer.from(JSON.stringify({ ...message, stop_reason: 'max_tokens' }));
    expect(answerToCache('messages', { status: 200, body: truncated, completed: true }, 0)).toBeUndefined();
    const sse = sseFromMessage(message);
    const cut = Buffer.from(sse.slice(0, sse.indexOf('event: message_stop')));
    expect(
      answerToCache('messages', { status: 200, streamBytes: [cut], completed: false }, 0),
    ).toBeUndefined();
    expect(decodeAnswer(Buffer.from('{"v":2}'))).toBeUndefined();
  });

  it('renders a stored stream as JSON and a stored JSON answer as SSE', () => {
    const fromStream = answerToCache(
      'messages',
      { status: 200, streamBytes: [Buffer.from(sseFromMessage(message))], completed: true },
      0,
    )!;
    expect(fromStream.kind).toBe('sse');
    expect(JSON.parse(renderAnswer(fromStream, false)!.body)).toEqual(message);
    const asSse = renderAnswer({ v: 1, kind: 'json', body: json.toString(), storedAt: 0 }, true)!;
    expect(asSse.contentType).toContain('text/event-stream');
    expect(asSse.body.startsWith('event: message_start')).toBe(true);
  });
});
