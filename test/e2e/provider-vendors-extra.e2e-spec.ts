import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeBedrock } from '../fakes/fake-bedrock';
import type { Scenario } from '../fakes/fake-scenario';
import { FakeUpstream } from '../fakes/fake-upstream';
import { FakeGoogleTokenEndpoint, FakeVertex } from '../fakes/fake-vertex';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Issue 22's checks beyond the per-type specs, with the official SDK as the client: a two-turn tool-use
// conversation through bedrock, vertex and azure; every error class and a mid-stream failure through azure; and a
// thinking conversation failing over from anthropic to bedrock with its Anthropic-signed blocks kept.

const CREDENTIALS = {
  accessKeyId: 'AKIAFAKEBEDROCKEXTRA',
  secretAccessKey: 'fake/bedrock/extra/secret/0123456789',
};
const AWS_REGION = 'us-east-1';
const BEDROCK_MODEL = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const PROJECT = 'relay-extra-project';
const GCP_REGION = 'europe-west1';
const AZURE_KEY = 'azure-foundry-extra-key-0123456789';
const MODEL = 'claude-sonnet-4-5';

const TOOLS: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'The weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];
const TOOL_CALL = { id: 'toolu_01extra', name: 'get_weather', input: { city: 'Paris' } };
const QUESTION: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris?' };

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** The messages an upstream received, as sent on by the relay. */
type Sent = { messages: Array<{ role: string; content: unknown }> };

/**
 * Plays assistant tool_use → user tool_result → final answer through `client`, turn 1 as JSON or streamed.
 * `enqueue` scripts the inner Anthropic fake; `sent(i)` is the body the vendor received for request i.
 */
async function toolConversation(
  client: Anthropic,
  enqueue: (s: Scenario) => void,
  sent: (i: number) => Sent,
  mode: 'json' | 'stream',
): Promise<void> {
  const first = {
    text: 'Let me look that up.',
    toolUse: TOOL_CALL,
    stopReason: 'tool_use',
  };
  enqueue(mode === 'json' ? { kind: 'json', ...first } : { kind: 'sse', ...first });
  const params = { model: MODEL, max_tokens: 256, tools: TOOLS, messages: [QUESTION] };
  const turn1 =
    mode === 'json'
      ? await client.messages.create(params)
      : await client.messages.stream(params).finalMessage();
  expect(turn1.stop_reason).toBe('tool_use');
  expect(turn1.content).toEqual([
    expect.objectContaining({ type: 'text', text: 'Let me look that up.' }),
    expect.objectContaining({ type: 'tool_use', ...TOOL_CALL }),
  ]);

  enqueue({ kind: mode === 'json' ? 'json' : 'sse', text: 'It is sunny in Paris.' });
  const history: Anthropic.MessageParam[] = [
    QUESTION,
    { role: 'assistant', content: turn1.content },
    {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: TOOL_CALL.id, content: 'sunny, 21°C' }],
    },
  ];
  const turn2Params = { model: MODEL, max_tokens: 256, tools: TOOLS, messages: history };
  const turn2 =
    mode === 'json'
      ? await client.messages.create(turn2Params)
      : await client.messages.stream(turn2Params).finalMessage();
  expect(turn2.stop_reason).toBe('end_turn');
  expect(turn2.content).toEqual([expect.objectContaining({ type: 'text', text: 'It is sunny in Paris.' })]);

  // The vendor got the tool call and its result as the client sent them.
  const received = sent(1).messages;
  expect(received).toHaveLength(3);
  expect(received[1]!.content).toEqual(
    expect.arrayContaining([expect.objectContaining({ type: 'tool_use', ...TOOL_CALL })]),
  );
  expect(received[2]!.content).toEqual([
    expect.objectContaining({ type: 'tool_result', tool_use_id: TOOL_CALL.id, content: 'sunny, 21°C' }),
  ]);
}

