import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../config/config-error';
import { validateConfig } from '../config/config-validation';
import { ProviderConfig } from '../config/relay-config';
import { AzureAdapter } from './azure-adapter';
import { BedrockEventStreamToSse } from './bedrock-stream';
import { adapterOf } from './adapters';
import { TOKEN_REFRESH_MARGIN_MS, TokenCache } from './token-cache';
import { bedrockErrorAnswer, vertexErrorAnswer } from './vendor-errors';

function provider(fields: Partial<ProviderConfig>): ProviderConfig {
  return Object.assign(new ProviderConfig(), { name: 'p' }, fields);
}

describe('adapterOf', () => {
  it('leaves the Anthropic-API types (and azure with keys) on the plain forwarding path', () => {
    for (const type of ['anthropic', 'zai', 'minimax', 'ollama', 'azure'] as const) {
      expect(adapterOf(provider({ type }))).toBeUndefined();
    }
  });

  it('keeps one adapter (and so one credential cache) per provider', () => {
    const p = provider({ type: 'vertex', gcp_project_id: 'x', gcp_region: 'us-east5' });
    expect(adapterOf(p)).toBe(adapterOf(p));
    expect(
      adapterOf(
        provider({ type: 'azure', entra_id: true, base_url: 'https://r.services.ai.azure.com/anthropic' }),
      ),
    ).toBeInstanceOf(AzureAdapter);
  });
});

describe('TokenCache', () => {
  it('shares one fetch between concurrent callers and reuses the token until near its expiry', async () => {
    let now = 0;
    let n = 0;
    const fetch = vi.fn(() => Promise.resolve({ token: `t${++n}`, expiresAt: now + 3_600_000 }));
    const cache = new TokenCache(fetch, () => now);
    expect(await Promise.all([cache.get(), cache.get(), cache.get()])).toEqual(['t1', 't1', 't1']);
    now = 3_600_000 - TOKEN_REFRESH_MARGIN_MS - 1;
    expect(await cache.get()).toBe('t1');
    now += 2;
    expect(await cache.get()).toBe('t2');
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('does not cache a failed fetch', async () => {
    const fetch = vi
      .fn<() => Promise<{ token: string; expiresAt: number }>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockResolvedValueOnce({ token: 'ok', expiresAt: Date.now() + 3_600_000 });
    const cache = new TokenCache(fetch);
    await expect(cache.get()).rejects.toThrow('down');
    expect(await cache.get()).toBe('ok');
  });
});

describe('AzureAdapter (Entra ID)', () => {
  it('sends the Entra token as a Bearer token, never the client credential, fetched once', async () => {
    const getToken = vi.fn(() =>
      Promise.resolve({ token: 'entra-tok', expiresOnTimestamp: Date.now() + 3_600_000 }),
    );
    const adapter = new AzureAdapter(
      provider({ type: 'azure', entra_id: true, base_url: 'https://r.services.ai.azure.com/anthropic' }),
      { getToken },
    );
    const req = {
      endpoint: 'messages' as const,
      pathAndQuery: '/v1/messages',
      clientHeaders: { 'x-api-key': 'client-key', 'anthropic-version': '2023-06-01' },
      body: '{}',
      model: 'claude-sonnet-4-5',
      stream: false,
      key: undefined,
      requestId: 'r1',
    };
    const call = await adapter.prepare(req);
    await adapter.prepare(req);
    expect(call.kind).toBe('send');
    const headers = call.kind === 'send' ? call.headers : [];
    expect(headers).toContain('Bearer entra-tok');
    expect(headers).not.toContain('client-key');
    expect(headers).not.toContain('x-api-key');
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(getToken).toHaveBeenCalledWith('https://cognitiveservices.azure.com/.default');
  });

  it('says which provider has no token without the credential library’s details', async () => {
    const adapter = new AzureAdapter(provider({ name: 'az', type: 'azure', entra_id: true }), {
      getToken: () => Promise.reject(new Error('secret detail /home/x/.azure')),
    });
    await expect(adapter.probe('models')).rejects.toThrow(/^provider "az": no Entra ID token/);
  });
});

describe('BedrockEventStreamToSse', () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frame = (headers: Record<string, string>, body: string) => {
    const h: Record<string, { type: 'string'; value: string }> = {};
    for (const [k, v] of Object.entries(headers)) h[k] = { type: 'string', value: v };
    return Buffer.from(codec.encode({ headers: h, body: fromUtf8(body) }));
  };
  const chunk = (event: object) =>
    frame(
      { ':message-type': 'event', ':event-type': 'chunk' },
      JSON.stringify({ bytes: Buffer.from(JSON.stringify(event)).toString('base64') }),
    );

  it('reads chunk bodies and events written in any JSON layout, not only the compact one Bedrock sends', async () => {
    const t = new BedrockEventStreamToSse();
    const out: string[] = [];
    t.on('data', (d: Buffer) => out.push(d.toString()));
    const spaced = JSON.stringify({ index: 0, type: 'content_block_stop' }, null, 1);
    t.write(
      frame(
        { ':message-type': 'event', ':event-type': 'chunk' },
        `{ "p": "x", "bytes" : "${Buffer.from(spaced).toString('base64')}" }`,
      ),
    );
    t.write(chunk({ type: 'message_stop' }));
    t.end();
    await new Promise((r) => t.on('end', r));
    expect(out.join('')).toBe(
      `event: content_block_stop\ndata: ${spaced}\n\n` +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
  });

  it('turns chunk events into SSE events as they complete, even when split byte by byte', async () => {
    const t = new BedrockEventStreamToSse();
    const out: string[] = [];
    t.on('data', (d: Buffer) => out.push(d.toString()));
    const bytes = Buffer.concat([
      chunk({ type: 'message_start', message: { id: 'm' } }),
      chunk({ type: 'message_stop' }),
    ]);
    for (const b of bytes) t.write(Buffer.from([b]));
    t.end();
    await new Promise((r) => t.on('end', r));
    expect(out.join('')).toBe(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
  });

  it('turns an exception into an Anthropic error event of the type it stands for', async () => {
    const t = new BedrockEventStreamToSse();
    const out: string[] = [];
    t.on('data', (d: Buffer) => out.push(d.toString()));
    t.end(
      frame({ ':message-type': 'exception', ':exception-type': 'throttlingException' }, '{"message":"slow"}'),
    );
    await new Promise((r) => t.on('end', r));
    expect(out.join('')).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Bedrock throttlingException: slow"}}\n\n',
    );
  });
});

describe('vendor errors', () => {
  it('classifies Google statuses by name', () => {
    const body = Buffer.from(
      JSON.stringify({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }),
    );
    const a = vertexErrorAnswer(429, body);
    expect(a.status).toBe(429);
    expect(JSON.parse(a.body.toString())).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error' },
    });
    expect(vertexErrorAnswer(503, Buffer.from('{"error":{"status":"UNAVAILABLE"}}')).status).toBe(529);
  });

  it('classifies Bedrock exceptions by name, the header first', () => {
    const answer = bedrockErrorAnswer(
      400,
      { 'x-amzn-errortype': 'ModelTimeoutException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
      Buffer.from('{"message":"too slow"}'),
    );
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ error: { type: 'timeout_error' } });
  });
});

