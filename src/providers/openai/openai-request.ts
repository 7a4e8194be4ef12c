/**
 * Anthropic Messages request -> OpenAI Chat Completions request. Pure: no I/O, no Nest. What has no counterpart
 * is dropped on purpose; docs/openai-compatible.md lists every such field and why.
 */

/** A JSON object as read from a request body. */
type Json = Record<string, unknown>;

/** How the endpoint wants a few fields that differ between OpenAI and the "compatible" servers. */
export interface ChatCompletionsOptions {
  /**
   * Which field carries `max_tokens`: OpenAI's current `max_completion_tokens` (required by its reasoning models),
   * or the older `max_tokens` that many compatible servers (vLLM, older LiteLLM, some gateways) still expect.
   */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens';
  /** Ask for usage in the last streamed chunk (`stream_options.include_usage`); a few servers reject the field. */
  streamUsage?: boolean;
}

/** The text a `tool_result` with `is_error: true` is prefixed with (Chat Completions has no error flag on tools). */
export const TOOL_ERROR_PREFIX = '[tool error] ';

/** One part of a Chat Completions user message. */
type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/** One Chat Completions tool call as sent back in an assistant message. */
interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One Chat Completions message the translation produces. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ChatPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function blocksOf(content: unknown): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

/** `image` block -> `image_url` part; undefined for a source Chat Completions cannot take (a Files API id). */
function imagePart(block: Json): ChatPart | undefined {
  const source = block.source;
  if (!isObject(source)) return undefined;
  if (source.type === 'base64' && typeof source.data === 'string') {
    const mediaType = typeof source.media_type === 'string' ? source.media_type : 'image/png';
    return { type: 'image_url', image_url: { url: `data:${mediaType};base64,${source.data}` } };
  }
  if (source.type === 'url' && typeof source.url === 'string') {
    return { type: 'image_url', image_url: { url: source.url } };
  }
  return undefined;
}

/** Text of a plain-text `document` block (other sources — PDF, files — have no portable counterpart). */
function documentText(block: Json): string | undefined {
  const source = block.source;
  if (!isObject(source) || source.type !== 'text' || typeof source.data !== 'string') return undefined;
  return typeof block.title === 'string' ? `${block.title}\n\n${source.data}` : source.data;
}

/** User parts of content blocks: text, images, plain-text documents; everything else is dropped. */
function userParts(blocks: Json[]): ChatPart[] {
  const parts: ChatPart[] = [];
  for (const block of blocks) {
    if (block.type === 'text' && typeof block.text === 'string')
      parts.push({ type: 'text', text: block.text });
    else if (block.type === 'image') {
      const part = imagePart(block);
      if (part) parts.push(part);
    } else if (block.type === 'document') {
      const text = documentText(block);
      if (text !== undefined) parts.push({ type: 'text', text });
    }
  }
  return parts;
}

/**
 * A user message's content: a plain string when every part is text (DeepSeek and several local servers accept
 * only strings), else the array of parts.
 */
function userContent(parts: ChatPart[]): string | ChatPart[] {
  if (parts.every((p) => p.type === 'text')) return parts.map((p) => (p as { text: string }).text).join('\n');
  return parts;
}

/** A `tool_result` block -> a `role: tool` message, and its images (a tool message holds text only). */
function toolMessage(block: Json): { message: ChatMessage; images: ChatPart[] } {
  const parts = userParts(blocksOf(block.content));
  const text = parts
    .filter((p): p is { type: 'text'; text: string } => p.type === 'text')
    .map((p) => p.text)
    .join('\n');
  const images = parts.filter((p) => p.type === 'image_url');
  return {
    message: {
      role: 'tool',
      tool_call_id: typeof block.tool_use_id === 'string' ? block.tool_use_id : '',
      content: block.is_error === true ? TOOL_ERROR_PREFIX + text : text,
    },
    images,
  };
}

/**
 * One Anthropic user turn -> its `role: tool` messages first (Chat Completions wants them right after the
 * assistant's tool calls), then a user message with the rest, with any images the tool results carried.
 */