describe('a two-turn tool-use conversation through the cloud vendors', () => {
  const savedEnv = { ...process.env };
  const bedrock = new FakeBedrock(CREDENTIALS, AWS_REGION);
  const tokens = new FakeGoogleTokenEndpoint();
  const vertex = new FakeVertex(tokens, PROJECT, GCP_REGION);
  const foundry = new FakeUpstream();
  const relays: RunningRelay[] = [];
  const clients: Record<'bedrock' | 'vertex' | 'azure', Anthropic> = {} as never;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    await Promise.all([bedrock.start(), tokens.start(), foundry.start()]);
    await vertex.start();
    const credentials = join(mkdtempSync(join(tmpdir(), 'vertex-sa-')), 'sa.json');
    tokens.writeServiceAccount(credentials, PROJECT);
    const providers = {
      bedrock: {
        name: 'bedrock-us',
        type: 'bedrock',
        base_url: bedrock.url,
        aws_region: AWS_REGION,
        model_mapping: { [MODEL]: BEDROCK_MODEL },
      },
      vertex: {
        name: 'vertex-eu',
        type: 'vertex',
        base_url: vertex.url,
        gcp_project_id: PROJECT,
        gcp_region: GCP_REGION,
        credentials_file: credentials,
        model_mapping: { [MODEL]: 'claude-sonnet-4-5@20250929' },
      },
      azure: { name: 'azure', type: 'azure', base_url: foundry.url, keys: [{ key: AZURE_KEY }] },
    };
    for (const [type, provider] of Object.entries(providers)) {
      const relay = await startRelay(
        rawConfig(provider.base_url, { routing: { retry: { max_attempts: 1 } }, providers: [provider] }),
      );
      relays.push(relay);
      clients[type as keyof typeof clients] = new Anthropic({
        baseURL: relay.url,
        apiKey: CLIENT_KEY,
        maxRetries: 0,
      });
    }
  });
  afterEach(() => {
    bedrock.reset();
    vertex.reset();
    foundry.reset();
  });
  afterAll(async () => {
    for (const relay of relays) await relay.close();
    await bedrock.close();
    await vertex.close();
    await tokens.close();
    await foundry.close();
    process.env = savedEnv;
  });

  for (const mode of ['json', 'stream'] as const) {
    it(`bedrock (${mode})`, async () => {
      await toolConversation(
        clients.bedrock,
        (s) => bedrock.inner.enqueue(s),
        (i) => bedrock.accepted[i]!.body as Sent,
        mode,
      );
      expect(bedrock.refusals).toEqual([]);
    });

    it(`vertex (${mode})`, async () => {
      await toolConversation(
        clients.vertex,
        (s) => vertex.inner.enqueue(s),
        (i) => vertex.accepted[i]!.body as Sent,
        mode,
      );
      expect(vertex.refusals).toEqual([]);
    });

    it(`azure (${mode})`, async () => {
      await toolConversation(
        clients.azure,
        (s) => foundry.enqueue(s),
        (i) => foundry.requests.filter((r) => r.path === '/v1/messages')[i]!.body as Sent,
        mode,
      );
    });
  }
});

describe('azure provider errors, each class, and a mid-stream failure', () => {
  const foundry = new FakeUpstream();
  let relay: RunningRelay;
  let client: Anthropic;
  const ask = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'hello' }] };

  beforeAll(async () => {
    await foundry.start();
    relay = await startRelay(
      rawConfig(foundry.url, {
        routing: { retry: { max_attempts: 1 } },
        health: { circuit_breaker: { failure_threshold: 100 } },
        providers: [{ name: 'azure', type: 'azure', base_url: foundry.url, keys: [{ key: AZURE_KEY }] }],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    foundry.script(undefined);
    foundry.reset();
  });
  afterAll(async () => {
    await relay.close();
    await foundry.close();
  });

  it.each([
    [400, 400, 'invalid_request_error', Anthropic.BadRequestError],
    [529, 529, 'overloaded_error', Anthropic.InternalServerError],
    [500, 500, 'api_error', Anthropic.InternalServerError],
  ] as const)('answers a Foundry %d as an Anthropic %d %s', async (status, expected, type, cls) => {
    foundry.enqueue({ kind: 'status', status, message: `${status} from foundry` });
    const err = await rejectionOf(client.messages.create(ask));
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject({ status: expected, type });
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { type, message: expect.stringContaining(`${status} from foundry`) as string },
    });
  });

  it('answers a Foundry 503 as an overload the SDK may retry', async () => {
    foundry.enqueue({ kind: 'status', status: 503, errorType: 'overloaded_error', message: 'busy' });
    const err = await rejectionOf(client.messages.create(ask));
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(err).toMatchObject({ type: 'overloaded_error' });
    expect([503, 529]).toContain((err as InstanceType<typeof Anthropic.APIError>).status);
  });

  it('ends a stream that fails mid-way with an error event, never a clean end', async () => {
    foundry.enqueue({ kind: 'error_event', afterEvents: 4, text: 'one two three four' });
    const stream = client.messages.stream(ask);
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    const err = await rejectionOf(stream.finalMessage());
    expect(texts.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ type: 'overloaded_error' });
  });

  it('answers a Foundry that rejects the resource key as the relay’s key problem, not the client’s', async () => {
    // A relay of its own: the rejected key is taken out of rotation.
    const rejecting = new FakeUpstream();
    await rejecting.start();
    const own = await startRelay(
      rawConfig(rejecting.url, {
        routing: { retry: { max_attempts: 1 } },
        providers: [{ name: 'azure', type: 'azure', base_url: rejecting.url, keys: [{ key: AZURE_KEY }] }],
      }),
    );
    try {
      rejecting.script(() => ({ kind: 'status', status: 401, errorType: 'authentication_error' }));
      const ownClient = new Anthropic({ baseURL: own.url, apiKey: CLIENT_KEY, maxRetries: 0 });
      const err = await rejectionOf(ownClient.messages.create(ask));
      expect(err).toBeInstanceOf(Anthropic.APIError);
      const apiErr = err as InstanceType<typeof Anthropic.APIError>;
      // The client's key is fine: no 401 that would send it to fix its own credential.
      expect(apiErr.status).not.toBe(401);
      expect(apiErr.error).toMatchObject({
        type: 'error',
        error: { message: expect.stringContaining('rejected the relay') as string },
      });
      expect(JSON.stringify(apiErr.error)).not.toContain(AZURE_KEY);
    } finally {
      await own.close();
      await rejecting.close();
    }
  });

  // Last: the retry-after cools the only key down, a later request would wait for it.
  it('passes a 429 on with its retry-after', async () => {
    foundry.enqueue({ kind: 'status', status: 429, headers: { 'retry-after': '7' } });
    const err = await rejectionOf(client.messages.create(ask));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error' });
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('7');
  });
});

