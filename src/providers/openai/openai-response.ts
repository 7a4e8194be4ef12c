/**
 * OpenAI Chat Completions answer -> Anthropic Messages answer (JSON). Pure: no I/O, no Nest. The streaming
 * counterpart is openai-stream.ts; both share the stop-reason, usage and tool-input rules here.
 */

type Json = Record<string, unknown>;

/** The key a tool call's arguments are kept under when they are not a JSON object (the model wrote bad JSON). */
export const UNPARSED_ARGUMENTS_KEY = '_unparsed_arguments';

/** Anthropic's stop reasons this translation produces. */
export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal';

/** Anthropic usage as the translation reports it. */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** An Anthropic content block the translation produces. */
export type AnthropicBlock =
  { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Json };

/** An Anthropic Messages answer. */
export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicBlock[];
  stop_reason: AnthropicStopReason;
  stop_sequence: null;
  usage: AnthropicUsage;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `finish_reason` -> `stop_reason`. `stop` means end_turn (Chat Completions does not say whether a stop sequence
 * matched, so `stop_sequence` stays null); `content_filter` is Anthropic's `refusal`; a `stop` that came with
 * tool calls (Gemini's endpoint does this) is `tool_use`, since the client must run them.
 */
export function stopReasonFor(finishReason: unknown, hasToolCalls: boolean): AnthropicStopReason {
  switch (finishReason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return hasToolCalls ? 'tool_use' : 'end_turn';
  }
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

/**
 * Chat Completions `usage` -> Anthropic usage. OpenAI's `prompt_tokens` include the cached ones; Anthropic's
 * `input_tokens` exclude them, so cached tokens move to `cache_read_input_tokens`. Nothing is ever reported as a
 * cache write: OpenAI caches automatically and does not bill or report writes.
 */
export function usageFrom(usage: unknown): AnthropicUsage {
  const u = isObject(usage) ? usage : {};
  const details = isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const cached = Math.min(count(details.cached_tokens), count(u.prompt_tokens));
  return {
    input_tokens: count(u.prompt_tokens) - cached,
    output_tokens: count(u.completion_tokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** A tool call's `arguments` string -> a tool_use `input`; anything but a JSON object is kept raw under a key. */
export function toolInputFrom(args: unknown): Json {
  if (isObject(args)) return args; // a few servers send the arguments already parsed
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (isObject(parsed)) return parsed;
  } catch {
    // fall through: kept raw so the client (and the model on the next turn) sees what was produced
  }
  return { [UNPARSED_ARGUMENTS_KEY]: args };
}

/** A Chat Completions id as an Anthropic message id (`msg_` + the upstream id, or a fresh one). */
export function messageIdFor(upstreamId: unknown): string {
  if (typeof upstreamId === 'string' && upstreamId.length > 0) return `msg_${upstreamId}`;
  return `msg_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

/** A tool-call id for a call the upstream sent without one (some compatible servers do). */
export function toolUseIdFor(messageId: string, index: number): string {
  return `toolu_${messageId.replace(/^msg_/, '')}_${index}`;
}

/**
 * Translates a Chat Completions answer (non-streaming) into an Anthropic Messages answer. `requestedModel` is
 * the model the client asked for, reported back as Claude Code and the SDKs expect.
 */
export function fromChatCompletion(openaiJson: unknown, requestedModel: string): AnthropicMessage {
  const answer = isObject(openaiJson) ? openaiJson : {};
  const id = messageIdFor(answer.id);
  const choices = Array.isArray(answer.choices) ? answer.choices : [];
  const choice = isObject(choices[0]) ? choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: AnthropicBlock[] = [];

  if (typeof message.content === 'string' && message.content.length > 0) {
    content.push({ type: 'text', text: message.content });
  } else if (Array.isArray(message.content)) {
    // A few servers answer with content parts; keep their text.
    const text = message.content
      .filter((p): p is Json => isObject(p) && typeof p.text === 'string')
      .map((p) => p.text as string)
      .join('');
    if (text.length > 0) content.push({ type: 'text', text });
  }
  if (typeof message.refusal === 'string' && message.refusal.length > 0) {
    content.push({ type: 'text', text: message.refusal });
  }

  const calls: Json[] = Array.isArray(message.tool_calls) ? message.tool_calls.filter(isObject) : [];
  if (isObject(message.function_call)) calls.push({ function: message.function_call });
  calls.forEach((call, i) => {
    const fn = isObject(call.function) ? call.function : {};
    content.push({
      type: 'tool_use',
      id: typeof call.id === 'string' && call.id.length > 0 ? call.id : toolUseIdFor(id, i),
      name: typeof fn.name === 'string' ? fn.name : '',
      input: toolInputFrom(fn.arguments),
    });
  });

  const refused = typeof message.refusal === 'string' && message.refusal.length > 0;
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: requestedModel,
    content,
    stop_reason: refused ? 'refusal' : stopReasonFor(choice.finish_reason, calls.length > 0),
    stop_sequence: null,
    usage: usageFrom(answer.usage),
  };
}
