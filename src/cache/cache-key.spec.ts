import { describe, expect, it } from 'vitest';
import {
  betaSet,
  cacheKey,
  CacheKeyInput,
  isCacheableCountTokensResponse,
  isCacheableRequest,
  isCacheableResponse,
} from './cache-key';

const baseBody = {
  model: 'claude-alias',
  max_tokens: 256,
  system: 'You are terse.',
  messages: [
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: [{ type: 'text', text: '4' }] },
    { role: 'user', content: 'And 3+3?' },
  ],
};

function input(overrides: Partial<CacheKeyInput> = {}): CacheKeyInput {
  return {
    path: 'messages',
    body: baseBody,
    resolvedModel: 'claude-sonnet-4-5',
    anthropicVersion: '2023-06-01',
    anthropicBeta: 'interleaved-thinking-2025-05-14',
    clientScope: 'scope-a',
    ...overrides,
  };
}

function keyOfBody(body: Record<string, unknown>): string {
  return cacheKey(input({ body }));
}

describe('cacheKey', () => {
  it('is a versioned SHA-256 hex digest tagged by path', () => {
    expect(cacheKey(input())).toMatch(/^v1:msg:[0-9a-f]{64}$/);
    expect(cacheKey(input({ path: 'count_tokens' }))).toMatch(/^v1:ct:[0-9a-f]{64}$/);
  });

  it('is stable for the same request', () => {
    expect(cacheKey(input())).toBe(cacheKey(input({ body: structuredClone(baseBody) })));
  });

  it('does not depend on object key order at any depth', () => {
    const reordered = {
      messages: [
        { content: 'What is 2+2?', role: 'user' },
        { content: [{ text: '4', type: 'text' }], role: 'assistant' },
        { content: 'And 3+3?', role: 'user' },
      ],
      system: 'You are terse.',
      max_tokens: 256,
      model: 'claude-alias',
    };
    expect(keyOfBody(reordered)).toBe(cacheKey(input()));
  });

  it('keeps array order: swapped messages or tools are a different request', () => {
    const swapped = {
      ...baseBody,
      messages: [baseBody.messages[2], baseBody.messages[1], baseBody.messages[0]],
    };
    expect(keyOfBody(swapped)).not.toBe(cacheKey(input()));
    const toolA = { name: 'a', input_schema: { type: 'object' } };
    const toolB = { name: 'b', input_schema: { type: 'object' } };
    expect(keyOfBody({ ...baseBody, tools: [toolA, toolB] })).not.toBe(
      keyOfBody({ ...baseBody, tools: [toolB, toolA] }),
    );
  });

  it('treats string content and a single text block as the same prompt (messages, system, tool_result)', () => {
    const asBlocks = {
      ...baseBody,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'What is 2+2?' }] },
        { role: 'assistant', content: '4' },
        { role: 'user', content: [{ type: 'text', text: 'And 3+3?' }] },
      ],
    };
    expect(keyOfBody(asBlocks)).toBe(cacheKey(input()));

    const toolResult = (content: unknown) => ({
      ...baseBody,
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content }] }],
    });
    expect(keyOfBody(toolResult('42'))).toBe(keyOfBody(toolResult([{ type: 'text', text: '42' }])));
    expect(keyOfBody(toolResult('42'))).not.toBe(keyOfBody(toolResult('43')));
  });

  it('changes with every field that decides the answer', () => {
    const base = cacheKey(input());
    const variants: Record<string, Record<string, unknown>> = {
      system: { system: 'You are verbose.' },
      messages: { messages: [{ role: 'user', content: 'What is 2+3?' }] },
      tools: { tools: [{ name: 'calc', input_schema: { type: 'object' } }] },
      tool_choice: { tool_choice: { type: 'any' } },
      max_tokens: { max_tokens: 257 },
      stop_sequences: { stop_sequences: ['\n\nHuman:'] },
      temperature: { temperature: 0.5 },
      top_p: { top_p: 0.99 },
      top_k: { top_k: 5 },
      thinking: { thinking: { type: 'enabled', budget_tokens: 1024 } },
      output_config: { output_config: { effort: 'low' } },
      speed: { speed: 'fast' },
      service_tier: { service_tier: 'standard_only' },
      container: { container: 'container_123' },
      inference_geo: { inference_geo: 'us' },
      unknown_future_field: { some_new_knob: true },
    };
    const seen = new Set([base]);
    for (const [field, patch] of Object.entries(variants)) {
      const key = keyOfBody({ ...baseBody, ...patch });
      expect(key, field).not.toBe(base);
      seen.add(key);
    }
    expect(seen.size).toBe(Object.keys(variants).length + 1);

    expect(cacheKey(input({ resolvedModel: 'claude-opus-4-1' }))).not.toBe(base);
    expect(cacheKey(input({ anthropicVersion: '2026-10-21' }))).not.toBe(base);
    expect(cacheKey(input({ anthropicVersion: undefined }))).not.toBe(base);
    expect(cacheKey(input({ anthropicBeta: 'context-management-2025-06-27' }))).not.toBe(base);
    expect(cacheKey(input({ anthropicBeta: undefined }))).not.toBe(base);
    expect(cacheKey(input({ path: 'count_tokens' }))).not.toBe(base);
  });

  it('ignores metadata, stream, the client-side model alias and diagnostics', () => {
    const base = cacheKey(input());
    expect(keyOfBody({ ...baseBody, metadata: { user_id: 'user_abc_account_x_session_1' } })).toBe(base);
    expect(keyOfBody({ ...baseBody, metadata: { user_id: 'user_abc_account_x_session_2' } })).toBe(base);
    expect(keyOfBody({ ...baseBody, stream: true })).toBe(base);
    expect(keyOfBody({ ...baseBody, stream: false })).toBe(base);
    expect(keyOfBody({ ...baseBody, model: 'another-alias-for-the-same-target' })).toBe(base);
    expect(keyOfBody({ ...baseBody, diagnostics: { trace: true } })).toBe(base);
    expect(keyOfBody({ ...baseBody, temperature: undefined })).toBe(base);
  });

  it('ignores cache_control markers at the top level, on system and message blocks, tool_results and tools', () => {
    const tool = { name: 'calc', description: 'adds', input_schema: { type: 'object' } };
    const plain = keyOfBody({
      ...baseBody,
      system: [{ type: 'text', text: 'You are terse.' }],
      tools: [tool],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] },
      ],
    });
    const marked = keyOfBody({
      ...baseBody,
      cache_control: { type: 'ephemeral' },
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      tools: [{ ...tool, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't1',
              cache_control: { type: 'ephemeral' },
              content: [{ type: 'text', text: 'ok', cache_control: { type: 'ephemeral' } }],
            },
          ],
        },
      ],
    });
    expect(marked).toBe(plain);
  });

  it('keeps a property named cache_control inside a tool input_schema (it is content, not a hint)', () => {
    const schema = (props: Record<string, unknown>) => ({
      ...baseBody,
      tools: [{ name: 't', input_schema: { type: 'object', properties: props } }],
    });
    expect(keyOfBody(schema({ cache_control: { type: 'string' } }))).not.toBe(keyOfBody(schema({})));
  });

  it('treats anthropic-beta as a set: order, spaces and duplicates do not matter', () => {
    const a = cacheKey(input({ anthropicBeta: 'b-2,a-1' }));
    expect(cacheKey(input({ anthropicBeta: ' a-1 , b-2 ' }))).toBe(a);
    expect(cacheKey(input({ anthropicBeta: 'a-1,b-2,a-1,' }))).toBe(a);
    expect(cacheKey(input({ anthropicBeta: 'a-1' }))).not.toBe(a);
    expect(cacheKey(input({ anthropicBeta: '' }))).toBe(cacheKey(input({ anthropicBeta: undefined })));
    expect(betaSet('z, a ,z,,m')).toEqual(['a', 'm', 'z']);
  });

  it('separates client scopes, and shares one key when the caller passes no scope', () => {
    const a = cacheKey(input({ clientScope: 'scope-a' }));
    const b = cacheKey(input({ clientScope: 'scope-b' }));
    const shared = cacheKey(input({ clientScope: undefined }));
    expect(a).not.toBe(b);
    expect(shared).not.toBe(a);
    expect(shared).toBe(cacheKey(input({ clientScope: undefined })));
  });

  it('does not modify the body it is given', () => {
    const body = structuredClone({
      ...baseBody,
      system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral' } }],
    });
    const before = structuredClone(body);
    cacheKey(input({ body }));
    expect(body).toEqual(before);
  });
});

