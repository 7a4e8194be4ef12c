import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  bodyForProvider,
  lastSigner,
  withSignerAffinity,
  OMITTED_THINKING_TEXT,
  signatureTagOf,
  SseSignatureTagger,
  stripForeignThinking,
  tagEventData,
  tagJsonAnswer,
} from './thinking-signatures';

const anthropicThinking = { type: 'thinking', thinking: 'hmm', signature: 'EqAnthropicSig==' };
const anthropicRedacted = { type: 'redacted_thinking', data: 'EmAnthropicData==' };
const zaiThinking = { type: 'thinking', thinking: 'zai hmm', signature: 'ccr1.zai.zai-sig-1' };
const minimaxThinking = { type: 'thinking', thinking: 'mm', signature: 'ccr1.minimax.mm-sig' };
const text = { type: 'text', text: 'Hi' };
const toolUse = { type: 'tool_use', id: 'toolu_1', name: 'Read', input: {} };

function conversation(...assistant: unknown[][]): Record<string, unknown> {
  const messages: unknown[] = [];
  for (const content of assistant) {
    messages.push({ role: 'user', content: 'q' });
    messages.push({ role: 'assistant', content });
  }
  messages.push({ role: 'user', content: 'next' });
  return { model: 'claude-x', thinking: { type: 'enabled', budget_tokens: 1024 }, messages };
}

function assistantContents(body: unknown): unknown[][] {
  return (body as { messages: { role: string; content: unknown[] }[] }).messages
    .filter((m) => m.role === 'assistant')
    .map((m) => m.content);
}

describe('signatureTagOf', () => {
  it('tags every vendor but the Claude platform', () => {
    expect(signatureTagOf('anthropic')).toBeUndefined();
    expect(signatureTagOf('zai')).toBe('ccr1.zai.');
    expect(signatureTagOf('minimax')).toBe('ccr1.minimax.');
    expect(signatureTagOf('ollama')).toBe('ccr1.ollama.');
  });
});

describe('bodyForProvider', () => {
  it('forwards a body without thinking blocks byte for byte (same object)', () => {
    const raw = Buffer.from('{"model":"m",  "messages":[{"role":"user","content":"hi"}]}');
    expect(bodyForProvider(raw, 'zai')).toBe(raw);
    expect(bodyForProvider(raw, 'anthropic')).toBe(raw);
  });

  it('forwards Anthropic-signed history to Anthropic byte for byte', () => {
    const raw = Buffer.from(JSON.stringify(conversation([anthropicThinking, text])));
    expect(bodyForProvider(raw, 'anthropic')).toBe(raw);
  });

  it('keeps the raw body when the tag prefix appears only in text', () => {
    const raw = Buffer.from(JSON.stringify(conversation([{ type: 'text', text: 'ccr1.zai.x' }])));
    expect(bodyForProvider(raw, 'anthropic')).toBe(raw);
  });

  it('drops Anthropic thinking for z.ai and keeps the rest of the turn', () => {
    const raw = Buffer.from(JSON.stringify(conversation([anthropicThinking, anthropicRedacted, text])));
    const out = JSON.parse(String(bodyForProvider(raw, 'zai'))) as unknown;
    expect(assistantContents(out)).toEqual([[text]]);
  });

  it('untags the provider’s own blocks and drops the other vendors’', () => {
    const body = conversation([anthropicThinking, text], [zaiThinking, text], [minimaxThinking, text]);
    const toZai = JSON.parse(String(bodyForProvider(JSON.stringify(body), 'zai'))) as unknown;
    expect(assistantContents(toZai)).toEqual([
      [text],
      [{ ...zaiThinking, signature: 'zai-sig-1' }, text],
      [text],
    ]);
    const toAnthropic = JSON.parse(String(bodyForProvider(JSON.stringify(body), 'anthropic'))) as unknown;
    expect(assistantContents(toAnthropic)).toEqual([[anthropicThinking, text], [text], [text]]);
  });

  it('untags a redacted_thinking block tagged for the provider', () => {
    const body = conversation([{ type: 'redacted_thinking', data: 'ccr1.zai.opaque' }, text]);
    const out = JSON.parse(String(bodyForProvider(JSON.stringify(body), 'zai'))) as unknown;
    expect(assistantContents(out)).toEqual([[{ type: 'redacted_thinking', data: 'opaque' }, text]]);
  });

  it('keeps an assistant turn that held only thinking as a minimal text turn', () => {
    const body = conversation([zaiThinking]);
    const out = JSON.parse(String(bodyForProvider(JSON.stringify(body), 'anthropic'))) as unknown;
    expect(assistantContents(out)).toEqual([[{ type: 'text', text: OMITTED_THINKING_TEXT }]]);
  });

  it('leaves thinking on outside a tool-use loop', () => {
    const body = conversation([zaiThinking, text]);
    stripForeignThinking(body, 'anthropic');
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
  });

  it('turns thinking off for one request whose tool-use loop lost its thinking block', () => {
    const body: Record<string, unknown> = {
      model: 'claude-x',
      thinking: { type: 'enabled', budget_tokens: 1024 },
      context_management: { edits: [{ type: 'clear_thinking_20251015' }] },
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [zaiThinking, toolUse] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] },
      ],
    };
    expect(stripForeignThinking(body, 'anthropic')).toBe(true);
    expect(body.thinking).toBeUndefined();
    expect(body.context_management).toBeUndefined();
    expect(assistantContents(body)).toEqual([[toolUse]]);
  });

  it('keeps other context edits when it turns thinking off', () => {
    const body: Record<string, unknown> = {
      thinking: { type: 'enabled', budget_tokens: 1024 },
      context_management: {
        edits: [{ type: 'clear_thinking_20251015' }, { type: 'clear_tool_uses_20250919' }],
      },
      messages: [
        { role: 'assistant', content: [anthropicThinking, toolUse] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] },
      ],
    };
    stripForeignThinking(body, 'zai');
    expect(body.context_management).toEqual({ edits: [{ type: 'clear_tool_uses_20250919' }] });
  });

  it('maps the model and strips in the same body (string input)', () => {
    const body = JSON.stringify({ ...conversation([anthropicThinking, text]), model: 'glm-4.6' });
    const out = JSON.parse(String(bodyForProvider(body, 'zai'))) as { model: string };
    expect(out.model).toBe('glm-4.6');
    expect(assistantContents(out)).toEqual([[text]]);
  });

  it('leaves a body it cannot parse to the upstream', () => {
    const raw = Buffer.from('{"signature": broken');
    expect(bodyForProvider(raw, 'zai')).toBe(raw);
  });
});

