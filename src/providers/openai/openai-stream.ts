/**
 * OpenAI Chat Completions SSE -> Anthropic Messages SSE, incrementally. Pure: bytes in, SSE text out, no I/O,
 * no Nest. The wiring feeds each upstream chunk to `push()`, writes what it returns to the client, and calls
 * `end()` when the upstream body ends (or fails), writing that too.
 */
import { errorEvent } from '../../protocol/error-writer';
import { mapStreamError, type MappedError } from './openai-errors';
import {
  messageIdFor,
  stopReasonFor,
  toolUseIdFor,
  usageFrom,
  type AnthropicStopReason,
  type AnthropicUsage,
} from './openai-response';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sse(event: string, data: Json): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

/** A tool call being streamed: its Anthropic block index once opened, its arguments until it has a name. */
interface ToolState {
  id: string | undefined;
  name: string | undefined;
  block: number | undefined;
  pending: string;
}

/** Where a translated stream stands. */
export type StreamState = 'open' | 'done' | 'failed';

/**
 * Translates one streamed Chat Completions answer. Text deltas become a `text` block, each tool call a
 * `tool_use` block fed `input_json_delta`s (fragments arrive by tool index, the name first), `finish_reason`
 * and the usage chunk (`stream_options.include_usage`) become `message_delta`, `[DONE]` ends the message. A
 * mid-stream `{"error":…}` chunk, an unparseable chunk, or an upstream end without `[DONE]` becomes an Anthropic
 * `event: error` — never a clean end of a truncated answer.
 */
export class OpenAIStreamTranslator {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private data: string[] = [];
  private started = false;
  private messageId: string | undefined;
  private nextBlock = 0;
  private openBlock: number | undefined;
  private textBlock: number | undefined;
  private readonly tools = new Map<number, ToolState>();
  private finishReason: unknown;
  private usage: AnthropicUsage | undefined;
  private status: StreamState = 'open';
  private failure: MappedError | undefined;

  /** `requestedModel` is reported as the message's model; `messageId` overrides the id derived from upstream. */
  constructor(
    private readonly requestedModel: string,
    private readonly options: { messageId?: string } = {},
  ) {}

  /** Whether the stream ended cleanly (`done`), with an error event (`failed`), or is still going. */
  get state(): StreamState {
    return this.status;
  }

  /** The error sent to the client when the stream failed (for logs and the breaker). */
  get error(): MappedError | undefined {
    return this.failure;
  }

  /** Feeds a chunk of upstream bytes (split anywhere); returns the Anthropic SSE text it completed. */
  push(chunk: Uint8Array | string): string {
    if (this.status !== 'open') return '';
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.lines(this.buffer + text);
  }

  /**
   * The upstream body ended (or failed: pass `reason`). Returns the final SSE text: nothing if `[DONE]` was
   * seen, else an `event: error`.
   */
  end(reason?: string): string {
    if (this.status !== 'open') return '';
    let out = this.lines(this.buffer + this.decoder.decode() + '\n');
    // A last event cut before its blank line is dropped (as SSE readers do), except a bare `[DONE]`.
    if (this.status === 'open' && this.data.join('\n').trim() === '[DONE]') out += this.finish();
    if (this.status === 'open') {
      out += this.fail({
        status: 502,
        type: 'api_error',
        message: reason ?? 'the OpenAI-compatible provider ended its stream before [DONE]',
      });
    }
    return out;
  }

  private lines(buf: string): string {
    let out = '';
    let start = 0;
    for (let i = 0; i < buf.length && this.status === 'open'; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 13 && i === buf.length - 1) break; // maybe the first half of \r\n: wait for more
      out += this.line(buf.slice(start, i));
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = this.status === 'open' ? buf.slice(start) : '';
    return out;
  }

  private line(line: string): string {
    if (line.length === 0) {
      if (this.data.length === 0) return '';
      const data = this.data.join('\n');
      this.data = [];
      return this.dispatch(data);
    }
    if (line.startsWith('data:')) this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
    // `event:`, `id:`, `retry:` and `:` comments (OpenRouter's keep-alives) carry nothing to translate.
    return '';
  }

  private dispatch(data: string): string {
    if (data.trim() === '[DONE]') return this.finish();
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return this.fail({
        status: 502,
        type: 'api_error',
        message: 'the provider sent a malformed stream chunk',
      });
    }
    if (!isObject(chunk)) return '';
    if (chunk.error !== undefined && chunk.error !== null) return this.fail(mapStreamError(chunk.error));

