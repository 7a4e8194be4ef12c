import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mapOpenAIError } from '../../src/providers/openai/openai-errors';
import { toChatCompletionsRequest } from '../../src/providers/openai/openai-request';
import { fromChatCompletion } from '../../src/providers/openai/openai-response';
import { OpenAIStreamTranslator } from '../../src/providers/openai/openai-stream';
import { FakeOpenAI } from '../fakes/fake-openai';

/**
 * The translation over real sockets against the strict fake OpenAI upstream: an Anthropic request translated,
 * sent with undici, the fake's answer (JSON or SSE, tool calls in fragments) translated back and judged by the
 * official SDK's accumulator — what the provider wiring will do, minus the relay around it.
 */

const MODEL = 'claude-sonnet-4-5';
const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

let fake: FakeOpenAI;
let baseUrl: string;

beforeAll(async () => {
  fake = new FakeOpenAI(['sk-test']);
  baseUrl = await fake.start();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.script.length = 0;
  fake.requests.length = 0;
  fake.cachedTokens = 0;
});

/** POSTs a Chat Completions body to the fake; the raw status and body bytes (streamed through `onChunk`). */
async function post(
  body: object,
  key = 'sk-test',
  onChunk?: (chunk: Buffer) => void,
): Promise<{ status: number; body: Buffer }> {
  const res = await request(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) {
    const buf = Buffer.from(chunk as Uint8Array);
    if (onChunk) onChunk(buf);
    else chunks.push(buf);
  }
  return { status: res.statusCode, body: Buffer.concat(chunks) };
}

/** What a JSON client gets: the Anthropic answer, or the mapped error. */
async function json(anthropic: object, key?: string): Promise<unknown> {
  const res = await post(toChatCompletionsRequest(anthropic, 'gpt-4.1'), key);
  if (res.status !== 200) return { status: res.status, mapped: mapOpenAIError(res.status, res.body) };
  return fromChatCompletion(JSON.parse(res.body.toString()), MODEL);
}

/** What a streaming client gets: the Anthropic SSE text, translated chunk by chunk as it arrived. */
async function stream(anthropic: object): Promise<{ sse: string; translator: OpenAIStreamTranslator }> {
  const translator = new OpenAIStreamTranslator(MODEL);
  let sse = '';
  const res = await post(
    toChatCompletionsRequest({ ...anthropic, stream: true }, 'gpt-4.1'),
    'sk-test',
    (chunk) => {
      sse += translator.push(chunk);
    },
  );
  expect(res.status).toBe(200);
  sse += translator.end();
  return { sse, translator };
}

