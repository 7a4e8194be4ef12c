import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { renderAnswer, type CachedAnswer } from './cached-answer';
import { messageFromSse, sseFromMessage, type MessageJson } from './sse-message';

/**
 * Fidelity of the cache's JSON <-> SSE conversions, judged by the official SDK's own accumulator: a streaming
 * client replayed a stored JSON answer must get, from `finalMessage()`, the answer that was stored; a JSON client
 * answered from a stored stream must get what `finalMessage()` makes of that stream.
 */

/** An SDK client whose every request is answered with these bytes (the SDK's own SSE parser and accumulator). */
function clientAnswering(body: string, contentType: string): Anthropic {
  return new Anthropic({
    apiKey: 'test-key',
    maxRetries: 0,
    fetch: () => Promise.resolve(new Response(body, { headers: { 'content-type': contentType } })),
  });
}

const PARAMS = {
  model: 'claude-sonnet-4-6',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

/** What `messages.stream(...).finalMessage()` gives for these SSE bytes, as a client would serialise it. */
async function sdkFinalMessage(sse: string): Promise<Record<string, unknown>> {
  const final = await clientAnswering(sse, 'text/event-stream').messages.stream(PARAMS).finalMessage();
  // parsed_output is the SDK's own addition (structured outputs), never on the wire.
  const { parsed_output: _parsed, ...message } = JSON.parse(JSON.stringify(final)) as Record<string, unknown>;
  return message;
}

/** The same through `client.beta.messages.stream(...)` (BetaMessageStream, which knows the beta-only fields). */
async function sdkBetaFinalMessage(sse: string): Promise<Record<string, unknown>> {
  const final = await clientAnswering(sse, 'text/event-stream').beta.messages.stream(PARAMS).finalMessage();
  const { parsed_output: _parsed, ...message } = JSON.parse(JSON.stringify(final)) as Record<string, unknown>;
  return message;
}

/** The JSON body a non-streaming client gets from a stored stream (what `messages.create()` returns). */
function jsonFromStoredStream(sse: string): unknown {
  const answer: CachedAnswer = { kind: 'sse', body: Buffer.from(sse), storedAt: 0 };
  const rendered = renderAnswer(answer, false);
  if (!rendered) throw new Error('the stored stream was not rendered as JSON');
  return JSON.parse(rendered.body.toString());
}

/** The SSE a streaming client gets from a stored JSON answer. */
function sseFromStoredJson(message: MessageJson): string {
  const answer: CachedAnswer = { kind: 'json', body: Buffer.from(JSON.stringify(message)), storedAt: 0 };
  const rendered = renderAnswer(answer, true);
  if (!rendered) throw new Error('the stored JSON answer was not rendered as SSE');
  return rendered.body.toString();
}

function ev(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

const base = {
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-6',
  container: null,
  stop_details: null,
  stop_sequence: null,
};

const usage = {
  input_tokens: 2095,
  output_tokens: 503,
  cache_creation_input_tokens: 120,
  cache_read_input_tokens: 2048,
  cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 20 },
  server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
  service_tier: 'standard',
  inference_geo: 'global',
  output_tokens_details: { thinking_tokens: 12 },
};

const citation = {
  type: 'web_search_result_location',
  cited_text: 'The sky is blue.',
  url: 'https://example.com/sky',
  title: 'Sky',
  encrypted_index: 'EqgfCioIARgBIiQ3',
};

const shapes: Record<string, MessageJson> = {
  'plain text, end_turn': {
    ...base,
    content: [{ type: 'text', text: 'Hello.' }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 10, output_tokens: 3 },
  },
  'text with citations': {
    ...base,
    content: [
      { type: 'text', text: 'According to the page, ', citations: null },
      {
        type: 'text',
        text: 'the sky is blue',
        citations: [citation, { ...citation, url: 'https://b.example' }],
      },
    ],
    stop_reason: 'end_turn',
    usage,
  },
  'text with an empty citations list': {
    ...base,
    content: [{ type: 'text', text: 'x', citations: [] }],
    stop_reason: 'end_turn',
    usage,
  },
  'thinking, redacted_thinking, text': {
    ...base,
    content: [
      { type: 'thinking', thinking: 'Let me think about this.', signature: 'EuYBCkQYAiJA' },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
      { type: 'thinking', thinking: '', signature: 'sig-empty' },
      { type: 'text', text: 'Done.' },
    ],
    stop_reason: 'end_turn',
    usage,
  },
  'tool_use with empty and nested input': {
    ...base,
    content: [
      { type: 'text', text: 'Calling tools.' },
      { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} },
      {
        type: 'tool_use',
        id: 'toolu_2',
        name: 'search',
        input: {
          q: 'caf\u00e9 "quoted" \\ \u2028',
          n: 3,
          deep: { list: [1, 2.5, null, true, 'x'], empty: {} },
        },
        caller: { type: 'direct' },
      },
    ],
    stop_reason: 'tool_use',
    usage,
  },
  'server tools: web search, web fetch, code execution': {
    ...base,
    content: [
      { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'sky colour' } },
      {
        type: 'web_search_tool_result',
        tool_use_id: 'srvtoolu_1',
        content: [
          {
            type: 'web_search_result',
            url: 'https://example.com/sky',
            title: 'Sky',
            encrypted_content: 'EqgfCioIARgB',
            page_age: 'April 30, 2025',
          },
        ],
      },
      { type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_fetch', input: { url: 'https://example.com' } },
      {
        type: 'web_fetch_tool_result',
        tool_use_id: 'srvtoolu_2',
        content: {
          type: 'web_fetch_result',
          url: 'https://example.com',
          retrieved_at: '2025-08-25T10:30:00Z',
          content: {
            type: 'document',
            source: { type: 'text', media_type: 'text/plain', data: 'Example' },
            title: 'Example',
            citations: { enabled: true },
          },
        },
      },
      { type: 'server_tool_use', id: 'srvtoolu_3', name: 'code_execution', input: { code: 'print(1)' } },
      {
        type: 'code_execution_tool_result',
        tool_use_id: 'srvtoolu_3',
        content: { type: 'code_execution_result', stdout: '1\n', stderr: '', return_code: 0, content: [] },
      },
      {
        type: 'bash_code_execution_tool_result',
        tool_use_id: 'srvtoolu_4',
        content: { type: 'bash_code_execution_result', stdout: '', stderr: '', return_code: 0, content: [] },
      },
      { type: 'text', text: 'The sky is blue.', citations: [citation] },
    ],
    stop_reason: 'end_turn',
    container: { id: 'container_1', expires_at: '2026-12-03T15:00:00Z' },
    usage,
  },
  'mcp tool blocks': {
    ...base,
    content: [
      { type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'echo', server_name: 'srv', input: { a: 1 } },
      {
        type: 'mcp_tool_result',
        tool_use_id: 'mcptoolu_1',
        is_error: false,
        content: [{ type: 'text', text: 'ok' }],
      },
      { type: 'text', text: 'Echoed.' },
    ],
    stop_reason: 'end_turn',
    usage,
  },
  'context_management, diagnostics and unknown fields and blocks': {
    ...base,
    context_management: { applied_edits: [{ type: 'clear_tool_uses_20250919', cleared_tool_uses: 2 }] },
    diagnostics: null,
    future_top_level: { a: [1, 2] },
    content: [
      { type: 'text', text: 'a', future_text_field: 7 },
      { type: 'hologram', payload: { x: 1 }, text: 'not a text block' },
    ],
    stop_reason: 'end_turn',
    usage: { ...usage, speed: 'fast', future_usage_field: 3 },
  },
  'beta: a server-side fallback block and a compaction block': {
    ...base,
    model: 'claude-haiku-4-5-20251001',
    content: [
      { type: 'compaction', content: 'Summary so far.', encrypted_content: 'Eo8B' },
      {
        type: 'fallback',
        from: { model: 'claude-sonnet-4-6' },
        to: { model: 'claude-haiku-4-5-20251001' },
        trigger: { type: 'refusal' },
      },
      { type: 'text', text: 'from the fallback' },
    ],
    stop_reason: 'end_turn',
    usage,
  },
  stop_sequence: {
    ...base,
    content: [{ type: 'text', text: 'one two' }],
    stop_reason: 'stop_sequence',
    stop_sequence: 'THREE',
    usage,
  },
  max_tokens: {
    ...base,
    content: [{ type: 'text', text: 'trunc' }],
    stop_reason: 'max_tokens',
    usage,
  },
  pause_turn: {
    ...base,
    content: [{ type: 'server_tool_use', id: 'srvtoolu_9', name: 'web_search', input: { query: 'q' } }],
    stop_reason: 'pause_turn',
    usage,
  },
  'refusal with stop_details': {
    ...base,
    content: [{ type: 'text', text: '' }],
    stop_reason: 'refusal',
    stop_details: { type: 'refusal', category: 'cyber', explanation: 'no' },
    usage,
  },
  model_context_window_exceeded: {
    ...base,
    content: [{ type: 'text', text: 'cut' }],
    stop_reason: 'model_context_window_exceeded',
    usage,
  },
  'an older API version: no container, stop_details or cache fields': {
    id: 'msg_old',
    type: 'message',
    role: 'assistant',
    model: 'claude-3-5-haiku',
    content: [{ type: 'text', text: 'old' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1 },
  },
  'null usage counters': {
    ...base,
    content: [{ type: 'text', text: 'n' }],
    stop_reason: 'end_turn',
    usage: {
      input_tokens: 5,
      output_tokens: 1,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      cache_creation: null,
      server_tool_use: null,
      service_tier: null,
    },
  },
};

describe('stored JSON answer replayed to a streaming client (sseFromMessage)', () => {
  for (const [name, message] of Object.entries(shapes)) {
    it(`the SDK's finalMessage() equals the stored answer: ${name}`, async () => {
      expect(await sdkFinalMessage(sseFromStoredJson(message))).toStrictEqual(message);
    });
  }

  it("BetaMessageStream's finalMessage() equals the stored answer too, for every shape", async () => {
    for (const message of Object.values(shapes))
      expect(await sdkBetaFinalMessage(sseFromStoredJson(message))).toStrictEqual(message);
  });

  it('the relay folds its own replay back into the stored answer', () => {
    for (const message of Object.values(shapes))
      expect(messageFromSse(sseFromMessage(message))).toEqual(message);
  });
});

/** Streams as the API sends them, split into several deltas. */
const streams: Record<string, string> = {
  'text, thinking, tool_use, citations, as the API splits them': [
    ev('message_start', {
      message: {
        ...base,
        content: [],
        stop_reason: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    ev('ping', {}),
    ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm, ' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'yes.' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { type: 'text', text: '', citations: null } }),
    ev('content_block_delta', { index: 1, delta: { type: 'citations_delta', citation } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'The sky ' } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'is blue.' } }),
    ev('content_block_stop', { index: 1 }),
    ev('content_block_start', {
      index: 2,
      content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} },
    }),
    ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '' } }),
    ev('content_block_delta', {
      index: 2,
      delta: { type: 'input_json_delta', partial_json: '{"city": "Se' },
    }),
    ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: 'oul"}' } }),
    ev('content_block_stop', { index: 2 }),
    ev('content_block_start', {
      index: 3,
      content_block: { type: 'tool_use', id: 't2', name: 'g', input: {} },
    }),
    ev('content_block_delta', { index: 3, delta: { type: 'input_json_delta', partial_json: '' } }),
    ev('content_block_stop', { index: 3 }),
    ev('content_block_start', { index: 4, content_block: { type: 'redacted_thinking', data: 'EmwK' } }),
    ev('content_block_stop', { index: 4 }),
    ev('message_delta', {
      delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
      usage: {
        input_tokens: 2095,
        cache_creation_input_tokens: 120,
        cache_read_input_tokens: 2048,
        output_tokens: 503,
        server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
      },
    }),
    ev('message_stop', {}),
  ].join(''),
  'message_delta with null usage counters (omitted when they do not apply)': [
    ev('message_start', {
      message: { ...base, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hi' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null },
      usage: {
        input_tokens: null,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
        output_tokens: 7,
        server_tool_use: null,
        output_tokens_details: null,
      },
    }),
    ev('message_stop', {}),
  ].join(''),
  'a container in message_start, none repeated in message_delta': [
    ev('message_start', {
      message: {
        ...base,
        container: { id: 'container_1', expires_at: '2026-12-03T15:00:00Z' },
        content: [],
        stop_reason: null,
        usage: { input_tokens: 3, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hi' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null },
      usage: { output_tokens: 2 },
    }),
    ev('message_stop', {}),
  ].join(''),
  'stop_sequence and refusal stop_details': [
    ev('message_start', {
      message: { ...base, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'one two' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'stop_sequence', stop_sequence: 'THREE', stop_details: null },
      usage: { output_tokens: 2 },
    }),
    ev('message_stop', {}),
  ].join(''),
  'one text_delta longer than the scanner line bound': [
    ev('message_start', {
      message: { ...base, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'head ' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'x'.repeat(5 * 1024 * 1024) } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: ' tail' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null },
      usage: { output_tokens: 2 },
    }),
    ev('message_stop', {}),
  ].join(''),
  'an unknown block type and unknown event': [
    ev('message_start', {
      message: {
        ...base,
        future: 1,
        content: [],
        stop_reason: null,
        usage: { input_tokens: 3, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'hologram', payload: { x: 1 } } }),
    ev('content_block_stop', { index: 0 }),
    ev('future_event', { whatever: true }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null },
      usage: { output_tokens: 2 },
    }),
    ev('message_stop', {}),
  ].join(''),
};

