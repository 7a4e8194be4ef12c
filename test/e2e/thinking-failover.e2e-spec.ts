import Anthropic from '@anthropic-ai/sdk';
import type {
  BetaContentBlock,
  BetaContentBlockParam,
  BetaMessage,
  BetaMessageParam,
} from '@anthropic-ai/sdk/resources/beta/messages/messages';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream, type RecordedRequest } from '../fakes/fake-upstream';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Issue 18.10: Claude Code turns thinking on, so its history carries thinking blocks signed by whichever vendor
// answered. A failover from Anthropic to z.ai (and back) must not send either vendor the other's signatures.

const MODEL = 'claude-sonnet-4-6';
const DOWN = { kind: 'status', status: 529 } as const;

/** The thinking blocks of the assistant turns a provider received, as [type, signature or data]. */
function receivedThinking(req: RecordedRequest): string[][] {
  const messages = (req.body as { messages: { role: string; content: unknown }[] }).messages;
  const out: string[][] = [];
  for (const m of messages) {
    if (m.role !== 'assistant' || !Array.isArray(m.content)) continue;
    for (const b of m.content as { type: string; signature?: string; data?: string }[]) {
      if (b.type === 'thinking') out.push(['thinking', b.signature ?? '']);
      if (b.type === 'redacted_thinking') out.push(['redacted_thinking', b.data ?? '']);
    }
  }
  return out;
}

function signatures(message: BetaMessage): string[][] {
  return message.content.flatMap((b: BetaContentBlock) =>
    b.type === 'thinking'
      ? [['thinking', b.signature]]
      : b.type === 'redacted_thinking'
        ? [['redacted_thinking', b.data]]
        : [],
  );
}

