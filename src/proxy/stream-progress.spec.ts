import { describe, expect, it } from 'vitest';
import { SseScanner } from '../protocol/sse-scanner';
import { StreamProgress, usageOfJsonAnswer } from './stream-progress';

function feed(progress: StreamProgress, text: string): boolean[] {
  return new SseScanner(StreamProgress.readsDataOf).push(Buffer.from(text)).map((ev) => progress.observe(ev));
}

const START =
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"claude-x","content":[],"usage":{"input_tokens":12,"cache_creation_input_tokens":99,"output_tokens":1}}}\n\n';

describe('StreamProgress', () => {
  it('commits on the first text delta, not on message_start, ping or an empty block start', () => {
    const p = new StreamProgress();
    const commits = feed(
      p,
      START +
        'event: ping\ndata: {"type":"ping"}\n\n' +
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
    );
    expect(commits).toEqual([false, false, false, true]);
    expect(p.committed).toBe(true);
  });

  it('reads model and usage (input from message_start, cumulative output from the last message_delta)', () => {
    const p = new StreamProgress();
    feed(
      p,
      START +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":5}}\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    expect(p.model).toBe('claude-x');
    expect(p.usage).toEqual({ input_tokens: 12, output_tokens: 9 });
    expect(p.stopReason).toBe('end_turn');
    expect(p.completed).toBe(true);
  });

  it('records an error event and never commits on it', () => {
    const p = new StreamProgress();
    const commits = feed(
      p,
      START +
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    );
    expect(commits).toEqual([false, false]);
    expect(p.errorType).toBe('overloaded_error');
  });

  it('after the commit changes only on events whose names hold one of needlesAfterCommit (skimmed streams)', () => {
    const text =
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n';
    const data =
      '{"message":{"model":"other","usage":{"input_tokens":1}},"delta":{"stop_reason":"x"},"usage":{"output_tokens":77},' +
      '"error":{"type":"overloaded_error"}}';
    const changers: string[] = [];
    const names = [
      ...new Set(StreamProgress.namesRead),
      'content_block_delta',
      'content_block_stop',
      'message',
      'other',
    ];
    for (const name of names) {
      const p = new StreamProgress();
      feed(p, START + text);
      const before = JSON.stringify(p);
      feed(p, `event: ${name}\ndata: ${data}\n\n`);
      if (JSON.stringify(p) === before) continue;
      changers.push(name);
      expect(StreamProgress.needlesAfterCommit.some((n) => name.includes(n.toString()))).toBe(true);
    }
    expect(changers.sort()).toEqual(['error', 'message_delta', 'message_start', 'message_stop']);
  });
});

describe('usageOfJsonAnswer', () => {
  it('reads the usage that closes a message, not numbers inside a tool input', () => {
    const body = JSON.stringify({
      model: 'm',
      content: [
        { type: 'tool_use', input: { usage: { input_tokens: 1, output_tokens: 2 }, input_tokens: 3 } },
      ],
      usage: { input_tokens: 40, cache_read_input_tokens: 7, output_tokens: 50 },
    });
    expect(usageOfJsonAnswer(Buffer.from(body))).toEqual({ input_tokens: 40, output_tokens: 50 });
  });

  it('reads a count_tokens answer and tolerates bodies without usage', () => {
    expect(usageOfJsonAnswer(Buffer.from('{"input_tokens": 321}'))).toEqual({
      input_tokens: 321,
      output_tokens: 0,
    });
    expect(usageOfJsonAnswer(Buffer.from('not json'))).toEqual({ input_tokens: 0, output_tokens: 0 });
  });
});
