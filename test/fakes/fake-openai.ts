/**
 * A fake OpenAI Chat Completions upstream (node:http), strict like the real API: it checks the Bearer key,
 * validates every request against the Chat Completions shape (unknown top-level fields, wrong types, tool
 * messages that answer no tool call… are a 400 in OpenAI's error shape), and answers JSON or SSE the way the
 * real API does — a role chunk first, content in small deltas, each tool call opened by a chunk with its id and
 * name and then its `arguments` in fragments by `index`, the `finish_reason` chunk, the usage chunk when
 * `stream_options.include_usage` asked for it, `data: [DONE]`.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, unknown>;

/** What the fake answers to the next request (a queue; when empty it answers the text "ok"). */
export type OpenAIScript =
  | { kind: 'text'; text: string; finishReason?: string }
  | { kind: 'tools'; text?: string; calls: { name: string; arguments: string; id?: string }[] }
  | { kind: 'status'; status: number; body: unknown; headers?: Record<string, string> }
  /** Streams the text's deltas, then an `{"error":…}` chunk instead of the end. */
  | { kind: 'stream_error'; text: string; error: Json }
  /** Streams the text's deltas and the finish chunk, then closes without `[DONE]`. */
  | { kind: 'truncate'; text: string };

/** One request the fake received. */
export interface OpenAIRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Json;
}

/** Top-level request fields the Chat Completions API documents. */
const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'audio',
  'frequency_penalty',
  'function_call',
  'functions',
  'logit_bias',
  'logprobs',
  'max_completion_tokens',
  'max_tokens',
  'metadata',
  'modalities',
  'n',
  'parallel_tool_calls',
  'prediction',
  'presence_penalty',
  'prompt_cache_key',
  'reasoning_effort',
  'response_format',
  'safety_identifier',
  'seed',
  'service_tier',
  'stop',
  'store',
  'stream',
  'stream_options',
  'temperature',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'user',
  'verbosity',
  'web_search_options',
]);

class Invalid extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function number(body: Json, key: string, min: number, max: number, integer = false): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || (integer && !Number.isInteger(v))) {
    throw new Invalid(
      `Invalid type for '${key}': expected ${integer ? 'an integer' : 'a decimal'}, but got ${typeof v} instead.`,
      key,
      'invalid_type',
    );
  }
  if (v < min || v > max) {
    throw new Invalid(`Invalid '${key}': ${v} is not within [${min}, ${max}].`, key, 'invalid_value');
  }
}

function contentParts(content: unknown, at: string, allowImages: boolean): void {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) throw new Invalid(`Invalid type for '${at}'.`, at, 'invalid_type');
  content.forEach((part: unknown, i) => {
    const p = `${at}[${i}]`;
    if (!isObject(part)) throw new Invalid(`Invalid type for '${p}'.`, p, 'invalid_type');
    if (part.type === 'text' && typeof part.text === 'string') return;
    if (
      allowImages &&
      part.type === 'image_url' &&
      isObject(part.image_url) &&
      typeof part.image_url.url === 'string'
    ) {
      const url = part.image_url.url;
      if (!/^(https?:\/\/|data:image\/[a-z+.-]+;base64,)/.test(url)) {
        throw new Invalid(`Invalid image URL in '${p}'.`, p, 'invalid_image_url');
      }
      return;
    }
    throw new Invalid(`Invalid value for '${p}.type'.`, `${p}.type`, 'invalid_value');
  });
}