describe('a thinking conversation failing over from anthropic to bedrock', () => {
  const savedEnv = { ...process.env };
  const anthropic = new FakeUpstream({ thinkingSigner: 'anthropic' });
  const bedrock = new FakeBedrock(CREDENTIALS, AWS_REGION);
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    await anthropic.start();
    await bedrock.start();
    relay = await startRelay(
      rawConfig(anthropic.url, {
        routing: { strategy: 'failover', debug: true, retry: { max_attempts: 3, budget_ratio: 10 } },
        health: { circuit_breaker: { failure_threshold: 50 } },
        providers: [
          {
            name: 'claude',
            type: 'anthropic',
            base_url: anthropic.url,
            priority: 10,
            keys: [{ key: PROVIDER_KEY }],
          },
          {
            name: 'bedrock-us',
            type: 'bedrock',
            base_url: bedrock.url,
            aws_region: AWS_REGION,
            priority: 0,
            model_mapping: { [MODEL]: BEDROCK_MODEL },
          },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    anthropic.script(undefined);
    anthropic.reset();
    bedrock.reset();
  });
  afterAll(async () => {
    await relay.close();
    await anthropic.close();
    await bedrock.close();
    process.env = savedEnv;
  });

  const history: Anthropic.MessageParam[] = [
    { role: 'user', content: 'first' },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'anthropic thinks it over.', signature: 'anthropic-sig' },
        { type: 'redacted_thinking', data: 'anthropic-redacted' },
        { type: 'text', text: 'first answer' },
      ],
    },
    { role: 'user', content: 'second' },
  ];
  const params = {
    model: MODEL,
    max_tokens: 2048,
    thinking: { type: 'enabled' as const, budget_tokens: 1024 },
    messages: history,
  };

  for (const mode of ['json', 'stream'] as const) {
    it(`${mode}: keeps the Anthropic-signed blocks on their way to Bedrock`, async () => {
      // Down for every attempt: the retries move on to Bedrock.
      anthropic.script((req) => (req.path === '/v1/messages' ? { kind: 'status', status: 529 } : undefined));
      bedrock.inner.enqueue(
        mode === 'json' ? { kind: 'json', text: 'from bedrock' } : { kind: 'sse', text: 'from bedrock' },
      );
      let message: Anthropic.Message;
      let provider: string | null;
      if (mode === 'json') {
        const { data, response } = await client.messages.create(params).withResponse();
        message = data;
        provider = response.headers.get('x-cc-relay-provider');
      } else {
        const stream = client.messages.stream(params);
        message = await stream.finalMessage();
        provider = (await stream.withResponse()).response.headers.get('x-cc-relay-provider');
      }
      expect(provider).toBe('bedrock-us');
      expect(message.content.at(-1)).toMatchObject({ type: 'text', text: 'from bedrock' });
      expect(anthropic.requests.filter((r) => r.path === '/v1/messages').length).toBeGreaterThan(0);
      expect(bedrock.refusals).toEqual([]);
      expect(bedrock.accepted).toHaveLength(1);
      const sent = bedrock.accepted[0]!.body as Sent;
      expect(sent.messages).toEqual(history);
    });
  }
});