async function sdkFinal(sse: string): Promise<Anthropic.Message> {
  const client = new Anthropic({
    apiKey: 'k',
    maxRetries: 0,
    fetch: () => Promise.resolve(new Response(sse, { headers: { 'content-type': 'text/event-stream' } })),
  });
  return client.messages
    .stream({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
    .finalMessage();
}

describe('the translation against the fake OpenAI upstream', () => {
  it('the fake refuses an Anthropic body sent untranslated, in OpenAI’s error shape', async () => {
    const res = await post({
      model: 'gpt-4.1',
      max_tokens: 10,
      top_k: 3,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toEqual({
      error: {
        message: 'Unrecognized request argument supplied: top_k',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
    expect(mapOpenAIError(res.status, res.body)).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
    });
  });

  it('answers a translated JSON request, with cached tokens as cache reads', async () => {
    fake.script.push({ kind: 'text', text: 'Bonjour!' });
    fake.cachedTokens = 8;
    const answer = await json({
      model: MODEL,
      max_tokens: 100,
      system: [{ type: 'text', text: 'Answer in French.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(answer).toMatchObject({
      type: 'message',
      model: MODEL,
      content: [{ type: 'text', text: 'Bonjour!' }],
      stop_reason: 'end_turn',
      usage: { cache_read_input_tokens: 8 },
    });
    expect(fake.requests[0]?.body).toMatchObject({ model: 'gpt-4.1', max_completion_tokens: 100 });
  });

  it('streams text through the translator into a message the SDK accepts', async () => {
    fake.script.push({ kind: 'text', text: 'A longer answer, streamed in small deltas.' });
    const { sse, translator } = await stream({
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(translator.state).toBe('done');
    const final = await sdkFinal(sse);
    expect(final.content).toEqual([{ type: 'text', text: 'A longer answer, streamed in small deltas.' }]);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]?.body.stream_options).toEqual({ include_usage: true });
  });

  it('carries a two-turn tool-use conversation, streamed, that the strict fake accepts at each turn', async () => {
    fake.script.push({
      kind: 'tools',
      text: 'Checking both.',
      calls: [
        { name: 'get_weather', arguments: '{"city":"Paris"}' },
        { name: 'get_weather', arguments: '{"city":"Rome, Italy"}' },
      ],
    });
    const turn1 = {
      model: MODEL,
      max_tokens: 200,
      tools: [weatherTool],
      tool_choice: { type: 'auto' },
      messages: [{ role: 'user', content: 'Weather in Paris and Rome?' }] as Anthropic.MessageParam[],
    };
    const first = await sdkFinal((await stream(turn1)).sse);
    expect(first.stop_reason).toBe('tool_use');
    const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(uses.map((u) => u.input)).toEqual([{ city: 'Paris' }, { city: 'Rome, Italy' }]);

    fake.script.push({ kind: 'text', text: 'Paris 18°C, Rome 24°C.' });
    const turn2 = {
      ...turn1,
      messages: [
        ...turn1.messages,
        { role: 'assistant' as const, content: first.content },
        {
          role: 'user' as const,
          content: [
            { type: 'tool_result' as const, tool_use_id: uses[0]?.id ?? '', content: '18°C' },
            { type: 'tool_result' as const, tool_use_id: uses[1]?.id ?? '', content: '24°C' },
          ],
        },
      ],
    };
    const second = await json(turn2);
    expect(second).toMatchObject({
      content: [{ type: 'text', text: 'Paris 18°C, Rome 24°C.' }],
      stop_reason: 'end_turn',
    });
    expect(fake.requests[1]?.body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: uses.map((u) => ({
          id: u.id,
          type: 'function',
          function: { name: 'get_weather', arguments: JSON.stringify(u.input) },
        })),
      },
      { role: 'tool', tool_call_id: uses[0]?.id, content: '18°C' },
      { role: 'tool', tool_call_id: uses[1]?.id, content: '24°C' },
    ]);
  });

  it('maps upstream errors: bad key, out of quota (not a rate limit), rate limit, overloaded', async () => {
    const body = { model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    expect(await json(body, 'sk-wrong')).toMatchObject({
      status: 401,
      mapped: { status: 401, type: 'authentication_error' },
    });
    fake.script.push({
      kind: 'status',
      status: 429,
      body: {
        error: {
          message: 'You exceeded your current quota.',
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      },
    });
    expect(await json(body)).toMatchObject({ mapped: { status: 402, type: 'billing_error' } });
    fake.script.push({
      kind: 'status',
      status: 429,
      body: {
        error: { message: 'Rate limit reached.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
      },
    });
    expect(await json(body)).toMatchObject({ mapped: { status: 429, type: 'rate_limit_error' } });
    fake.script.push({
      kind: 'status',
      status: 503,
      body: { error: { message: 'The engine is currently overloaded.' } },
    });
    expect(await json(body)).toMatchObject({ mapped: { status: 529, type: 'overloaded_error' } });
  });

  it('a mid-stream error chunk and a stream cut before [DONE] end in event: error, which the SDK throws', async () => {
    const body = { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] };
    fake.script.push({
      kind: 'stream_error',
      text: 'Partial',
      error: { message: 'Internal failure', type: 'server_error' },
    });
    const failed = await stream(body);
    expect(failed.translator.state).toBe('failed');
    await expect(sdkFinal(failed.sse)).rejects.toThrow(/Internal failure/);

    fake.script.push({ kind: 'truncate', text: 'Cut short' });
    const cut = await stream(body);
    expect(cut.translator.state).toBe('failed');
    expect(cut.sse).not.toContain('message_stop');
    await expect(sdkFinal(cut.sse)).rejects.toThrow(/before \[DONE\]/);
  });
});