describe('config: the cloud provider types', () => {
  const problems = (p: Record<string, unknown>): string[] => {
    try {
      validateConfig({ providers: [{ name: 'x', ...p }] });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((q) => q.path);
      throw err;
    }
    return [];
  };

  it('asks each type for the keys it needs', () => {
    expect(problems({ type: 'vertex' })).toEqual(['providers[0].gcp_project_id', 'providers[0].gcp_region']);
    expect(problems({ type: 'bedrock' })).toEqual(['providers[0].aws_region']);
    expect(problems({ type: 'azure', keys: [{ key: 'k' }] })).toEqual(['providers[0].base_url']);
    expect(problems({ type: 'anthropic', entra_id: true })).toEqual(['providers[0].entra_id']);
    expect(problems({ type: 'bedrock', aws_region: 'us-east-1', keys: [{ key: 'k' }] })).toEqual([
      'providers[0].keys',
    ]);
  });

  it('accepts the issue’s examples', () => {
    expect(problems({ type: 'vertex', gcp_project_id: 'p', gcp_region: 'europe-west1' })).toEqual([]);
    expect(problems({ type: 'bedrock', aws_region: 'us-east-1', aws_profile: 'prod' })).toEqual([]);
    expect(
      problems({ type: 'azure', base_url: 'https://r.services.ai.azure.com/anthropic', entra_id: true }),
    ).toEqual([]);
  });
});

describe('config: cloud credentials are no pass-through', () => {
  it('does not warn that a keyless vertex, bedrock or Entra ID provider forwards client credentials', () => {
    const { warnings } = validateConfig({
      server: { auth: { api_keys: ['k'] } },
      providers: [
        { name: 'v', type: 'vertex', gcp_project_id: 'p', gcp_region: 'global' },
        { name: 'b', type: 'bedrock', aws_region: 'us-east-1' },
        { name: 'a', type: 'azure', entra_id: true, base_url: 'https://r.services.ai.azure.com/anthropic' },
      ],
    });
    expect(warnings.filter((w) => w.includes('has no keys'))).toEqual([]);
  });
});
