import { describe, expect, it } from 'vitest';
import { parseSse } from '../../test/fakes/sse-parse';
import { messageFromSse, sseFromMessage, type MessageJson } from './sse-message';

const message: MessageJson = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-6',
  content: [
    { type: 'thinking', thinking: 'Let me think.', signature: 'sig-abc' },
    { type: 'text', text: 'Hello there, world.' },
    { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Seoul', days: 3 } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 34 },
};

describe('sseFromMessage / messageFromSse', () => {
  it('synthesises the SSE grammar: message_start, blocks in order, message_delta, message_stop', () => {
    const events = parseSse(sseFromMessage(message)).map((e) => e.event);
    expect(events[0]).toBe('message_start');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(events.filter((e) => e === 'content_block_start')).toHaveLength(3);
    expect(events.filter((e) => e === 'content_block_stop')).toHaveLength(3);
  });

  it('round-trips a message through SSE unchanged', () => {
    expect(messageFromSse(sseFromMessage(message))).toEqual(message);
  });

  it('carries stop_details in message_delta, where the SDK reads it', () => {
    const withDetails = { ...message, stop_details: { type: 'refusal', category: 'cyber' } };
    const events = parseSse(sseFromMessage(withDetails));
    const start = events[0]!.data as { message: Record<string, unknown> };
    expect(start.message.stop_details).toBeNull();
    const delta = events.find((e) => e.event === 'message_delta')!.data as { delta: Record<string, unknown> };
    expect(delta.delta.stop_details).toEqual({ type: 'refusal', category: 'cyber' });
    expect(messageFromSse(sseFromMessage(withDetails))).toEqual(withDetails);
    expect(messageFromSse(sseFromMessage({ ...message, stop_details: null }))).toEqual({
      ...message,
      stop_details: null,
    });
  });

  it('rebuilds a message from deltas split the way a real stream splits them', () => {
    const stream = [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: ping\ndata: {"type":"ping"}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":"}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}\n\n',
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ].join('');
    expect(messageFromSse(stream)).toEqual({
      id: 'msg_2',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content: [
        { type: 'text', text: 'Hello' },
        { type: 'tool_use', id: 't', name: 'f', input: { a: 1 } },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 5, output_tokens: 9 },
    });
  });

  it('refuses an incomplete stream (no message_stop) or one with an error event', () => {
    const full = sseFromMessage(message);
    expect(messageFromSse(full.slice(0, full.indexOf('event: message_stop')))).toBeUndefined();
    const withError = full.replace(
      'event: message_stop',
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\nevent: message_stop',
    );
    expect(messageFromSse(withError)).toBeUndefined();
  });
});