/** Throws `Invalid` for a request the real API would reject. */
export function validateChatRequest(body: unknown): Json {
  if (!isObject(body)) throw new Invalid('The request body must be a JSON object.');
  for (const key of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(key)) throw new Invalid(`Unrecognized request argument supplied: ${key}`);
  }
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw new Invalid('you must provide a model parameter', 'model', null);
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new Invalid(
      "Invalid 'messages': empty array. Expected an array with minimum length 1.",
      'messages',
    );
  }
  const unanswered = new Set<string>();
  body.messages.forEach((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw new Invalid(`Invalid type for '${at}'.`, at, 'invalid_type');
    if (m.role !== 'tool' && unanswered.size > 0) {
      throw new Invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.",
        `${at}.role`,
      );
    }
    switch (m.role) {
      case 'system':
      case 'developer':
        contentParts(m.content, `${at}.content`, false);
        break;
      case 'user':
        contentParts(m.content, `${at}.content`, true);
        break;
      case 'assistant':
        if (m.content !== null && m.content !== undefined) contentParts(m.content, `${at}.content`, false);
        if (m.tool_calls !== undefined) {
          if (!Array.isArray(m.tool_calls) || m.tool_calls.length === 0) {
            throw new Invalid(`Invalid 'tool_calls' in '${at}'.`, `${at}.tool_calls`);
          }
          for (const call of m.tool_calls as unknown[]) {
            if (
              !isObject(call) ||
              typeof call.id !== 'string' ||
              call.type !== 'function' ||
              !isObject(call.function) ||
              typeof call.function.name !== 'string' ||
              typeof call.function.arguments !== 'string'
            ) {
              throw new Invalid(`Invalid tool call in '${at}'.`, `${at}.tool_calls`, 'invalid_type');
            }
            unanswered.add(call.id);
          }
        } else if (m.content === null || m.content === undefined) {
          throw new Invalid(
            `Invalid '${at}': content is required unless tool_calls is set.`,
            `${at}.content`,
          );
        }
        break;
      case 'tool':
        if (typeof m.tool_call_id !== 'string' || !unanswered.delete(m.tool_call_id)) {
          throw new Invalid(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
            `${at}.role`,
          );
        }
        contentParts(m.content, `${at}.content`, false);
        break;
      default:
        throw new Invalid(
          `Invalid value: '${String(m.role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'developer'.`,
          `${at}.role`,
          'invalid_value',
        );
    }
  });
  number(body, 'temperature', 0, 2);
  number(body, 'top_p', 0, 1);
  number(body, 'max_completion_tokens', 1, 1e9, true);
  number(body, 'max_tokens', 1, 1e9, true);
  if (body.max_tokens !== undefined && body.max_completion_tokens !== undefined) {
    throw new Invalid('max_tokens and max_completion_tokens cannot both be set.', 'max_tokens');
  }
  if (body.stop !== undefined && typeof body.stop !== 'string') {
    if (!Array.isArray(body.stop) || body.stop.length > 4 || body.stop.some((s) => typeof s !== 'string')) {
      throw new Invalid("Invalid 'stop': expected a string or an array of at most 4 strings.", 'stop');
    }
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean')
    throw new Invalid("Invalid type for 'stream'.", 'stream', 'invalid_type');
  if (body.stream_options !== undefined && body.stream !== true) {
    throw new Invalid(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
    );
  }
  if (body.user !== undefined && typeof body.user !== 'string')
    throw new Invalid("Invalid type for 'user'.", 'user', 'invalid_type');
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw new Invalid("Invalid type for 'tools'.", 'tools', 'invalid_type');
    body.tools.forEach((t: unknown, i) => {
      if (
        !isObject(t) ||
        t.type !== 'function' ||
        !isObject(t.function) ||
        typeof t.function.name !== 'string' ||
        !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name) ||
        (t.function.parameters !== undefined && !isObject(t.function.parameters))
      ) {
        throw new Invalid(`Invalid 'tools[${i}]'.`, `tools[${i}]`, 'invalid_value');
      }
    });
  }
  const choice = body.tool_choice;
  if (choice !== undefined) {
    const named =
      isObject(choice) &&
      choice.type === 'function' &&
      isObject(choice.function) &&
      typeof choice.function.name === 'string';
    if (!named && choice !== 'none' && choice !== 'auto' && choice !== 'required') {
      throw new Invalid("Invalid value for 'tool_choice'.", 'tool_choice', 'invalid_value');
    }
    if (choice !== 'none' && body.tools === undefined) {
      throw new Invalid(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        'tool_choice',
      );
    }
  }
  return body;
}

