import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock } from '../../src/common/clock';
import {
  compileError,
  compileErrorFrame,
  compileMessage,
  DEFAULT_AFTER_EVENTS,
  ECHO_KEY,
  errorTypeFor,
  estimateTokens,
  isScenario,
  MALFORMED_DATA,
  render,
  type CompiledMessage,
  type Scenario,
  type SlotValues,
  type StallScenario,
  type StatusScenario,
  type StreamFaultScenario,
  type StreamShape,
  type Template,
} from './fake-scenario';

/** One request the fake received, kept for assertions. */
export interface RecordedRequest {
  /** Position in `requests` (0-based). */
  readonly index: number;
  /** The `request-id` the fake answered with (`req_fake_<n>`). */
  readonly requestId: string;
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** The raw query string without `?` ('' when none). */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  /** Header names and values as they came on the wire (case kept, duplicates kept). */
  readonly rawHeaders: string[];
  readonly rawBody: Buffer;
  /** The body parsed as JSON, or undefined when it was empty or not JSON. */
  readonly body: unknown;
  /** The credential seen in `x-api-key`, else in `Authorization: Bearer`. */
  readonly apiKey: string | undefined;
  /** Clock time when the whole request body had arrived. */
  readonly receivedAt: number;
  /** What answered it. */
  scenario: Scenario | undefined;
  /** The client closed the connection before the response ended. */
  aborted: boolean;
  abortedAt: number | undefined;
}

/** Picks a scenario for a request, or undefined to let the next rule decide; `call` counts calls from 0. */
export type ScriptFn = (req: RecordedRequest, call: number) => Scenario | undefined;

/** Options of the fake. */
export interface FakeUpstreamOptions {
  /** Keep every request in `requests` (default true; the standalone runner turns it off to serve benchmarks). */
  record?: boolean;
  /** Time source of receivedAt / abortedAt. */
  clock?: Clock;
  /** Model ids of GET /v1/models. */
  models?: string[];
  /** Headers added to every answer (a scenario's own headers win). */
  headers?: Record<string, string>;
  /**
   * Behave like a vendor that signs its thinking: a Messages request with thinking on is answered with a thinking
   * block signed `<signer>-sig` (and a redacted_thinking block `<signer>-redacted`), and a request whose history
   * carries a thinking block this signer did not sign gets 400 "Invalid signature in thinking block", as Anthropic
   * and z.ai answer. Scripted and queued scenarios come first (a provider that is down stays down).
   */
  thinkingSigner?: string;
}

/** The fixed organization id every answer carries. */
export const FAKE_ORGANIZATION_ID = '00000000-0000-4000-8000-00000000fa4e';

/** Default model ids of GET /v1/models. */
export const FAKE_MODELS = ['claude-sonnet-4-6', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-6'];

const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';
/** The largest write of a stamped stream sent without delays. */
const BATCH_BYTES = 16_384;
const JSON_CONTENT_TYPE = 'application/json';

type Route = 'messages' | 'count_tokens' | 'models' | 'model' | 'unknown';

/** What an endpoint answers when nothing goes wrong: a compiled message, or a fixed status and body. */
type Natural = { kind: 'message'; stream: boolean } | { kind: 'fixed'; status: number; body: string };

const DEFAULT_JSON: Scenario = { kind: 'json' };
const DEFAULT_SSE: Scenario = { kind: 'sse' };
const INVALID_JSON: Scenario = { kind: 'status', status: 400, message: 'request body is not valid JSON' };
const INVALID_HEADER: Scenario = {
  kind: 'status',
  status: 400,
  message: 'x-fake-scenario is not a JSON Scenario',
};

/** `fake-<kind>` and `fake-<status>` model names (constant objects, so their compiled bodies are cached). */
const MODEL_SHORTCUTS = new Map<string, Scenario>([
  ['fake-json', { kind: 'json' }],
  ['fake-sse', { kind: 'sse' }],
  ['fake-reset', { kind: 'reset' }],
  ['fake-hang', { kind: 'hang' }],
  ['fake-cut', { kind: 'cut' }],
  ['fake-stall', { kind: 'stall' }],
  ['fake-error-event', { kind: 'error_event' }],
  ['fake-error_event', { kind: 'error_event' }],
  ['fake-malformed', { kind: 'malformed' }],
]);
const STATUS_SHORTCUTS = new Map<string, Scenario>();

function statusShortcut(model: string): Scenario | undefined {
  const code = /^fake-([1-5]\d\d)$/.exec(model)?.[1];
  if (!code) return undefined;
  let s = STATUS_SHORTCUTS.get(code);
  if (!s) {
    s = { kind: 'status', status: Number(code) };
    STATUS_SHORTCUTS.set(code, s);
  }
  return s;
}

/** One response in flight: tracks whether it is still open and owns its single pending timer. */
class Exchange {
  closed = false;
  /** The fake itself closed the socket (reset, cut, close()), so the close is no client abort. */
  killed = false;
  private wake: (() => void) | undefined;

  constructor(readonly res: ServerResponse) {}

  /** Resolves true after ms, or false as soon as the response is closed. */
  sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(!this.closed);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(false);
      };
    });
  }

  /** Marks the exchange closed and cancels its pending timer. */
  stop(): void {
    this.closed = true;
    this.wake?.();
  }

  /** Resolves true once the response's buffer has drained, or false as soon as the response is closed. */
  drain(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onDrain = () => {
        this.wake = undefined;
        resolve(!this.closed);
      };
      this.res.once('drain', onDrain);
      this.wake = () => {
        this.res.off('drain', onDrain);
        this.wake = undefined;
        resolve(false);
      };
    });
  }

  /** Writes a chunk and resolves once it was handed to the socket, so a following close cannot drop it. */
  flush(chunk: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.res.write(chunk, () => resolve());
    });
  }
}

