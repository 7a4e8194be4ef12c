/**
 * What the fake Anthropic upstream answers, and the precompiled bodies it answers with.
 * Bodies are compiled once per scenario object into templates with a few per-request slots (message id, model,
 * input tokens, request id), so serving a request costs a string join, not a JSON.stringify.
 */

/** Token counts as the Messages API reports them. */
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** Options every scenario accepts. */
export interface ScenarioBase {
  /** Extra response headers (retry-after, x-should-retry, anthropic-ratelimit-*, …); they win over the defaults. */
  headers?: Record<string, string>;
  /** Wait this long after the request body arrived before sending anything (a slow first byte). */
  headersDelayMs?: number;
}

/** What a successful message says. */
export interface MessageShape {
  /** The assistant text (default "Hello from the fake upstream."). */
  text?: string;
  /** Overrides of the reported usage; input_tokens defaults to the request body size / 4, like count_tokens. */
  usage?: Partial<FakeUsage>;
  /** Default `end_turn`. */
  stopReason?: string;
  /** The model the answer names; default: the request's model. */
  model?: string;
  /** Start the answer with a signed thinking block (and optionally a redacted_thinking block), as with thinking on. */
  thinking?: ThinkingShape;
  /** End the answer with a tool_use block after the text (its input streamed as one input_json_delta). */
  toolUse?: ToolUseShape;
}

/** A tool call that closes an answer (set stopReason `tool_use` with it, as the real API does). */
export interface ToolUseShape {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

/** The thinking blocks that open an answer. */
export interface ThinkingShape {
  /** The reasoning text of the `thinking` block. */
  text: string;
  /** Its signature (sent in a `signature_delta` when streaming). */
  signature: string;
  /** When set, a `redacted_thinking` block with this `data` follows. */
  redactedData?: string;
}

/** How a stream is shaped and paced. */
export interface StreamShape extends MessageShape {
  /** Number of content_block_delta events the text is split into (default 3, fewer if the text is shorter). */
  deltas?: number;
  /** Delay before every event after the first. */
  delayMs?: number;
  /** Delay between the response headers and the first event (message_start). */
  ttftMs?: number;
  /** Extra delay before the first content_block_delta: message_start arrives, the first token is late. */
  contentDelayMs?: number;
  /** Send a `ping` after content_block_start, where the real API sends one. */
  pings?: boolean;
  /**
   * Stamp every content_block_delta with the time it was written: its text is the wall-clock time in ms with
   * µs decimals (`performance.timeOrigin + performance.now()`, e.g. `"1796111999123.456"`), so a client on the
   * same machine measures each event's delay through a relay as arrival minus that. The JSON answer keeps its
   * text. A stamped stream is written as it goes even without delays, honouring back-pressure (then in writes of
   * up to 16 KiB, whose events share the write's time).
   */
  stamp?: boolean;
}

/** A 200 JSON Message (even when the request asked for a stream). */
export interface JsonScenario extends ScenarioBase, MessageShape {
  kind: 'json';
}

/** A 200 SSE stream with the full grammar of protocol §2.2 (even when the request did not ask for one). */
export interface SseScenario extends ScenarioBase, StreamShape {
  kind: 'sse';
}

/** Any status; the default body is Anthropic's error shape with the error type that status carries. */
export interface StatusScenario extends ScenarioBase {
  kind: 'status';
  status: number;
  /** A string is sent as is, anything else as JSON. */
  body?: unknown;
  /** Overrides the error type of the default body. */
  errorType?: string;
  /** Overrides the message of the default body. */
  message?: string;
}

/** The connection is reset (TCP RST) before any response byte. */
export interface ResetScenario extends ScenarioBase {
  kind: 'reset';
}

/** The request is read and never answered; the socket stays open until the client or close() ends it. */
export interface HangScenario {
  kind: 'hang';
}

/** Options of the mid-stream faults. On a non-streaming request the fault hits the JSON body instead. */
export interface StreamFault extends ScenarioBase, StreamShape {
  /** Events sent before the fault, counted from message_start (= 1) and pings included; default 3. */
  afterEvents?: number;
}

/** The stream is cut after N events: the socket closes with no message_stop and no chunked terminator. */
export interface CutScenario extends StreamFault {
  kind: 'cut';
  /** Raw bytes sent after the N events, just before the cut: the start of an event cut mid-line, say. */
  partial?: string;
  /** Close with a TCP RST instead of a FIN (after the bytes were handed to the socket). */
  reset?: boolean;
}

/** After N events the connection stays open and silent (unless `pingEveryMs` keeps sending pings). */
export interface StallScenario extends StreamFault {
  kind: 'stall';
  /** Keep sending pings during the stall: the connection looks alive, no content arrives. */
  pingEveryMs?: number;
}

/** After N events an `event: error` (default overloaded_error), then a clean end. Non-streaming: a 529. */
export interface ErrorEventScenario extends StreamFault {
  kind: 'error_event';
  errorType?: string;
  message?: string;
}

/** After N events a content_block_delta whose data is not JSON, then the end (or the rest of the stream). */
export interface MalformedScenario extends StreamFault {
  kind: 'malformed';
  /** The raw data line (default `{"type":"content_block_delta","index":0,"delta":{"type":"text_del`). */
  data?: string;
  /** Send the rest of the stream after the malformed event instead of ending there. */
  thenContinue?: boolean;
}

/** Everything the fake can be told to do with one request. */
export type Scenario =
  | JsonScenario
  | SseScenario
  | StatusScenario
  | ResetScenario
  | HangScenario
  | CutScenario
  | StallScenario
  | ErrorEventScenario
  | MalformedScenario;

/** The scenario kinds. */
export type ScenarioKind = Scenario['kind'];

/** The mid-stream faults. */
export type StreamFaultScenario = CutScenario | StallScenario | ErrorEventScenario | MalformedScenario;

const KINDS: ReadonlySet<string> = new Set<ScenarioKind>([
  'json',
  'sse',
  'status',
  'reset',
  'hang',
  'cut',
  'stall',
  'error_event',
  'malformed',
]);

/** True when `value` looks like a Scenario (checked loosely: it usually comes from a test's header). */
export function isScenario(value: unknown): value is Scenario {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) return false;
  if (kind === 'status') {
    const status = (value as { status?: unknown }).status;
    return typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599;
  }
  return true;
}

