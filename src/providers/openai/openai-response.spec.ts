import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromChatCompletion, stopReasonFor, UNPARSED_ARGUMENTS_KEY, usageFrom } from './openai-response';

const FIXTURES = join(__dirname, '../../../test/fixtures/openai');
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

describe('fromChatCompletion', () => {
  it('turns a text answer into a text block, with cached prompt tokens as cache reads', () => {
    expect(fromChatCompletion(fixture('chat-completion-text.json'), 'claude-sonnet-4-5')).toEqual({
      id: 'msg_chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Hello! How can I assist you today?' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 99,
        output_tokens: 10,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 1920,
      },
    });
  });

  it('turns tool calls into tool_use blocks with parsed input and stop_reason tool_use', () => {
    const message = fromChatCompletion(fixture('chat-completion-tool-calls.json'), 'claude-haiku-4-5');
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_abc123', name: 'get_current_weather', input: { location: 'Boston, MA' } },
      {
        type: 'tool_use',
        id: 'call_def456',
        name: 'get_current_time',
        input: { timezone: 'America/New_York' },
      },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toEqual({
      input_tokens: 82,
      output_tokens: 17,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
  });

  it('keeps arguments that are not a JSON object raw under a documented key', () => {
    const message = fromChatCompletion(
      {
        id: 'x',
        choices: [
          {
            message: {
              content: 'Calling.',
              tool_calls: [
                { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a": 1' } },
                { id: 'c2', type: 'function', function: { name: 'g', arguments: '' } },
                { type: 'function', function: { name: 'h', arguments: '[1]' } },
                { id: 'c4', type: 'function', function: { name: 'k', arguments: { already: 'parsed' } } },
              ],
            },
            finish_reason: 'stop',
          },
        ],
      },
      'claude',
    );
    expect(message.content).toEqual([
      { type: 'text', text: 'Calling.' },
      { type: 'tool_use', id: 'c1', name: 'f', input: { [UNPARSED_ARGUMENTS_KEY]: '{"a": 1' } },
      { type: 'tool_use', id: 'c2', name: 'g', input: {} },
      { type: 'tool_use', id: 'toolu_x_2', name: 'h', input: { [UNPARSED_ARGUMENTS_KEY]: '[1]' } },
      { type: 'tool_use', id: 'c4', name: 'k', input: { already: 'parsed' } },
    ]);
    // finish_reason "stop" with tool calls (Gemini's endpoint) still asks the client to run them.
    expect(message.stop_reason).toBe('tool_use');
  });

  it('reports a refusal as text with stop_reason refusal', () => {
    const message = fromChatCompletion(
      {
        id: 'r',
        choices: [{ message: { content: null, refusal: "I can't help with that." }, finish_reason: 'stop' }],
      },
      'claude',
    );
    expect(message.content).toEqual([{ type: 'text', text: "I can't help with that." }]);
    expect(message.stop_reason).toBe('refusal');
  });

  it('survives an answer with no choices or usage', () => {
    const message = fromChatCompletion({}, 'claude');
    expect(message.content).toEqual([]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.id).toMatch(/^msg_/);
    expect(message.usage.input_tokens).toBe(0);
  });
});

describe('stopReasonFor', () => {
  it.each([
    ['stop', false, 'end_turn'],
    ['length', false, 'max_tokens'],
    ['tool_calls', true, 'tool_use'],
    ['function_call', true, 'tool_use'],
    ['content_filter', false, 'refusal'],
    [null, false, 'end_turn'],
    ['stop', true, 'tool_use'],
  ])('%s (tool calls: %s) -> %s', (finish, tools, expected) => {
    expect(stopReasonFor(finish, tools)).toBe(expected);
  });
});

describe('usageFrom', () => {
  it('never reports more cached tokens than prompt tokens', () => {
    expect(
      usageFrom({ prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 50 } }),
    ).toEqual({
      input_tokens: 0,
      output_tokens: 1,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 10,
    });
  });
});