describe('stored stream answered to a JSON client (messageFromSse)', () => {
  for (const [name, sse] of Object.entries(streams)) {
    it(`equals the SDK's finalMessage() of the stored stream: ${name}`, async () => {
      expect(jsonFromStoredStream(sse)).toStrictEqual(await sdkFinalMessage(sse));
    });
  }
});

/** Beta streams: fields BetaMessageStream reads from outside message_delta's delta and usage. */
const betaStreams: Record<string, string> = {
  'context_management and input_transformations on message_delta': [
    ev('message_start', {
      message: {
        ...base,
        context_management: null,
        content: [],
        stop_reason: null,
        usage: { input_tokens: 3, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'ok' } }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null },
      context_management: {
        applied_edits: [
          { type: 'clear_tool_uses_20250919', cleared_tool_uses: 2, cleared_input_tokens: 900 },
        ],
      },
      input_transformations: [{ type: 'thinking_dropped', message_index: 1, block_index: 0 }],
      usage: { output_tokens: 2, iterations: null },
    }),
    ev('message_stop', {}),
  ].join(''),
  'a compaction block, its value in one compaction_delta': [
    ev('message_start', {
      message: { ...base, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } },
    }),
    ev('content_block_start', {
      index: 0,
      content_block: { type: 'compaction', content: null, encrypted_content: null },
    }),
    ev('content_block_delta', {
      index: 0,
      delta: {
        type: 'compaction_delta',
        content: 'Summary of the conversation so far.',
        encrypted_content: 'Eo8B',
      },
    }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'continuing' } }),
    ev('content_block_stop', { index: 1 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null },
      usage: { output_tokens: 2 },
    }),
    ev('message_stop', {}),
  ].join(''),
  'a server-side model fallback block relabels the model': [
    ev('message_start', {
      message: { ...base, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } },
    }),
    ev('content_block_start', {
      index: 0,
      content_block: {
        type: 'fallback',
        from: { model: 'claude-sonnet-4-6' },
        to: { model: 'claude-haiku-4-5-20251001' },
        trigger: { type: 'refusal' },
      },
    }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'from the fallback' } }),
    ev('content_block_stop', { index: 1 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null },
      usage: { output_tokens: 2 },
    }),
    ev('message_stop', {}),
  ].join(''),
};

describe('stored beta stream answered to a JSON client (messageFromSse)', () => {
  for (const [name, sse] of Object.entries(betaStreams)) {
    it(`equals BetaMessageStream's finalMessage() of the stored stream: ${name}`, async () => {
      expect(jsonFromStoredStream(sse)).toStrictEqual(await sdkBetaFinalMessage(sse));
    });
  }
});
