import Anthropic from '@anthropic-ai/sdk';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bedrockError, FakeBedrock } from '../fakes/fake-bedrock';
import { isProbeSuccess } from '../../src/health/probe-policy';
import { adapterOf } from '../../src/providers/adapters';
import { FakeUpstream } from '../fakes/fake-upstream';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Claude on Amazon Bedrock behind the relay, driven with the official SDK: requests signed with SigV4 from the
// AWS default chain (here the environment's test credentials, which the fake recomputes the signature from), the
// binary event stream relayed as Anthropic SSE, Bedrock's exceptions answered as Anthropic errors.

const CREDENTIALS = {
  accessKeyId: 'AKIAFAKEBEDROCKTEST',
  secretAccessKey: 'fake/bedrock/secret/0123456789abcdef',
};
const REGION = 'us-east-1';
const MODEL_ID = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const ask = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hello' }],
  ...extra,
});

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('bedrock provider', () => {
  const bedrock = new FakeBedrock(CREDENTIALS, REGION);
  const anthropic = new FakeUpstream();
  const savedEnv = { ...process.env };
  let relay: RunningRelay;
  let client: Anthropic;

  /** Bedrock first, then an Anthropic provider that counts tokens; `maxAttempts` per request. */
  const relayConfig = (maxAttempts: number) =>
    rawConfig(bedrock.url, {
      routing: { debug: true, retry: { max_attempts: maxAttempts } },
      // Every error class is played in a row: the circuit must stay closed for the next test.
      health: { circuit_breaker: { failure_threshold: 100 } },
      providers: [
        {
          name: 'bedrock-us',
          type: 'bedrock',
          base_url: bedrock.url,
          aws_region: REGION,
          priority: 10,
          model_mapping: { 'claude-sonnet-4-5': MODEL_ID },
        },
        // Serves count_tokens, which Bedrock does not through the relay.
        {
          name: 'counter',
          type: 'anthropic',
          base_url: anthropic.url,
          priority: 0,
          keys: [{ key: PROVIDER_KEY }],
        },
      ],
    });

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    await bedrock.start();
    await anthropic.start();
    relay = await startRelay(relayConfig(1));
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    bedrock.reset();
    bedrock.override = undefined;
  });
  afterAll(async () => {
    await relay.close();
    await bedrock.close();
    await anthropic.close();
    process.env = savedEnv;
  });

  it('answers a JSON message through a SigV4-signed InvokeModel', async () => {
    bedrock.inner.enqueue({ kind: 'json', text: 'hello from bedrock' });
    const res = await client.messages.create(ask()).withResponse();
    expect(res.data.content[0]).toMatchObject({ type: 'text', text: 'hello from bedrock' });
    expect(res.response.headers.get('x-cc-relay-provider')).toBe('bedrock-us');
    expect(bedrock.refusals).toEqual([]);
    expect(bedrock.accepted[0]!.path).toBe(`/model/${encodeURIComponent(MODEL_ID)}/invoke`);
    expect(bedrock.accepted[0]!.body).toMatchObject({ anthropic_version: 'bedrock-2023-05-31' });
  });

  it('streams the AWS event stream as Anthropic SSE, beta headers as anthropic_beta', async () => {
    bedrock.inner.enqueue({ kind: 'sse', text: 'streamed from the event stream' });
    const stream = client.messages.stream(ask(), {
      headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14,context-1m-2025-08-07' },
    });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'streamed from the event stream' });
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(bedrock.refusals).toEqual([]);
    expect(bedrock.accepted[0]!.path).toBe(
      `/model/${encodeURIComponent(MODEL_ID)}/invoke-with-response-stream`,
    );
    expect(bedrock.accepted[0]!.body).toMatchObject({
      anthropic_beta: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'],
    });
  });

  it.each([
    [429, 'ThrottlingException', 429, 'rate_limit_error', Anthropic.RateLimitError],
    [503, 'ServiceUnavailableException', 529, 'overloaded_error', Anthropic.InternalServerError],
    [429, 'ModelNotReadyException', 529, 'overloaded_error', Anthropic.InternalServerError],
    [408, 'ModelTimeoutException', 504, 'timeout_error', Anthropic.InternalServerError],
    [400, 'ValidationException', 400, 'invalid_request_error', Anthropic.BadRequestError],
    [403, 'AccessDeniedException', 403, 'permission_error', Anthropic.PermissionDeniedError],
  ] as const)('answers HTTP %d %s as an Anthropic %d %s', async (status, exception, expected, type, cls) => {
    bedrock.override = () => bedrockError(status, exception, `${exception} from aws`);
    const err = await rejectionOf(client.messages.create(ask()));
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ status: expected, type });
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type, message: expect.stringContaining(`${exception} from aws`) as string },
    });
  });

  it('answers a throttlingException at the start of the stream as a 429', async () => {
    bedrock.inner.enqueue({
      kind: 'error_event',
      afterEvents: 1,
      errorType: 'rate_limit_error',
      message: 'slow down',
    });
    const err = await rejectionOf(client.messages.stream(ask()).finalMessage());
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('ends a stream that fails mid-way with an error event, never a clean end', async () => {
    bedrock.inner.enqueue({ kind: 'error_event', afterEvents: 4, text: 'one two three four' });
    bedrock.inner.enqueue({ kind: 'error_event', afterEvents: 4, text: 'one two three four' });
    const stream = client.messages.stream(ask());
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const err = await rejectionOf(stream.finalMessage());
    expect(texts.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ type: 'overloaded_error' });
  });

  it('counts tokens on the next provider: Bedrock serves no count_tokens', async () => {
    const raw = relayConfig(2);
    const second = await startRelay(raw);
    try {
      const counting = new Anthropic({ baseURL: second.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      const res = await counting.messages
        .countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count me' }] })
        .withResponse();
      expect(res.data.input_tokens).toBeGreaterThan(0);
      expect(res.response.headers.get('x-cc-relay-provider')).toBe('counter');
      expect(bedrock.accepted).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('has a fake that refuses a request signed with other credentials (the signature is really checked)', async () => {
    const url = new URL(`${bedrock.url}/model/${encodeURIComponent(MODEL_ID)}/invoke`);
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1, messages: [] });
    const signer = new SignatureV4({
      credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret' },
      region: REGION,
      service: 'bedrock',
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    const { host: _host, ...headers } = signed.headers;
    const res = await fetch(url, { method: 'POST', headers, body });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toMatch(/^InvalidSignatureException/);
  });

  it('probes with a signed CountTokens call, spending no tokens', async () => {
    const probe = await adapterOf(relay.config.providers[0]!)!.probe('models');
    expect(probe).toMatchObject({ kind: 'count_tokens', method: 'POST' });
    const res = await fetch(probe.url, { method: probe.method, headers: probe.headers, body: probe.body });
    expect(res.status).toBe(200);
    // Answered only once the signature checked out.
    expect(bedrock.countTokensCalls).toBe(1);
    expect(isProbeSuccess({ status: res.status })).toBe(true);
  });

  it('never writes the AWS secret into its logs', () => {
    expect(relay.logs.join('\n')).not.toContain(CREDENTIALS.secretAccessKey);
  });
});