/**
 * An Anthropic-compatible upstream on plain node:http for tests and benchmarks. Every request is answered by
 * the first of: script(fn), the enqueue() queue (Messages requests only), an `x-fake-scenario` header, a
 * `fake-<kind>` / `fake-<status>` model name, and finally the normal answer (a Message, or a stream when
 * body.stream is true).
 */
export class FakeUpstream {
  /** Every request received since start or the last reset() (when recording). */
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly record: boolean;
  private readonly clock: Clock;
  private readonly defaultHeaders: Record<string, string>;
  private readonly modelsBody: string;
  private readonly modelBodies = new Map<string, string>();
  private readonly compiled = new WeakMap<Scenario, CompiledMessage>();
  private readonly errorTemplates = new WeakMap<Scenario, Template>();
  private readonly exchanges = new Set<Exchange>();
  private readonly waiters = new Set<() => void>();
  private queue: Scenario[] = [];
  private readonly signer: string | undefined;
  private readonly thinkingAnswers: { json: Scenario; sse: Scenario } | undefined;
  private scriptFn: ScriptFn | undefined;
  private scriptCalls = 0;
  private seq = 0;
  private closing = false;
  private baseUrl: string | undefined;

  constructor(options: FakeUpstreamOptions = {}) {
    this.record = options.record ?? true;
    this.clock = options.clock ?? systemClock;
    this.defaultHeaders = { ...options.headers };
    this.signer = options.thinkingSigner;
    if (this.signer !== undefined) {
      const thinking = {
        text: `${this.signer} thinks it over.`,
        signature: `${this.signer}-sig`,
        redactedData: `${this.signer}-redacted`,
      };
      this.thinkingAnswers = { json: { kind: 'json', thinking }, sse: { kind: 'sse', thinking } };
    }
    const models = (options.models ?? FAKE_MODELS).map((id) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: '2025-01-01T00:00:00Z',
    }));
    for (const m of models) this.modelBodies.set(m.id, JSON.stringify(m));
    this.modelsBody = JSON.stringify({
      data: models,
      has_more: false,
      first_id: models[0]?.id ?? null,
      last_id: models.at(-1)?.id ?? null,
    });
    this.server = createServer({ keepAlive: true, noDelay: true }, (req, res) => this.onRequest(req, res));
    // Longer than undici's and the SDK's idle timeouts, so a reused keep-alive socket is never closed under a client.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    this.server.requestTimeout = 0;
  }

  /** Listens on 127.0.0.1 (port 0 = any free port) and returns the base URL `http://127.0.0.1:PORT`. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.baseUrl) throw new Error('FakeUpstream already started');
    this.closing = false;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.baseUrl = `http://${shownHost}:${address.port}`;
    return this.baseUrl;
  }

  /** The base URL (after start()). */
  get url(): string {
    if (!this.baseUrl) throw new Error('FakeUpstream not started');
    return this.baseUrl;
  }

  /** Stops listening and destroys every socket, hanging and stalled ones included. */
  async close(): Promise<void> {
    if (!this.baseUrl) return;
    this.closing = true;
    for (const ex of this.exchanges) {
      ex.killed = true;
      ex.stop();
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.baseUrl = undefined;
    this.notify();
  }

  /** Forgets recorded requests, queued scenarios and the script. */
  reset(): void {
    this.requests.length = 0;
    this.queue = [];
    this.scriptFn = undefined;
    this.scriptCalls = 0;
  }

  /** Sets (or with undefined clears) the function consulted first for every request. */
  script(fn: ScriptFn | undefined): void {
    this.scriptFn = fn;
    this.scriptCalls = 0;
  }

  /** Queues scenarios, each consumed by one POST /v1/messages request. */
  enqueue(...scenarios: Scenario[]): void {
    this.queue.push(...scenarios);
  }

  /** Scenarios still queued. */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves with the recorded requests once at least n have arrived. */
  waitForRequests(n: number, timeoutMs = 2000): Promise<RecordedRequest[]> {
    return this.waitFor(
      () => (this.requests.length >= n ? this.requests.slice() : undefined),
      timeoutMs,
      () => `${n} request(s), got ${this.requests.length}`,
    );
  }

  /** Resolves with request `index` once the client has closed it before its response ended. */
  waitForAbort(index: number, timeoutMs = 2000): Promise<RecordedRequest> {
    return this.waitFor(
      () => {
        const r = this.requests[index];
        return r?.aborted ? r : undefined;
      },
      timeoutMs,
      () => `an abort of request ${index}`,
    );
  }

  private waitFor<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const value = check();
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`FakeUpstream: timed out after ${timeoutMs} ms waiting for ${what()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      this.handle(req, res, raw);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, rawBody: Buffer): void {
    const seq = ++this.seq;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rec: RecordedRequest = {
      index: this.requests.length,
      requestId: `req_fake_${seq}`,
      method: req.method ?? 'GET',
      path,
      query: q === -1 ? '' : url.slice(q + 1),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      rawBody,
      body: parseJson(rawBody),
      apiKey: apiKeyOf(req.headers),
      receivedAt: this.clock.now(),
      scenario: undefined,
      aborted: false,
      abortedAt: undefined,
    };
    if (this.record) this.requests.push(rec);

    const ex = new Exchange(res);
    this.exchanges.add(ex);
    res.on('close', () => {
      this.exchanges.delete(ex);
      const abortedByClient = !res.writableFinished && !ex.killed && !this.closing;
      ex.stop();
      if (abortedByClient) {
        rec.aborted = true;
        rec.abortedAt = this.clock.now();
        this.notify();
      }
    });

    const route = routeOf(rec.method, path);
    const scenario = this.pick(rec, route, req.headers['x-fake-scenario']);
    rec.scenario = scenario;
    if (this.record) this.notify();

    const values: SlotValues = {
      id: `"msg_fake_${seq}"`,
      model: JSON.stringify(modelOf(rec.body) ?? 'claude-fake'),
      input: String(estimateTokens(rawBody.length)),
      rid: `"${rec.requestId}"`,
    };
    this.answer(ex, rec, route, scenario, values).catch(() => {
      // A throw here is a bug in a scenario (say an invalid header value): fail loudly to the client.
      ex.killed = true;
      res.destroy();
    });
  }

  private pick(rec: RecordedRequest, route: Route, header: string | string[] | undefined): Scenario {
    if (this.scriptFn) {
      const scripted = this.scriptFn(rec, this.scriptCalls++);
      if (scripted) return scripted;
    }
    if (route === 'messages') {
      const queued = this.queue.shift();
      if (queued) return queued;
      if (this.signer !== undefined) {
        const invalid = foreignThinkingBlock(rec.body, this.signer);
        if (invalid) {
          return { kind: 'status', status: 400, message: `${invalid}: Invalid signature in thinking block` };
        }
        if (thinkingOn(rec.body) && toolLoopWithoutThinking(rec.body)) {
          return { kind: 'status', status: 400, message: TOOL_LOOP_WITHOUT_THINKING };
        }
      }
    }
    if (typeof header === 'string') {
      try {
        const parsed: unknown = JSON.parse(header);
        return isScenario(parsed) ? parsed : INVALID_HEADER;
      } catch {
        return INVALID_HEADER;
      }
    }
    if (route === 'messages' || route === 'count_tokens') {
      if (rec.body === undefined) return INVALID_JSON;
      const model = modelOf(rec.body);
      const shortcut =
        model === undefined ? undefined : (MODEL_SHORTCUTS.get(model) ?? statusShortcut(model));
      if (shortcut) return shortcut;
      if (route === 'messages' && this.thinkingAnswers && thinkingOn(rec.body)) {
        return isStream(rec.body) ? this.thinkingAnswers.sse : this.thinkingAnswers.json;
      }
      if (route === 'messages' && isStream(rec.body)) return DEFAULT_SSE;
    }
    return DEFAULT_JSON;
  }

  private natural(rec: RecordedRequest, route: Route): Natural {
    switch (route) {
      case 'messages':
        return { kind: 'message', stream: isStream(rec.body) };
      case 'count_tokens':
        return { kind: 'fixed', status: 200, body: `{"input_tokens":${estimateTokens(rec.rawBody.length)}}` };
      case 'models':
        return { kind: 'fixed', status: 200, body: this.modelsBody };
      case 'model': {
        const id = decodeURIComponent(rec.path.slice('/v1/models/'.length));
        const body = this.modelBodies.get(id);
        if (body) return { kind: 'fixed', status: 200, body };
        return this.notFound(rec, `model: ${id}`);
      }
      case 'unknown':
        return this.notFound(rec, `${rec.method} ${rec.path}`);
    }
  }

  private notFound(rec: RecordedRequest, what: string): Natural {
    const body = JSON.stringify({
      type: 'error',
      error: { type: 'not_found_error', message: `Not found: ${what}` },
      request_id: rec.requestId,
    });
    return { kind: 'fixed', status: 404, body };
  }

  private headers(rec: RecordedRequest, contentType: string, scenario: Scenario): Record<string, string> {
    const extra = 'headers' in scenario ? scenario.headers : undefined;
    const headers: Record<string, string> = {
      'content-type': contentType,
      'request-id': rec.requestId,
      'anthropic-organization-id': FAKE_ORGANIZATION_ID,
      ...this.defaultHeaders,
    };
    if (extra) for (const [name, value] of Object.entries(extra)) headers[name.toLowerCase()] = String(value);
    return headers;
  }

  private compile(scenario: Scenario & StreamShape): CompiledMessage {
    let c = this.compiled.get(scenario);
    if (!c) {
      c = compileMessage(scenario);
      this.compiled.set(scenario, c);
    }
    return c;
  }

  private async answer(
    ex: Exchange,
    rec: RecordedRequest,
    route: Route,
    s: Scenario,
    values: SlotValues,
  ): Promise<void> {
    if (s.kind === 'hang') return;
    if (!(await ex.sleep(s.headersDelayMs ?? 0))) return;
    const natural = this.natural(rec, route);

    switch (s.kind) {
      case 'reset':
        ex.killed = true;
        ex.res.socket?.resetAndDestroy();
        return;
      case 'status':
        return this.sendStatus(ex, rec, s, values);
      case 'json':
      case 'sse': {
        if (natural.kind === 'fixed')
          return this.send(ex, natural.status, this.headers(rec, JSON_CONTENT_TYPE, s), natural.body);
        const compiled = this.compile(s);
        if (s.kind === 'json') {
          return this.send(ex, 200, this.headers(rec, JSON_CONTENT_TYPE, s), render(compiled.json, values));
        }
        return this.stream(ex, rec, s, compiled, values, undefined);
      }
      default:
        if (natural.kind === 'message' && natural.stream) {
          return this.stream(ex, rec, s, this.compile(s), values, s);
        }
        return this.jsonFault(
          ex,
          rec,
          s,
          natural.kind === 'fixed' ? natural.body : render(this.compile(s).json, values),
          values,
        );
    }
  }

  private send(ex: Exchange, status: number, headers: Record<string, string>, body: string): void {
    if (ex.closed) return;
    headers['content-length'] = String(Buffer.byteLength(body));
    ex.res.writeHead(status, headers);
    ex.res.end(body);
  }

  private sendStatus(ex: Exchange, rec: RecordedRequest, s: StatusScenario, values: SlotValues): void {
    let body: string;
    if (s.body === undefined) {
      let template = this.errorTemplates.get(s);
      if (!template) {
        const [type, message] = errorTypeFor(s.status);
        template = compileError(s.errorType ?? type, s.message ?? message);
        this.errorTemplates.set(s, template);
      }
      body = render(template, values);
    } else {
      body = typeof s.body === 'string' ? s.body : JSON.stringify(s.body);
    }
    this.send(ex, s.status, this.headers(rec, JSON_CONTENT_TYPE, s), echoKey(body, rec));
  }

  /** A stream fault on a non-streaming answer: the same failure, applied to the JSON body. */
  private async jsonFault(
    ex: Exchange,
    rec: RecordedRequest,
    s: StreamFaultScenario,
    body: string,
    values: SlotValues,
  ): Promise<void> {
    const half = body.slice(0, Math.floor(body.length / 2));
    const headers = this.headers(rec, JSON_CONTENT_TYPE, s);
    switch (s.kind) {
      case 'error_event': {
        // A mid-stream overloaded error is what a 529 is outside streaming (protocol §2.5).
        const [type, message] = errorTypeFor(529);
        const status: StatusScenario = { ...s, kind: 'status', status: 529 };
        status.errorType = s.errorType ?? type;
        status.message = s.message ?? message;
        return this.sendStatus(ex, rec, status, values);
      }
      case 'malformed':
        return this.send(ex, 200, headers, s.data ?? half);
      case 'cut':
      case 'stall':
        headers['content-length'] = String(Buffer.byteLength(body));
        ex.res.writeHead(200, headers);
        await ex.flush(half);
        if (s.kind === 'cut') this.cut(ex);
        else await this.stall(ex, s);
        return;
    }
  }

  private async stream(
    ex: Exchange,
    rec: RecordedRequest,
    shape: StreamShape,
    compiled: CompiledMessage,
    values: SlotValues,
    fault: StreamFaultScenario | undefined,
  ): Promise<void> {
    if (ex.closed) return;
    const res = ex.res;
    const scenario = (fault ?? shape) as Scenario;
    res.writeHead(200, { ...this.headers(rec, SSE_CONTENT_TYPE, scenario), 'cache-control': 'no-cache' });
    const frames = compiled.frames;
    const delayMs = shape.delayMs ?? 0;
    const ttftMs = shape.ttftMs ?? 0;
    const contentDelayMs = shape.contentDelayMs ?? 0;

    if (!fault && !shape.stamp && delayMs <= 0 && ttftMs <= 0 && contentDelayMs <= 0) {
      let body = '';
      for (const f of frames) body += render(f, values);
      res.end(body);
      return;
    }
    res.flushHeaders();

    const limit = fault
      ? Math.min(Math.max(0, fault.afterEvents ?? DEFAULT_AFTER_EVENTS), frames.length)
      : frames.length;
    // A stamped stream without delays (a flood) goes out in writes of up to BATCH_BYTES: one syscall per event
    // would make the fake, not its reader, the bottleneck. Every event of a batch has the batch's time.
    const batching = shape.stamp === true && delayMs <= 0 && !fault;
    let batch = '';
    const send = async (chunk: string): Promise<boolean> => res.write(chunk) || (await ex.drain());
    const sendFrom = async (from: number, to: number): Promise<boolean> => {
      for (let i = from; i < to; i++) {
        let wait = i === 0 ? ttftMs : delayMs;
        if (i === compiled.firstDelta) wait += contentDelayMs;
        if (wait > 0 && batch !== '') {
          const out = batch;
          batch = '';
          if (!(await send(out))) return false;
        }
        if (!(await ex.sleep(wait))) return false;
        if (shape.stamp && batch === '') {
          values.sent = `"${(performance.timeOrigin + performance.now()).toFixed(3)}"`;
        }
        const chunk = render(frames[i]!, values);
        if (batching) {
          batch += chunk;
          if (batch.length < BATCH_BYTES && i < to - 1) continue;
          const out = batch;
          batch = '';
          if (!(await send(out))) return false;
        }
        // The last frame before a fault is flushed, so a cut right after cannot swallow it.
        else if (fault && i === to - 1) await ex.flush(chunk);
        // A client (or relay) that does not read holds the stream here, as a real server's socket would.
        else if (!(await send(chunk))) return false;
      }
      return !ex.closed;
    };

    if (!(await sendFrom(0, limit))) return;
    if (!fault) {
      res.end();
      return;
    }
    switch (fault.kind) {
      case 'cut':
        if (fault.partial !== undefined) await ex.flush(fault.partial);
        return this.cut(ex, fault.reset);
      case 'stall':
        return this.stall(ex, fault);
      case 'error_event': {
        const [type, message] = errorTypeFor(529);
        const frame = render(compileErrorFrame(fault.errorType ?? type, fault.message ?? message), values);
        res.end(echoKey(frame, rec));
        return;
      }
      case 'malformed':
        await ex.flush(`event: content_block_delta\ndata: ${fault.data ?? MALFORMED_DATA}\n\n`);
        if (fault.thenContinue && !(await sendFrom(limit, frames.length))) return;
        if (!ex.closed) res.end();
        return;
    }
  }

  /** Closes the socket mid-response (or resets it): the client sees the body end without its terminator. */
  private cut(ex: Exchange, reset = false): void {
    if (ex.closed) return;
    ex.killed = true;
    if (reset) {
      ex.res.socket?.resetAndDestroy();
      return;
    }
    ex.res.socket?.end();
    ex.res.socket?.destroySoon();
  }

  /** Keeps the response open and silent, or sends only pings. */
  private async stall(ex: Exchange, s: StallScenario): Promise<void> {
    const every = s.pingEveryMs ?? 0;
    if (every <= 0) return;
    while (await ex.sleep(every)) ex.res.write('event: ping\ndata: {"type":"ping"}\n\n');
  }
}

function routeOf(method: string, path: string): Route {
  if (method === 'POST') {
    if (path === '/v1/messages') return 'messages';
    if (path === '/v1/messages/count_tokens') return 'count_tokens';
  } else if (method === 'GET') {
    if (path === '/v1/models') return 'models';
    if (path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) return 'model';
  }
  return 'unknown';
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function apiKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const key = headers['x-api-key'];
  if (typeof key === 'string') return key;
  const auth = headers.authorization;
  const bearer = auth === undefined ? undefined : /^Bearer\s+(.+)$/i.exec(auth)?.[1];
  return bearer;
}

function modelOf(body: unknown): string | undefined {
  const model = (body as { model?: unknown } | undefined)?.model;
  return typeof model === 'string' ? model : undefined;
}

function isStream(body: unknown): boolean {
  return (body as { stream?: unknown } | undefined)?.stream === true;
}

/** The body with ECHO_KEY replaced by the request's credential (JSON-escaped, so it fits in a string value too). */
function echoKey(body: string, rec: RecordedRequest): string {
  if (!body.includes(ECHO_KEY)) return body;
  return body.split(ECHO_KEY).join(JSON.stringify(rec.apiKey ?? '').slice(1, -1));
}

/** Anthropic's answer to a tool-use loop whose last assistant turn lost its thinking while thinking is on. */
const TOOL_LOOP_WITHOUT_THINKING =
  'messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is ' +
  'enabled, a final `assistant` message must start with a thinking block.';

/** The conversation ends with tool results, and the assistant turn before them does not start with thinking. */
function toolLoopWithoutThinking(body: unknown): boolean {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages) || messages.length < 2) return false;
  const last = messages.at(-1) as { role?: unknown; content?: unknown };
  const prev = messages.at(-2) as { role?: unknown; content?: unknown };
  if (last.role !== 'user' || !Array.isArray(last.content)) return false;
  if (!last.content.some((b) => (b as { type?: unknown } | null)?.type === 'tool_result')) return false;
  if (prev.role !== 'assistant' || !Array.isArray(prev.content)) return false;
  const first = (prev.content[0] as { type?: unknown } | undefined)?.type;
  return first !== 'thinking' && first !== 'redacted_thinking';
}

function thinkingOn(body: unknown): boolean {
  const type = (body as { thinking?: { type?: unknown } } | undefined)?.thinking?.type;
  return type === 'enabled' || type === 'adaptive';
}

/** The path (`messages.1.content.0`) of the first thinking block `signer` did not sign, if any. */
function foreignThinkingBlock(body: unknown, signer: string): string | undefined {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return undefined;
  for (let m = 0; m < messages.length; m++) {
    const content = (messages[m] as { content?: unknown } | null)?.content;
    if (!Array.isArray(content)) continue;
    for (let i = 0; i < content.length; i++) {
      const block = content[i] as { type?: unknown; signature?: unknown; data?: unknown } | null;
      const ok =
        block?.type === 'thinking'
          ? typeof block.signature === 'string' && block.signature.startsWith(`${signer}-sig`)
          : block?.type === 'redacted_thinking'
            ? typeof block.data === 'string' && block.data.startsWith(`${signer}-redacted`)
            : true;
      if (!ok) return `messages.${m}.content.${i}`;
    }
  }
  return undefined;
}