describe('tagJsonAnswer', () => {
  it('tags thinking signatures and redacted data of a Message', () => {
    const body = Buffer.from(
      JSON.stringify({
        type: 'message',
        content: [
          { type: 'thinking', thinking: 't', signature: 's1' },
          { type: 'redacted_thinking', data: 'd1' },
          text,
        ],
      }),
    );
    const out = JSON.parse(tagJsonAnswer(body, 'ccr1.zai.').toString()) as { content: unknown[] };
    expect(out.content).toEqual([
      { type: 'thinking', thinking: 't', signature: 'ccr1.zai.s1' },
      { type: 'redacted_thinking', data: 'ccr1.zai.d1' },
      text,
    ]);
  });

  it('returns the same bytes when there is nothing to tag', () => {
    const body = Buffer.from(JSON.stringify({ type: 'message', content: [text] }));
    expect(tagJsonAnswer(body, 'ccr1.zai.')).toBe(body);
  });
});

describe('a vendor that does not sign (Ollama)', () => {
  it('gets its unsigned thinking tagged, kept for itself and dropped for Anthropic', () => {
    const answer = Buffer.from(
      JSON.stringify({ type: 'message', content: [{ type: 'thinking', thinking: 'local' }, text] }),
    );
    const tagged = JSON.parse(tagJsonAnswer(answer, 'ccr1.ollama.').toString()) as { content: unknown[] };
    expect(tagged.content[0]).toEqual({ type: 'thinking', thinking: 'local', signature: 'ccr1.ollama.' });
    const body = JSON.stringify(conversation(tagged.content));
    expect(assistantContents(JSON.parse(String(bodyForProvider(body, 'anthropic'))))).toEqual([[text]]);
    expect(assistantContents(JSON.parse(String(bodyForProvider(body, 'ollama'))))).toEqual([
      [{ type: 'thinking', thinking: 'local', signature: '' }, text],
    ]);
  });

  it('drops an untagged unsigned block everywhere', () => {
    const body = conversation([{ type: 'thinking', thinking: 'x' }, text]);
    expect(stripForeignThinking(body, 'anthropic')).toBe(true);
    expect(assistantContents(body)).toEqual([[text]]);
  });
});

