import Anthropic from '@anthropic-ai/sdk';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSse } from '../../../test/fakes/sse-parse';
import { OpenAIStreamTranslator } from './openai-stream';

/**
 * The streaming translation judged by the official SDK's accumulator: the Anthropic SSE produced from recorded
 * OpenAI streams must give, through `messages.stream(...).finalMessage()`, the message the OpenAI stream meant;
 * a failed or truncated upstream stream must make the SDK throw, never yield a clean truncated message.
 */

const FIXTURES = join(__dirname, '../../../test/fixtures/openai');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

function clientAnswering(body: string): Anthropic {
  return new Anthropic({
    apiKey: 'test-key',
    maxRetries: 0,
    fetch: () => Promise.resolve(new Response(body, { headers: { 'content-type': 'text/event-stream' } })),
  });
}

async function sdkFinalMessage(sse: string): Promise<Record<string, unknown>> {
  const final = await clientAnswering(sse)
    .messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
    })
    .finalMessage();
  const { parsed_output: _parsed, ...message } = JSON.parse(JSON.stringify(final)) as Record<string, unknown>;
  return message;
}

/** Translates `input` fed as the given chunks, then the upstream end. */
function translate(
  chunks: (Buffer | string)[],
  model = 'claude-sonnet-4-5',
): { sse: string; t: OpenAIStreamTranslator } {
  const t = new OpenAIStreamTranslator(model);
  let sse = '';
  for (const chunk of chunks) sse += t.push(chunk);
  sse += t.end();
  return { sse, t };
}

/** Splits bytes at deterministic pseudo-random points (some inside multi-byte characters). */
function splitBytes(bytes: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let state = seed;
  let i = 0;
  while (i < bytes.length) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const size = 1 + (state % 23);
    out.push(bytes.subarray(i, i + size));
    i += size;
  }
  return out;
}

