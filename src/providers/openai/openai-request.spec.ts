import { describe, expect, it } from 'vitest';
import { validateChatRequest } from '../../../test/fakes/fake-openai';
import { TOOL_ERROR_PREFIX, toChatCompletionsRequest } from './openai-request';

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  cache_control: { type: 'ephemeral' },
};

describe('toChatCompletionsRequest', () => {
  it('maps the model, a string system prompt, sampling fields, stop sequences and the user id', () => {
    const out = toChatCompletionsRequest(
      {
        model: 'claude-sonnet-4-5',
        system: 'Be brief.',
        max_tokens: 512,
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ['END'],
        metadata: { user_id: 'user-42' },
        messages: [{ role: 'user', content: 'Hello' }],
      },
      'gpt-4.1',
    );
    expect(out).toEqual({
      model: 'gpt-4.1',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      max_completion_tokens: 512,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      user: 'user-42',
    });
    expect(() => validateChatRequest(out)).not.toThrow();
  });

  it('joins system blocks into one system message and drops cache_control', () => {
    const out = toChatCompletionsRequest(
      {
        max_tokens: 10,
        system: [
          { type: 'text', text: 'You are Claude Code.' },
          { type: 'text', text: 'Project rules.', cache_control: { type: 'ephemeral', ttl: '1h' } },
        ],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
        ],
      },
      'm',
    );
    expect(out.messages).toEqual([
      { role: 'system', content: 'You are Claude Code.\n\nProject rules.' },
      { role: 'user', content: 'hi' },
    ]);
    expect(JSON.stringify(out)).not.toContain('cache_control');
  });

  it('sends max_tokens instead when the endpoint wants it', () => {
    const out = toChatCompletionsRequest({ max_tokens: 99, messages: [] }, 'm', {
      maxTokensField: 'max_tokens',
    });
    expect(out.max_tokens).toBe(99);
    expect(out).not.toHaveProperty('max_completion_tokens');
  });

  it('asks for usage in the stream, unless told the endpoint rejects stream_options', () => {
    const body = { max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] };
    expect(toChatCompletionsRequest(body, 'm')).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
    const bare = toChatCompletionsRequest(body, 'm', { streamUsage: false });
    expect(bare.stream).toBe(true);
    expect(bare).not.toHaveProperty('stream_options');
  });

  it('turns base64 and URL images into image_url parts, keeping the text beside them', () => {
    const out = toChatCompletionsRequest(
      {
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'QUJD' } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
              { type: 'image', source: { type: 'file', file_id: 'file_1' } },
              { type: 'text', text: 'What are these?' },
            ],
          },
        ],
      },
      'm',
    );
    expect(out.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,QUJD' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          { type: 'text', text: 'What are these?' },
        ],
      },
    ]);
    expect(() => validateChatRequest(out)).not.toThrow();
  });

  it('maps tool definitions and every tool_choice, dropping server tools', () => {
    const base = {
      max_tokens: 10,
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [weatherTool, { type: 'web_search_20250305', name: 'web_search', max_uses: 3 }],
    };
    const out = toChatCompletionsRequest({ ...base, tool_choice: { type: 'auto' } }, 'm');
    expect(out.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: weatherTool.input_schema,
        },
      },
    ]);
    expect(out.tool_choice).toBe('auto');
    expect(toChatCompletionsRequest({ ...base, tool_choice: { type: 'any' } }, 'm').tool_choice).toBe(
      'required',
    );
    expect(toChatCompletionsRequest({ ...base, tool_choice: { type: 'none' } }, 'm').tool_choice).toBe(
      'none',
    );
    const named = toChatCompletionsRequest(
      { ...base, tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true } },
      'm',
    );
    expect(named.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(named.parallel_tool_calls).toBe(false);
    expect(() => validateChatRequest(named)).not.toThrow();
  });

  it('turns a tool_use turn into tool_calls and the tool_result turn into tool messages right after it', () => {
    const out = toChatCompletionsRequest(
      {
        max_tokens: 100,
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'Weather in Paris and Rome?' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'two calls', signature: 'sig' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C' },
              {
                type: 'tool_result',
                tool_use_id: 'toolu_2',
                is_error: true,
                content: [{ type: 'text', text: 'service down' }],
              },
              { type: 'text', text: 'Thanks' },
            ],
          },
        ],
      },
      'm',
    );
    expect(out.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
          {
            id: 'toolu_2',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18°C' },
      { role: 'tool', tool_call_id: 'toolu_2', content: `${TOOL_ERROR_PREFIX}service down` },
      { role: 'user', content: 'Thanks' },
    ]);
    expect(JSON.stringify(out)).not.toContain('signature');
    expect(() => validateChatRequest(out)).not.toThrow();
  });

  it('gives an assistant turn with only tool calls null content, and moves tool-result images to a user message', () => {
    const out = toChatCompletionsRequest(
      {
        max_tokens: 100,
        tools: [weatherTool],
        messages: [
          { role: 'user', content: 'screenshot?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }] },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 't1',
                content: [
                  { type: 'text', text: 'here' },
                  { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
                ],
              },
            ],
          },
        ],
      },
      'm',
    );
    const messages = out.messages as unknown[];
    expect(messages[1]).toMatchObject({ role: 'assistant', content: null });
    expect(messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 't1', content: 'here' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
    ]);
    expect(() => validateChatRequest(out)).not.toThrow();
  });

  it('drops fields with no counterpart, so a strict endpoint accepts the request', () => {
    const anthropic = {
      model: 'claude-opus-4-1',
      max_tokens: 2048,
      top_k: 5,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      context_management: { edits: [] },
      service_tier: 'auto',
      container: 'c1',
      mcp_servers: [],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } },
            {
              type: 'document',
              title: 'notes.txt',
              source: { type: 'text', media_type: 'text/plain', data: 'plain notes' },
              citations: { enabled: true },
            },
            { type: 'text', text: 'Summarise.' },
          ],
        },
      ],
    };
    // Sent as is, the real API refuses it.
    expect(() => validateChatRequest({ ...anthropic, model: 'gpt' })).toThrow(
      /Unrecognized request argument/,
    );
    const out = toChatCompletionsRequest(anthropic, 'gpt-5');
    expect(out.messages).toEqual([{ role: 'user', content: 'notes.txt\n\nplain notes\nSummarise.' }]);
    expect(Object.keys(out).sort()).toEqual(['max_completion_tokens', 'messages', 'model']);
    expect(() => validateChatRequest(out)).not.toThrow();
  });

  it('leaves tool_choice out when no function tools remain', () => {
    const out = toChatCompletionsRequest(
      {
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'bash_20250124', name: 'bash' }],
        tool_choice: { type: 'any' },
      },
      'm',
    );
    expect(out).not.toHaveProperty('tools');
    expect(out).not.toHaveProperty('tool_choice');
    expect(() => validateChatRequest(out)).not.toThrow();
  });
});