describe('tagEventData', () => {
  it('tags signature_delta and thinking block starts only', () => {
    expect(
      tagEventData(
        '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"s"}}',
        'ccr1.zai.',
      ),
    ).toBe(
      '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"ccr1.zai.s"}}',
    );
    expect(
      tagEventData(
        '{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"d"}}',
        'ccr1.zai.',
      ),
    ).toContain('"data":"ccr1.zai.d"');
    expect(
      tagEventData(
        '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
        'ccr1.zai.',
      ),
    ).toBe(
      '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":"ccr1.zai."}}',
    );
    expect(
      tagEventData(
        '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}',
        'ccr1.zai.',
      ),
    ).toBeUndefined();
    expect(
      tagEventData(
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\\"signature\\""}}',
        'ccr1.zai.',
      ),
    ).toBeUndefined();
  });
});

async function through(chunks: string[], tag = 'ccr1.zai.'): Promise<{ out: string }> {
  const pieces: string[] = [];
  const tagger = Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new SseSignatureTagger(tag));
  for await (const piece of tagger) pieces.push(String(piece));
  return { out: pieces.join('') };
}

describe('SseSignatureTagger', () => {
  const sigEvent =
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"zai-sig-1"}}\n\n';
  const textEvent =
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"hi"}}\n\n';

  it('passes events without signatures unchanged', async () => {
    const { out } = await through([textEvent, textEvent.slice(0, 30), textEvent.slice(30)]);
    expect(out).toBe(textEvent + textEvent);
  });

  it('rewrites a signature_delta split across chunks', async () => {
    const whole = textEvent + sigEvent + textEvent;
    const cut = textEvent.length + 40;
    const { out } = await through([whole.slice(0, cut), whole.slice(cut)]);
    expect(out).toBe(textEvent + sigEvent.replace('zai-sig-1', 'ccr1.zai.zai-sig-1') + textEvent);
  });

  it('handles CRLF line ends and a final line without its end', async () => {
    const crlf = sigEvent.replace(/\n/g, '\r\n');
    const { out } = await through([crlf, 'data: {"type":"ping"}']);
    expect(out).toBe(crlf.replace('zai-sig-1', 'ccr1.zai.zai-sig-1') + 'data: {"type":"ping"}');
  });
});

describe('lastSigner', () => {
  it('names the vendor of the latest signature, anthropic when untagged', () => {
    expect(lastSigner(JSON.stringify(conversation([text])))).toBeUndefined();
    expect(lastSigner(Buffer.from(JSON.stringify(conversation([zaiThinking], [anthropicThinking]))))).toBe(
      'anthropic',
    );
    expect(lastSigner(Buffer.from(JSON.stringify(conversation([anthropicThinking], [zaiThinking]))))).toBe(
      'zai',
    );
    expect(lastSigner('{"messages":[{"content":[{"signature" : "ccr1.minimax.x"}]}]}')).toBe('minimax');
    expect(lastSigner('{"signature":""}')).toBeUndefined();
  });
});

describe('withSignerAffinity', () => {
  const types: Record<string, string> = { a1: 'anthropic', a2: 'anthropic', z: 'zai' };
  const typeOf = (p: string) => types[p];
  const plan = [
    { provider: 'a1', fallbackIndex: 0 },
    { provider: 'z', fallbackIndex: 0 },
    { provider: 'a2', fallbackIndex: 0 },
    { provider: 'a1', fallbackIndex: 1 },
    { provider: 'z', fallbackIndex: 1 },
  ];
  const zaiSigned = JSON.stringify(conversation([zaiThinking, text]));

  it('puts the signer’s providers first within each model, in the strategy’s order', () => {
    expect(withSignerAffinity(plan, zaiSigned, 'round_robin', typeOf).map((s) => s.provider)).toEqual([
      'z',
      'a1',
      'a2',
      'z',
      'a1',
    ]);
  });

  it('leaves failover and model routes in their order, and plans without thinking alone', () => {
    expect(withSignerAffinity(plan, zaiSigned, 'failover', typeOf)).toBe(plan);
    expect(withSignerAffinity(plan, zaiSigned, 'model_based', typeOf)).toBe(plan);
    expect(withSignerAffinity(plan, JSON.stringify(conversation([text])), 'shuffle', typeOf)).toBe(plan);
  });
});