/** Default `afterEvents` of the stream faults: message_start, content_block_start and one delta. */
export const DEFAULT_AFTER_EVENTS = 3;

/**
 * Written anywhere in a status scenario's body or message, or an error_event's message, it is replaced by the
 * credential the request carried (x-api-key, else the Bearer token): an upstream that echoes the key in its error.
 */
export const ECHO_KEY = '{{api_key}}';

/** Default assistant text. */
export const DEFAULT_TEXT = 'Hello from the fake upstream.';

/** Deterministic token estimate from a request body size, shared by count_tokens and the default usage. */
export function estimateTokens(bodyBytes: number): number {
  return Math.max(1, Math.ceil(bodyBytes / 4));
}

const ERROR_TYPES: Record<number, [type: string, message: string]> = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  402: ['billing_error', 'Billing problem'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not found'],
  409: ['conflict_error', 'Conflict'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of requests has exceeded your rate limit'],
  500: ['api_error', 'Internal server error'],
  504: ['timeout_error', 'Request timed out'],
  529: ['overloaded_error', 'Overloaded'],
};

/** The Anthropic error type and message a status carries (unlisted 4xx: invalid_request_error, 5xx: api_error). */
export function errorTypeFor(status: number): [type: string, message: string] {
  const known = ERROR_TYPES[status];
  if (known) return known;
  return status >= 500
    ? ['api_error', 'Internal server error']
    : ['invalid_request_error', 'Invalid request'];
}

/** The per-request values spliced into a template. Every value is already JSON-encoded. */
export interface SlotValues {
  /** Message id, e.g. `"msg_fake_7"`. */
  id: string;
  /** Model, e.g. `"claude-sonnet-4-5"`. */
  model: string;
  /** Input tokens, e.g. `12`. */
  input: string;
  /** Request id, e.g. `"req_fake_7"`. */
  rid: string;
  /** Send time of a stamped delta (set before each frame is rendered), e.g. `"1796111999123.456"`. */
  sent?: string;
}

type Slot = keyof SlotValues;

/** A body with holes: parts[0] slot[0] parts[1] slot[1] … parts[n]. */
export interface Template {
  parts: string[];
  slots: Slot[];
}

const SENTINEL = '\u0001';
const SLOT_PATTERN = /"\\u0001(id|model|input|rid|sent)\\u0001"/;

/** A placeholder a compiled body replaces per request (JSON.stringify escapes \u0001, so it cannot collide). */
function slot(name: Slot): string {
  return `${SENTINEL}${name}${SENTINEL}`;
}

/** Compiles a JSON-serialisable value whose slot placeholders become template holes. */
function compileJson(value: unknown): Template {
  const pieces = JSON.stringify(value).split(SLOT_PATTERN);
  const parts: string[] = [];
  const slots: Slot[] = [];
  pieces.forEach((piece, i) => (i % 2 === 0 ? parts.push(piece) : slots.push(piece as Slot)));
  return { parts, slots };
}

/** Fills a template's holes. */
export function render(template: Template, values: SlotValues): string {
  const { parts, slots } = template;
  let out = parts[0] ?? '';
  for (let i = 0; i < slots.length; i++) out += (values[slots[i]!] ?? '""') + (parts[i + 1] ?? '');
  return out;
}

/** Splits text into at most n pieces of nearly equal length (code points, so no surrogate pair is cut). */
function splitText(text: string, n: number): string[] {
  if (n <= 0) return [];
  const chars = Array.from(text);
  const size = Math.max(1, Math.ceil(chars.length / n));
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(''));
  return pieces;
}

/** The text pieces a stream sends: the given text split `deltas` ways, or generated pieces when only a count is given. */
function textPieces(shape: StreamShape): string[] {
  if (shape.text === undefined && shape.deltas !== undefined) {
    return Array.from({ length: shape.deltas }, (_, i) => `chunk${i} `);
  }
  return splitText(shape.text ?? DEFAULT_TEXT, shape.deltas ?? 3);
}

