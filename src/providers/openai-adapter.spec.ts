import { describe, expect, it } from 'vitest';
import { ProviderConfig } from '../config/relay-config';
import { OpenAIAdapter, openaiErrorAnswer, openaiJsonAnswer, OpenAIStreamToSse } from './openai-adapter';
import { adapterOf } from './adapters';
import type { AdapterRequest } from './provider-adapter';

function provider(fields: Partial<ProviderConfig>): ProviderConfig {
  return Object.assign(new ProviderConfig(), { name: 'gpt', type: 'openai' }, fields);
}

const request = (fields: Partial<AdapterRequest> = {}): AdapterRequest => ({
  endpoint: 'messages',
  pathAndQuery: '/v1/messages',
  clientHeaders: { 'user-agent': 'claude-cli', 'x-api-key': 'client-secret' },
  body: JSON.stringify({ model: 'gpt-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
  model: 'gpt-5',
  clientModel: 'claude-sonnet-4-5',
  stream: false,
  key: 'sk-pool',
  requestId: 'req_1',
  ...fields,
});

function headerOf(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

describe('OpenAIAdapter', () => {
  const adapter = new OpenAIAdapter(
    provider({ base_url: 'https://api.example.com/v1/', keys: [{ key: 'sk-pool' }] as never }),
  );

  it('is the adapter of an openai provider', () => {
    expect(adapterOf(provider({ base_url: 'https://x/v1' }))).toBeInstanceOf(OpenAIAdapter);
  });

  it('posts a Chat Completions body to /chat/completions with the pool key as Bearer, never the client key', async () => {
    const call = await adapter.prepare(request());
    if (call.kind !== 'send') throw new Error('expected a call');
    expect(call.pathAndQuery).toBe('/chat/completions');
    expect(headerOf(call.headers, 'authorization')).toBe('Bearer sk-pool');
    expect(call.headers).not.toContain('client-secret');
    expect(headerOf(call.headers, 'user-agent')).toBe('claude-cli');
    expect(JSON.parse(String(call.body))).toMatchObject({
      model: 'gpt-5',
      max_completion_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
  });

  it('sends no credentials without a pool key', async () => {
    const call = await adapter.prepare(request({ key: undefined }));
    if (call.kind !== 'send') throw new Error('expected a call');
    expect(headerOf(call.headers, 'authorization')).toBeUndefined();
  });

  it('refuses count_tokens as a 404 without a call, so the next provider counts', async () => {
    const call = await adapter.prepare(request({ endpoint: 'count_tokens' }));
    expect(call).toMatchObject({ kind: 'refuse', status: 404 });
  });

  it('probes GET {base_url}/models with the first key', async () => {
    const probe = await adapter.probe('messages');
    expect(probe).toMatchObject({
      kind: 'models',
      method: 'GET',
      url: 'https://api.example.com/v1/models',
      headers: { authorization: 'Bearer sk-pool' },
    });
    expect(probe.body).toBeUndefined();
  });
});

describe('openai answers', () => {
  it('translates a completion, reporting the client model', () => {
    const out = openaiJsonAnswer(
      Buffer.from(
        JSON.stringify({
          id: 'chatcmpl-1',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hey' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 1 },
        }),
      ),
      'claude-sonnet-4-5',
    );
    expect(out.status).toBe(200);
    expect(JSON.parse(out.body.toString())).toMatchObject({
      type: 'message',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'hey' }],
      stop_reason: 'end_turn',
    });
  });

  it('turns an error answered with a 200 into its status', () => {
    const out = openaiJsonAnswer(
      Buffer.from(JSON.stringify({ error: { message: 'slow down', code: 429 } })),
      'm',
    );
    expect(out.status).toBe(429);
  });

  it('answers insufficient_quota as a 402 billing_error', () => {
    const out = openaiErrorAnswer(
      429,
      {},
      Buffer.from(JSON.stringify({ error: { type: 'insufficient_quota', code: 'insufficient_quota' } })),
    );
    expect(out.status).toBe(402);
    expect(JSON.parse(out.body.toString())).toMatchObject({
      type: 'error',
      error: { type: 'billing_error' },
    });
  });

  it('ends a stream without [DONE] with an error event', async () => {
    const t = new OpenAIStreamToSse('m');
    const out: string[] = [];
    t.on('data', (c: Buffer | string) => out.push(String(c)));
    t.write(
      `data: ${JSON.stringify({ id: 'x', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] })}\n\n`,
    );
    t.end();
    await new Promise((resolve) => t.on('end', resolve));
    const text = out.join('');
    expect(text).toContain('event: content_block_delta');
    expect(text).toContain('event: error');
    expect(text).not.toContain('message_stop');
  });
});