describe('thinking conversations across a failover between Anthropic and z.ai', () => {
  const anthropic = new FakeUpstream({ thinkingSigner: 'anthropic' });
  const zai = new FakeUpstream({ thinkingSigner: 'zai' });
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    await anthropic.start();
    await zai.start();
    relay = await startRelay(
      rawConfig(anthropic.url, {
        routing: {
          strategy: 'failover',
          debug: true,
          stall_timeout_ms: 500,
          retry: { max_attempts: 3, budget_ratio: 10 },
        },
        health: { circuit_breaker: { failure_threshold: 50 } },
        providers: [
          {
            name: 'claude',
            type: 'anthropic',
            base_url: anthropic.url,
            priority: 10,
            keys: [{ key: PROVIDER_KEY }],
          },
          { name: 'glm', type: 'zai', base_url: zai.url, priority: 0, keys: [{ key: 'zai-key' }] },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterEach(() => {
    anthropic.reset();
    zai.reset();
  });
  afterAll(async () => {
    await relay.close();
    await anthropic.close();
    await zai.close();
  });

  for (const mode of ['json', 'stream'] as const) {
    /** One turn of the conversation: the answer, which provider gave it, and the history grown by it. */
    async function turn(history: BetaMessageParam[], question: string) {
      const messages: BetaMessageParam[] = [...history, { role: 'user', content: question }];
      const params = {
        model: MODEL,
        max_tokens: 2048,
        thinking: { type: 'enabled' as const, budget_tokens: 1024 },
        messages,
      };
      let message: BetaMessage;
      let provider: string | null;
      if (mode === 'json') {
        const { data, response } = await client.beta.messages.create(params).withResponse();
        message = data;
        provider = response.headers.get('x-cc-relay-provider');
      } else {
        const stream = client.beta.messages.stream(params);
        message = await stream.finalMessage();
        const { response } = await stream.withResponse();
        provider = response.headers.get('x-cc-relay-provider');
      }
      // Claude Code sends the answer's blocks back as they came.
      const next: BetaMessageParam[] = [
        ...messages,
        { role: 'assistant', content: message.content as BetaContentBlockParam[] },
      ];
      return { message, provider, history: next };
    }

    it(`${mode}: Anthropic, then z.ai while Anthropic is down, then Anthropic and z.ai again`, async () => {
      // 1. Anthropic answers; its signatures reach the client untouched.
      const t1 = await turn([], 'first');
      expect(t1.provider).toBe('claude');
      expect(signatures(t1.message)).toEqual([
        ['thinking', 'anthropic-sig'],
        ['redacted_thinking', 'anthropic-redacted'],
      ]);

      // 2. Anthropic is down: z.ai answers, without Anthropic's blocks, and its own come back tagged.
      anthropic.script(() => DOWN);
      const t2 = await turn(t1.history, 'second');
      expect(t2.provider).toBe('glm');
      expect(receivedThinking(zai.requests[0]!)).toEqual([]);
      expect(signatures(t2.message)).toEqual([
        ['thinking', 'ccr1.zai.zai-sig'],
        ['redacted_thinking', 'ccr1.zai.zai-redacted'],
      ]);
      // The rest of Anthropic's turn stayed in the history.
      const zaiHistory = (zai.requests[0]!.body as { messages: { content: unknown }[] }).messages;
      expect(zaiHistory[1]!.content).toEqual([{ type: 'text', text: expect.any(String) as string }]);

      // 3. Anthropic is back: it sees its own blocks as it signed them, none of z.ai's.
      anthropic.script(undefined);
      anthropic.reset();
      const t3 = await turn(t2.history, 'third');
      expect(t3.provider).toBe('claude');
      expect(receivedThinking(anthropic.requests[0]!)).toEqual([
        ['thinking', 'anthropic-sig'],
        ['redacted_thinking', 'anthropic-redacted'],
      ]);

      // 4. Down again: z.ai gets its own blocks back untagged, and only those.
      anthropic.script(() => DOWN);
      zai.reset();
      const t4 = await turn(t3.history, 'fourth');
      expect(t4.provider).toBe('glm');
      expect(receivedThinking(zai.requests[0]!)).toEqual([
        ['thinking', 'zai-sig'],
        ['redacted_thinking', 'zai-redacted'],
      ]);
    });
  }

  it('goes without thinking for one request whose tool-use loop lost z.ai’s thinking block', async () => {
    const params = {
      model: MODEL,
      max_tokens: 2048,
      thinking: { type: 'enabled' as const, budget_tokens: 1024 },
      messages: [
        { role: 'user' as const, content: 'read the file' },
        {
          role: 'assistant' as const,
          content: [
            { type: 'thinking' as const, thinking: 'I should read it.', signature: 'ccr1.zai.zai-sig' },
            { type: 'tool_use' as const, id: 'toolu_1', name: 'Read', input: { path: 'a' } },
          ],
        },
        {
          role: 'user' as const,
          content: [{ type: 'tool_result' as const, tool_use_id: 'toolu_1', content: 'contents' }],
        },
      ],
    };
    const message = await client.beta.messages.stream(params).finalMessage();
    expect(message.content.at(-1)).toMatchObject({ type: 'text' });
    const sent = anthropic.requests[0]!.body as { thinking?: unknown; messages: { content: unknown }[] };
    expect(sent.thinking).toBeUndefined();
    expect(sent.messages[1]!.content).toEqual([params.messages[1]!.content[1]]);
  });

  // The signature tagger sits between the upstream's body and the stream relay: a failure of the upstream after
  // the first bytes must still end the client's stream with an error, not hang it or end it cleanly.
  for (const fault of [
    { kind: 'cut', afterEvents: 5 },
    { kind: 'stall', afterEvents: 5 },
  ] as const) {
    it(`ends a z.ai stream that fails mid-answer (${fault.kind}) with an error event`, async () => {
      anthropic.script(() => DOWN);
      zai.enqueue(fault);
      const stream = client.beta.messages.stream({
        model: MODEL,
        max_tokens: 2048,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'hi' }],
      });
      const events: string[] = [];
      stream.on('streamEvent', (e) => events.push(e.type));
      await expect(stream.finalMessage()).rejects.toThrow(Anthropic.APIError);
      expect(events).toContain('content_block_delta');
    });
  }

  it('answers a conversation without thinking blocks byte for byte, on either provider', async () => {
    const body = JSON.stringify({
      model: MODEL,
      max_tokens: 16,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'text', text: 'hello' }] },
        { role: 'user', content: 'again' },
      ],
    });
    anthropic.script(() => DOWN);
    const res = await fetch(`${relay.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body,
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(zai.requests[0]!.rawBody.toString()).toBe(body);
    expect(anthropic.requests[0]!.rawBody.toString()).toBe(body);
  });
});

describe('thinking affinity with a load-spreading strategy', () => {
  const anthropic = new FakeUpstream({ thinkingSigner: 'anthropic' });
  const zai = new FakeUpstream({ thinkingSigner: 'zai' });
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    await anthropic.start();
    await zai.start();
    relay = await startRelay(
      rawConfig(anthropic.url, {
        routing: { strategy: 'round_robin', debug: true },
        providers: [
          { name: 'claude', type: 'anthropic', base_url: anthropic.url, keys: [{ key: PROVIDER_KEY }] },
          { name: 'glm', type: 'zai', base_url: zai.url, keys: [{ key: 'zai-key' }] },
        ],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await relay.close();
    await anthropic.close();
    await zai.close();
  });

  it('keeps a conversation with the vendor that signed its thinking while round robin alternates', async () => {
    let history: BetaMessageParam[] = [];
    const providers: (string | null)[] = [];
    for (let turn = 0; turn < 4; turn++) {
      const messages: BetaMessageParam[] = [...history, { role: 'user', content: `turn ${turn}` }];
      const { data, response } = await client.beta.messages
        .create({
          model: MODEL,
          max_tokens: 2048,
          thinking: { type: 'enabled', budget_tokens: 1024 },
          messages,
        })
        .withResponse();
      providers.push(response.headers.get('x-cc-relay-provider'));
      history = [...messages, { role: 'assistant', content: data.content as BetaContentBlockParam[] }];
    }
    expect(new Set(providers).size).toBe(1);
    // Every turn after the first carried the signer's own blocks, never stripped.
    const signer = providers[0] === 'claude' ? anthropic : zai;
    expect(signer.requests.slice(1).map((r) => receivedThinking(r).length)).toEqual([2, 4, 6]);
  });
});