/** A compiled message: the JSON body and the SSE frames of the same answer. */
export interface CompiledMessage {
  json: Template;
  frames: Template[];
  /** The SSE event name of every frame. */
  names: string[];
  /** Index of the first content_block_delta frame, or -1. */
  firstDelta: number;
}

function frame(name: string, data: unknown): Template {
  const t = compileJson(data);
  t.parts[0] = `event: ${name}\ndata: ${t.parts[0] ?? ''}`;
  t.parts[t.parts.length - 1] += '\n\n';
  return t;
}

/** Compiles the JSON Message and the SSE stream for one scenario (request values stay as slots). */
export function compileMessage(shape: StreamShape): CompiledMessage {
  const pieces = textPieces(shape);
  const text = pieces.join('');
  const input: unknown = shape.usage?.input_tokens ?? slot('input');
  const usage = {
    input_tokens: input,
    cache_creation_input_tokens: shape.usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: shape.usage?.cache_read_input_tokens ?? 0,
    output_tokens: shape.usage?.output_tokens ?? Math.max(1, Math.ceil(text.length / 4)),
  };
  const model = shape.model ?? slot('model');
  const stopReason = shape.stopReason ?? 'end_turn';
  const message = (content: unknown[], stop: string | null, u: unknown) => ({
    id: slot('id'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: u,
  });

  const frames: Template[] = [];
  const names: string[] = [];
  const push = (name: string, data: unknown) => {
    frames.push(frame(name, data));
    names.push(name);
  };
  // message_start reports the input side and a token or so of output, as the real API does.
  push('message_start', {
    type: 'message_start',
    message: message([], null, { ...usage, output_tokens: Math.min(1, usage.output_tokens) }),
  });
  // Thinking blocks come first, as the real API sends them: the text block follows at the next index.
  const leading: unknown[] = [];
  let firstThinkingDelta = -1;
  const thinking = shape.thinking;
  if (thinking) {
    push('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'thinking', thinking: '' },
    });
    firstThinkingDelta = frames.length;
    push('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'thinking_delta', thinking: thinking.text },
    });
    push('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'signature_delta', signature: thinking.signature },
    });
    push('content_block_stop', { type: 'content_block_stop', index: 0 });
    leading.push({ type: 'thinking', thinking: thinking.text, signature: thinking.signature });
    if (thinking.redactedData !== undefined) {
      const block = { type: 'redacted_thinking', data: thinking.redactedData };
      push('content_block_start', { type: 'content_block_start', index: 1, content_block: block });
      push('content_block_stop', { type: 'content_block_stop', index: 1 });
      leading.push(block);
    }
  }
  const index = leading.length;
  push('content_block_start', {
    type: 'content_block_start',
    index,
    content_block: { type: 'text', text: '' },
  });
  if (shape.pings) push('ping', { type: 'ping' });
  const firstDelta = frames.length;
  if (shape.stamp) {
    // One template for every stamped delta: a long stream costs an array slot per event, not a compiled frame.
    const stamped = frame('content_block_delta', {
      type: 'content_block_delta',
      index,
      delta: { type: 'text_delta', text: slot('sent') },
    });
    for (let i = 0; i < pieces.length; i++) {
      frames.push(stamped);
      names.push('content_block_delta');
    }
  } else {
    for (const piece of pieces) {
      push('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text: piece },
      });
    }
  }
  push('content_block_stop', { type: 'content_block_stop', index });
  const trailing: unknown[] = [];
  const tool = shape.toolUse;
  if (tool) {
    const toolIndex = index + 1;
    push('content_block_start', {
      type: 'content_block_start',
      index: toolIndex,
      content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} },
    });
    push('content_block_delta', {
      type: 'content_block_delta',
      index: toolIndex,
      delta: { type: 'input_json_delta', partial_json: JSON.stringify(tool.input) },
    });
    push('content_block_stop', { type: 'content_block_stop', index: toolIndex });
    trailing.push({ type: 'tool_use', id: tool.id, name: tool.name, input: tool.input });
  }
  // message_delta usage is cumulative (protocol §2.4): the whole-message totals, never increments.
  push('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null },
    usage,
  });
  push('message_stop', { type: 'message_stop' });

  return {
    json: compileJson(message([...leading, { type: 'text', text }, ...trailing], stopReason, usage)),
    frames,
    names,
    firstDelta: firstThinkingDelta >= 0 ? firstThinkingDelta : pieces.length > 0 ? firstDelta : -1,
  };
}

/** Compiles an Anthropic error body whose request_id is a slot. */
export function compileError(type: string, message: string): Template {
  return compileJson({ type: 'error', error: { type, message }, request_id: slot('rid') });
}

/** Compiles the `event: error` frame of a mid-stream failure. */
export function compileErrorFrame(type: string, message: string): Template {
  return frame('error', { type: 'error', error: { type, message }, request_id: slot('rid') });
}

/** The default data line of a malformed event: cut mid-JSON, as a broken upstream would send it. */
export const MALFORMED_DATA = '{"type":"content_block_delta","index":0,"delta":{"type":"text_del';