    let out = this.start(chunk.id);
    if (isObject(chunk.usage)) this.usage = usageFrom(chunk.usage);
    const choices: unknown[] = Array.isArray(chunk.choices) ? chunk.choices : [];
    const choice = choices.find((c) => isObject(c) && (c.index === undefined || c.index === 0));
    if (!isObject(choice)) return out;
    const delta = isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content.length > 0) out += this.text(delta.content);
    if (typeof delta.refusal === 'string' && delta.refusal.length > 0) {
      out += this.text(delta.refusal);
      this.finishReason = 'content_filter';
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) if (isObject(call)) out += this.toolFragment(call);
    }
    if (isObject(delta.function_call)) out += this.toolFragment({ index: 0, function: delta.function_call });
    if (typeof choice.finish_reason === 'string' && this.finishReason === undefined) {
      this.finishReason = choice.finish_reason;
    }
    return out;
  }

  private start(upstreamId: unknown): string {
    if (this.started) return '';
    this.started = true;
    this.messageId = this.options.messageId ?? messageIdFor(upstreamId);
    return sse('message_start', {
      message: {
        id: this.messageId,
        type: 'message',
        role: 'assistant',
        model: this.requestedModel,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Chat Completions reports usage only at the end; message_delta carries the real counts.
        usage: {
          input_tokens: 0,
          output_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    });
  }

  private open(block: Json): string {
    let out = this.close();
    this.openBlock = this.nextBlock++;
    out += sse('content_block_start', { index: this.openBlock, content_block: block });
    return out;
  }

  private close(): string {
    if (this.openBlock === undefined) return '';
    const index = this.openBlock;
    this.openBlock = undefined;
    return sse('content_block_stop', { index });
  }

  private text(text: string): string {
    let out = '';
    if (this.textBlock === undefined || this.openBlock !== this.textBlock) {
      out += this.open({ type: 'text', text: '' });
      this.textBlock = this.openBlock;
    }
    return out + sse('content_block_delta', { index: this.textBlock, delta: { type: 'text_delta', text } });
  }

  private toolFragment(call: Json): string {
    const index = typeof call.index === 'number' ? call.index : this.indexWithoutOne(call.id);
    let tool = this.tools.get(index);
    if (!tool) {
      tool = { id: undefined, name: undefined, block: undefined, pending: '' };
      this.tools.set(index, tool);
    }
    const fn = isObject(call.function) ? call.function : {};
    if (typeof call.id === 'string' && call.id.length > 0 && tool.id === undefined) tool.id = call.id;
    // Some servers repeat the name in every fragment; the first one names the block.
    if (typeof fn.name === 'string' && fn.name.length > 0 && tool.block === undefined) tool.name = fn.name;
    if (typeof fn.arguments === 'string') tool.pending += fn.arguments;
    let out = '';
    if (tool.block === undefined) {
      if (tool.name === undefined) return ''; // arguments before the name: held until it comes
      out += this.openTool(tool, index);
    }
    return out + this.flushArguments(tool);
  }

  /**
   * The index of a call sent without one (Gemini's endpoint sends whole calls, several per chunk): the call with
   * the same id, else a new one when it has an id, else the last call (a fragment of it).
   */
  private indexWithoutOne(id: unknown): number {
    let last = -1;
    for (const [index, tool] of this.tools) {
      if (typeof id === 'string' && tool.id === id) return index;
      last = Math.max(last, index);
    }
    return typeof id === 'string' || last < 0 ? last + 1 : last;
  }

  private openTool(tool: ToolState, index: number): string {
    const id = tool.id ?? toolUseIdFor(this.messageId ?? 'msg_', index);
    const out = this.open({ type: 'tool_use', id, name: tool.name ?? '', input: {} });
    tool.block = this.openBlock;
    return out;
  }

  private flushArguments(tool: ToolState): string {
    if (tool.pending.length === 0 || tool.block === undefined) return '';
    const partial = tool.pending;
    tool.pending = '';
    // A fragment for an earlier call after a later one opened still goes to its own block: the SDK's
    // accumulator applies deltas by index.
    return sse('content_block_delta', {
      index: tool.block,
      delta: { type: 'input_json_delta', partial_json: partial },
    });
  }

  private finish(): string {
    let out = this.start(undefined);
    for (const [index, tool] of this.tools) {
      if (tool.block === undefined) out += this.openTool(tool, index) + this.flushArguments(tool);
    }
    out += this.close();
    const stopReason: AnthropicStopReason = stopReasonFor(this.finishReason, this.tools.size > 0);
    const usage = this.usage ?? usageFrom(undefined);
    out += sse('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage });
    out += sse('message_stop', {});
    this.status = 'done';
    return out;
  }

  private fail(error: MappedError): string {
    this.status = 'failed';
    this.failure = error;
    return errorEvent(error.type, error.message);
  }
}