function errorBody(message: string, type: string, param: string | null, code: string | null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Splits text into pieces of `size` characters (the fake's "tokens"). */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The fake server. `keys` are the accepted Bearer keys. */
export class FakeOpenAI {
  /** Every request received, in order. */
  readonly requests: OpenAIRequest[] = [];
  /** Answers for the next requests, in order. */
  readonly script: OpenAIScript[] = [];
  /** Cached prompt tokens reported in usage. */
  cachedTokens = 0;
  /** GET /v1/models calls received. */
  modelListCalls = 0;
  private server: Server | undefined;
  private sequence = 0;

  constructor(private readonly keys: string[] = ['sk-test']) {}

  /** Starts listening on 127.0.0.1; resolves with the base URL (`http://127.0.0.1:<port>/v1`). */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req.url ?? '', req.headers, Buffer.concat(chunks), res));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  }

  /** Stops the server and drops open connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(url: string, headers: IncomingHttpHeaders, raw: Buffer, res: ServerResponse): void {
    const path = url.split('?')[0] ?? '';
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${this.sequence}` });
      res.end(body);
    };
    this.sequence++;
    if (path === '/v1/models') {
      // The model list: what the relay's health probe asks for (authenticated, no tokens spent).
      this.modelListCalls++;
      const bearer = headers.authorization ?? '';
      if (!bearer.startsWith('Bearer ') || !this.keys.includes(bearer.slice(7))) {
        send(401, errorBody('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key'));
        return;
      }
      send(
        200,
        JSON.stringify({ object: 'list', data: [{ id: 'gpt-5', object: 'model', owned_by: 'fake' }] }),
      );
      return;
    }
    if (path !== '/v1/chat/completions') {
      send(404, errorBody(`Invalid URL (POST ${path})`, 'invalid_request_error', null, 'unknown_url'));
      return;
    }
    const auth = headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !this.keys.includes(auth.slice(7))) {
      send(401, errorBody('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key'));
      return;
    }
    let body: Json;
    try {
      body = validateChatRequest(JSON.parse(raw.toString('utf8')));
    } catch (err) {
      const e =
        err instanceof Invalid ? err : new Invalid(`We could not parse the JSON body of your request.`);
      send(400, errorBody(e.message, 'invalid_request_error', e.param, e.code));
      return;
    }
    this.requests.push({ path, headers, body });
    const script: OpenAIScript = this.script.shift() ?? { kind: 'text', text: 'ok' };
    if (script.kind === 'status') {
      for (const [name, value] of Object.entries(script.headers ?? {})) res.setHeader(name, value);
      send(script.status, typeof script.body === 'string' ? script.body : JSON.stringify(script.body));
      return;
    }
    const id = `chatcmpl-fake${this.sequence}`;
    const promptTokens = Math.max(1, Math.ceil(raw.length / 4));
    const usage = (completion: number): Json => ({
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      prompt_tokens_details: { cached_tokens: Math.min(this.cachedTokens, promptTokens), audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    });
    const text = script.kind === 'tools' ? (script.text ?? '') : script.text;
    const calls =
      script.kind === 'tools'
        ? script.calls.map((c, i) => ({
            id: c.id ?? `call_fake${this.sequence}_${i}`,
            name: c.name,
            arguments: c.arguments,
          }))
        : [];
    const finish =
      script.kind === 'tools'
        ? 'tool_calls'
        : script.kind === 'text'
          ? (script.finishReason ?? 'stop')
          : 'stop';
    const completionTokens =
      pieces(text, 4).length + calls.reduce((n, c) => n + pieces(c.arguments, 5).length, 0);

    if (body.stream !== true) {
      const message: Json = {
        role: 'assistant',
        content: text.length > 0 ? text : null,
        refusal: null,
        annotations: [],
      };
      if (calls.length > 0) {
        message.tool_calls = calls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: c.arguments },
        }));
      }
      send(
        200,
        JSON.stringify({
          id,
          object: 'chat.completion',
          created: 1_700_000_000,
          model: body.model,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
          usage: usage(completionTokens),
          service_tier: 'default',
          system_fingerprint: 'fp_fake',
        }),
      );
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'x-request-id': `req_${this.sequence}`,
    });
    const chunk = (delta: Json, finishReason: string | null = null): string =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created: 1_700_000_000,
        model: body.model,
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        usage: null,
      })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '', refusal: null }));
    for (const piece of pieces(text, 4)) res.write(chunk({ content: piece }));
    calls.forEach((call, index) => {
      res.write(
        chunk({
          tool_calls: [
            { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      );
      for (const piece of pieces(call.arguments, 5)) {
        res.write(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
      }
    });
    if (script.kind === 'stream_error') {
      res.end(`data: ${JSON.stringify({ error: script.error })}\n\n`);
      return;
    }
    res.write(chunk({}, finish));
    if (script.kind === 'truncate') {
      res.end();
      return;
    }
    const options = body.stream_options;
    if (isObject(options) && options.include_usage === true) {
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model, system_fingerprint: 'fp_fake', choices: [], usage: usage(completionTokens) })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
  }
}