function userMessages(content: unknown): ChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const blocks = blocksOf(content);
  const out: ChatMessage[] = [];
  const toolImages: ChatPart[] = [];
  for (const block of blocks) {
    if (block.type !== 'tool_result') continue;
    const { message, images } = toolMessage(block);
    out.push(message);
    toolImages.push(...images);
  }
  const parts = [...toolImages, ...userParts(blocks.filter((b) => b.type !== 'tool_result'))];
  if (parts.length > 0 || out.length === 0) out.push({ role: 'user', content: userContent(parts) });
  return out;
}

/** One Anthropic assistant turn -> one assistant message: its text joined, its `tool_use` blocks as tool calls. */
function assistantMessage(content: unknown): ChatMessage {
  const blocks = blocksOf(content);
  const text: string[] = [];
  const calls: ChatToolCall[] = [];
  for (const block of blocks) {
    if (block.type === 'text' && typeof block.text === 'string') text.push(block.text);
    else if (block.type === 'tool_use') {
      calls.push({
        id: typeof block.id === 'string' ? block.id : '',
        type: 'function',
        function: {
          name: typeof block.name === 'string' ? block.name : '',
          arguments: JSON.stringify(block.input ?? {}),
        },
      });
    }
    // thinking, redacted_thinking, server tool blocks: no counterpart (docs/openai-compatible.md).
  }
  const joined = text.join('');
  if (calls.length === 0) return { role: 'assistant', content: joined };
  return { role: 'assistant', content: joined.length > 0 ? joined : null, tool_calls: calls };
}

/** `system` (a string or text blocks) -> one system message, blocks joined by a blank line. */
function systemMessage(system: unknown): ChatMessage | undefined {
  if (typeof system === 'string') return system.length > 0 ? { role: 'system', content: system } : undefined;
  const text = blocksOf(system)
    .filter((b) => b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string);
  return text.length > 0 ? { role: 'system', content: text.join('\n\n') } : undefined;
}

/** Client tools -> functions; server tools (web search, code execution, bash…) have no counterpart and are dropped. */
function functionTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) return [];
  const out: Json[] = [];
  for (const tool of tools) {
    if (!isObject(tool) || typeof tool.name !== 'string' || !isObject(tool.input_schema)) continue;
    if (tool.type !== undefined && tool.type !== 'custom') continue;
    const fn: Json = { name: tool.name, parameters: tool.input_schema };
    if (typeof tool.description === 'string') fn.description = tool.description;
    if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
    out.push({ type: 'function', function: fn });
  }
  return out;
}

/** Anthropic `tool_choice` -> Chat Completions `tool_choice` (auto / required / one function / none). */
function toolChoice(choice: unknown): unknown {
  if (!isObject(choice)) return undefined;
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return typeof choice.name === 'string'
        ? { type: 'function', function: { name: choice.name } }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * Translates an Anthropic Messages request body into a Chat Completions request body for `upstreamModel`.
 * Fields without a counterpart (cache_control, thinking, top_k, citations, documents other than plain text,
 * context_management, server tools…) are dropped on purpose; see docs/openai-compatible.md.
 */
export function toChatCompletionsRequest(
  anthropicBody: object,
  upstreamModel: string,
  options: ChatCompletionsOptions = {},
): Json {
  const body = anthropicBody as Json;
  const messages: ChatMessage[] = [];
  const system = systemMessage(body.system);
  if (system) messages.push(system);
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(message)) continue;
    if (message.role === 'assistant') messages.push(assistantMessage(message.content));
    else messages.push(...userMessages(message.content));
  }

  const out: Json = { model: upstreamModel, messages };
  if (typeof body.max_tokens === 'number')
    out[options.maxTokensField ?? 'max_completion_tokens'] = body.max_tokens;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) out.stop = body.stop_sequences;
  const tools = functionTools(body.tools);
  if (tools.length > 0) {
    out.tools = tools;
    const choice = toolChoice(body.tool_choice);
    if (choice !== undefined) out.tool_choice = choice;
    if (isObject(body.tool_choice) && body.tool_choice.disable_parallel_tool_use === true) {
      out.parallel_tool_calls = false;
    }
  }
  if (isObject(body.metadata) && typeof body.metadata.user_id === 'string') out.user = body.metadata.user_id;
  if (body.stream === true) {
    out.stream = true;
    if (options.streamUsage !== false) out.stream_options = { include_usage: true };
  }
  return out;
}