describe('OpenAIStreamTranslator', () => {
  it('turns a streamed text answer into a message the SDK accumulates, usage from the include_usage chunk', async () => {
    const { sse, t } = translate([fixture('stream-text.sse')]);
    expect(t.state).toBe('done');
    expect(await sdkFinalMessage(sse)).toEqual({
      id: 'msg_chatcmpl-123',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Hello! How can I help you today? éè ☕' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 176,
        output_tokens: 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 1024,
      },
    });
  });

  it('gives the same output whatever the chunking, byte by byte included', () => {
    const whole = translate([fixture('stream-tool-calls.sse')]).sse;
    const bytes = fixture('stream-tool-calls.sse');
    expect(translate([...bytes].map((b) => Buffer.from([b]))).sse).toBe(whole);
    for (const seed of [1, 7, 42, 1234]) expect(translate(splitBytes(bytes, seed)).sse).toBe(whole);
    const text = fixture('stream-text.sse');
    expect(translate([...text].map((b) => Buffer.from([b]))).sse).toBe(translate([text]).sse);
  });

  it('turns text then fragmented tool calls into a text block and tool_use blocks fed input_json_delta', async () => {
    const { sse } = translate([fixture('stream-tool-calls.sse')]);
    const events = parseSse(sse);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      ...Array<string>(6).fill('content_block_delta'),
      'content_block_stop',
      'content_block_start',
      ...Array<string>(3).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[4]?.data).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: {
        type: 'tool_use',
        id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
        name: 'get_weather',
        input: {},
      },
    });
    expect(events[5]?.data).toEqual({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"' },
    });
    expect(await sdkFinalMessage(sse)).toMatchObject({
      content: [
        { type: 'text', text: 'Let me check both.' },
        {
          type: 'tool_use',
          id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
          name: 'get_weather',
          input: { location: 'Paris, France' },
        },
        { type: 'tool_use', id: 'call_Ax7pQ2LmZk9', name: 'get_time', input: { tz: 'Europe/Paris' } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 310, output_tokens: 48 },
    });
  });

  it('turns an error chunk mid-stream into event: error, which the SDK throws', async () => {
    const { sse, t } = translate([fixture('stream-error.sse')]);
    expect(t.state).toBe('failed');
    const last = parseSse(sse).at(-1);
    expect(last?.event).toBe('error');
    expect(last?.data).toEqual({
      type: 'error',
      error: {
        type: 'api_error',
        message:
          'OpenAI-compatible provider answered 500: The server had an error while processing your request. Sorry about that!',
      },
    });
    expect(sse).not.toContain('message_stop');
    await expect(sdkFinalMessage(sse)).rejects.toThrow(/server had an error/);
    // Nothing more after the error, whatever the upstream still sends.
    expect(t.push('data: [DONE]\n\n')).toBe('');
    expect(t.end()).toBe('');
  });

  it('signals an error when the upstream ends without [DONE], even after the finish and usage chunks', async () => {
    const full = fixture('stream-text.sse').toString();
    const truncated = full.slice(0, full.indexOf('data: [DONE]'));
    const { sse, t } = translate([truncated]);
    expect(t.state).toBe('failed');
    expect(parseSse(sse).at(-1)?.event).toBe('error');
    expect(sse).not.toContain('message_stop');
    await expect(sdkFinalMessage(sse)).rejects.toThrow(/ended its stream before \[DONE\]/);

    const cut = translate([full.slice(0, 500)]);
    expect(cut.t.state).toBe('failed');
    await expect(sdkFinalMessage(cut.sse)).rejects.toThrow();
  });

  it('names the reason the wiring gives when the upstream body failed', () => {
    const t = new OpenAIStreamTranslator('m');
    t.push(fixture('stream-text.sse').subarray(0, 300));
    expect(t.end('the upstream stream stalled')).toContain('"message":"the upstream stream stalled"');
    expect(t.error).toMatchObject({ status: 502, type: 'api_error' });
  });

  it('reads CRLF lines, comments and event: lines, and a stream without a usage chunk', async () => {
    const chunk = (delta: object, finish: string | null = null): string =>
      `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta, finish_reason: finish }] })}\r\n\r\n`;
    const input =
      ': OPENROUTER PROCESSING\r\n\r\n' +
      chunk({ role: 'assistant' }) +
      'event: message\r\n' +
      chunk({ content: 'Hi' }) +
      chunk({}, 'length') +
      'data: [DONE]\r\n\r\n';
    const { sse } = translate([input]);
    expect(await sdkFinalMessage(sse)).toMatchObject({
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'max_tokens',
      usage: { input_tokens: 0, output_tokens: 0 },
    });
  });

  it('holds arguments sent before the name, ignores a repeated name, and gives missing ids one', async () => {
    const chunk = (calls: object[]): string =>
      `data: ${JSON.stringify({ id: 'c9', choices: [{ index: 0, delta: { tool_calls: calls } }] })}\n\n`;
    const input =
      chunk([{ index: 0, function: { arguments: '{"q":' } }]) +
      chunk([{ index: 0, function: { name: 'search', arguments: '"cats"' } }]) +
      chunk([{ index: 0, function: { name: 'search', arguments: '}' } }]) +
      `data: ${JSON.stringify({ id: 'c9', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n` +
      'data: [DONE]\n\n';
    const { sse } = translate([input]);
    expect(await sdkFinalMessage(sse)).toMatchObject({
      content: [{ type: 'tool_use', id: 'toolu_c9_0', name: 'search', input: { q: 'cats' } }],
      stop_reason: 'tool_use',
    });
  });

  it('answers an empty message for a stream that is only [DONE], and an error for a malformed chunk', async () => {
    expect(await sdkFinalMessage(translate(['data: [DONE]\n\n']).sse)).toMatchObject({
      content: [],
      stop_reason: 'end_turn',
    });
    // A server that ends on `data: [DONE]` without the blank line still ended cleanly.
    expect(translate(['data: [DONE]']).t.state).toBe('done');
    const bad = translate(['data: {"id":"x","choices":[{"delta":{"content":"a"}}]}\n\ndata: {oops\n\n']);
    expect(bad.t.state).toBe('failed');
    await expect(sdkFinalMessage(bad.sse)).rejects.toThrow(/malformed stream chunk/);
  });

  it('keeps a text block after a tool call as a new block', async () => {
    const chunk = (delta: object, finish: string | null = null): string =>
      `data: ${JSON.stringify({ id: 'c2', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const input =
      chunk({ content: 'A' }) +
      chunk({
        tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      }) +
      chunk({ content: 'B' }) +
      chunk({}, 'tool_calls') +
      'data: [DONE]\n\n';
    expect(await sdkFinalMessage(translate([input]).sse)).toMatchObject({
      content: [
        { type: 'text', text: 'A' },
        { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
        { type: 'text', text: 'B' },
      ],
    });
  });

  it('sends a fragment of an earlier tool call after a later one opened to its own block', async () => {
    const chunk = (calls: object[]): string =>
      `data: ${JSON.stringify({ id: 'c3', choices: [{ index: 0, delta: { tool_calls: calls } }] })}\n\n`;
    const input =
      chunk([{ index: 0, id: 'call_a', function: { name: 'a', arguments: '{"x":' } }]) +
      chunk([{ index: 1, id: 'call_b', function: { name: 'b', arguments: '{"y":2}' } }]) +
      chunk([{ index: 0, function: { arguments: '1}' } }]) +
      `data: ${JSON.stringify({ id: 'c3', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] })}\n\n` +
      'data: [DONE]\n\n';
    expect(await sdkFinalMessage(translate([input]).sse)).toMatchObject({
      content: [
        { type: 'tool_use', id: 'call_a', name: 'a', input: { x: 1 } },
        { type: 'tool_use', id: 'call_b', name: 'b', input: { y: 2 } },
      ],
    });
  });

  it('tells apart whole tool calls sent without an index, several in one chunk', async () => {
    const input =
      `data: ${JSON.stringify({
        id: 'g1',
        choices: [
          {
            index: 0,
            delta: {
              role: 'assistant',
              tool_calls: [
                { id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"n":1}' } },
                { id: 'call_2', type: 'function', function: { name: 'b', arguments: '{"n":2}' } },
              ],
            },
            finish_reason: 'stop',
          },
        ],
      })}\n\n` + 'data: [DONE]\n\n';
    expect(await sdkFinalMessage(translate([input]).sse)).toMatchObject({
      content: [
        { type: 'tool_use', id: 'call_1', name: 'a', input: { n: 1 } },
        { type: 'tool_use', id: 'call_2', name: 'b', input: { n: 2 } },
      ],
      stop_reason: 'tool_use',
    });
  });
});