describe('isCacheableRequest', () => {
  it('accepts plain requests and client-executed tools', () => {
    expect(isCacheableRequest(baseBody)).toBe(true);
    expect(
      isCacheableRequest({
        ...baseBody,
        tools: [
          { name: 'calc', input_schema: { type: 'object' } },
          { type: 'custom', name: 'c2', input_schema: { type: 'object' } },
          { type: 'bash_20250124', name: 'bash' },
          { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' },
          { type: 'memory_20250818', name: 'memory' },
        ],
      }),
    ).toBe(true);
    expect(isCacheableRequest({ ...baseBody, mcp_servers: [] })).toBe(true);
  });

  it('refuses server tools, containers and MCP servers (side effects)', () => {
    expect(
      isCacheableRequest({ ...baseBody, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
    ).toBe(false);
    expect(isCacheableRequest({ ...baseBody, tools: [{ type: 'code_execution_20250825', name: 'x' }] })).toBe(
      false,
    );
    expect(isCacheableRequest({ ...baseBody, tools: [{ type: 'some_future_server_tool', name: 'x' }] })).toBe(
      false,
    );
    expect(isCacheableRequest({ ...baseBody, container: 'container_123' })).toBe(false);
    expect(
      isCacheableRequest({ ...baseBody, mcp_servers: [{ type: 'url', url: 'https://x', name: 'x' }] }),
    ).toBe(false);
  });

  it('refuses bodies it cannot read', () => {
    expect(isCacheableRequest(null)).toBe(false);
    expect(isCacheableRequest('{}')).toBe(false);
    expect(isCacheableRequest({ ...baseBody, tools: 'calc' })).toBe(false);
  });
});

describe('isCacheableResponse', () => {
  const message = (stop_reason: unknown) => ({
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [{ type: 'text', text: '6' }],
    model: 'claude-sonnet-4-5',
    stop_reason,
    usage: { input_tokens: 10, output_tokens: 1 },
  });

  it('stores answers that ended on their own', () => {
    for (const reason of ['end_turn', 'stop_sequence', 'tool_use']) {
      expect(isCacheableResponse(message(reason)), reason).toBe(true);
    }
  });

  it('never stores paused, truncated, refused, unfinished or unknown answers', () => {
    for (const reason of [
      'pause_turn',
      'max_tokens',
      'refusal',
      'model_context_window_exceeded',
      'new_reason',
    ]) {
      expect(isCacheableResponse(message(reason)), reason).toBe(false);
    }
    expect(isCacheableResponse(message(null))).toBe(false);
    expect(isCacheableResponse(message(undefined))).toBe(false);
  });

  it('never stores error bodies or non-messages', () => {
    expect(isCacheableResponse({ type: 'error', error: { type: 'overloaded_error', message: 'x' } })).toBe(
      false,
    );
    expect(isCacheableResponse({ ...message('end_turn'), type: 'completion' })).toBe(false);
    expect(isCacheableResponse(undefined)).toBe(false);
  });
});

describe('isCacheableCountTokensResponse', () => {
  it('stores a token count and nothing else', () => {
    expect(isCacheableCountTokensResponse({ input_tokens: 42 })).toBe(true);
    expect(isCacheableCountTokensResponse({ type: 'error', error: {} })).toBe(false);
    expect(isCacheableCountTokensResponse({ input_tokens: '42' })).toBe(false);
  });
});
