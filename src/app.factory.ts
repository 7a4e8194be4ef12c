import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClientAuthenticator } from './common/client-authenticator';
import { AccessLog, streamEndOf } from './common/access-log';
import { BatchedLogStream } from './common/batched-log-stream';
import { LazyChildLogger } from './common/lazy-child-logger';
import { PinoNestLogger } from './common/pino-nest-logger';
import { decodeRequestBody } from './common/body-decoding';
import {
  answerConnect,
  answerFrameworkError,
  answerUnknownExpectation,
  handleClientError,
} from './common/edge-errors';
import { originFormTarget } from './common/request-target';
import { pathOfUrl } from './common/not-found';
import { registerStatusReasons } from './common/status-reasons';
import { RequestLimits } from './common/request-limits';
import { RelayError, RelayErrorCode } from './protocol/relay-error';
import { replyError } from './common/reply-error';
import { AdminAuthGuard } from './admin/admin-auth.guard';
import { ADMIN_DOCS_PATH, setupAdminDocs } from './admin/admin-docs';
import { setupStatusPage } from './admin/status-page';
import { AppModule } from './app.module';
import { ConfigHolder } from './config/config-holder';
import { ConfigWatcher } from './config/config-watcher';
import type { RelayConfig } from './config/relay-config';
import { Derived } from './common/derived';
import { BreakerRegistry } from './health/breaker-registry';
import { RoutingService } from './routing/routing.service';
import { DrainState } from './common/drain-state';
import { RelayMetrics } from './metrics/relay-metrics.service';
import type { Clock } from './common/clock';
import type { Rng } from './common/rng';
import { answeredByOf, firstByteOf, watchFirstByte } from './common/answer-feed';
import type { RawBodyCarrier } from './protocol/request-carrier';

/** Options for tests and embedding. */
export interface CreateAppOptions {
  /** A pino destination stream (tests capture logs to assert that no secret is written). */
  logStream?: NodeJS.WritableStream;
  /** The file the config came from: POST /admin/config/reload, SIGHUP and the file watch reload it. */
  configPath?: string;
  /** The environment `${VAR}` in the file expands from on a reload (default process.env). */
  configEnv?: NodeJS.ProcessEnv;
  /** Watch the config file and reload it when it changes (default true when configPath is set). */
  watchConfig?: boolean;
  /** The clock of drills and delivered availability (tests drive a fake one). */
  clock?: Clock;
  /**
   * The clock and randomness of routing, key pools, circuit breakers and the probe job (see TimeModule): tests
   * move a fake clock past a cooldown instead of waiting it out.
   */
  time?: { clock?: Clock; rng?: Rng };
}

/** stdout for JSON logs, made on first use; flushed by flushLogs() at exit. */
let logDestination: BatchedLogStream | undefined;

/**
 * stdout in batches (BatchedLogStream: ~32 KiB or 100 ms): one write per batch instead of one per line. A write
 * error on stdout (the reader went away) stops the logging, never the relay.
 */
function stdoutDestination(): BatchedLogStream {
  if (!logDestination) {
    let broken = false;
    process.stdout.on('error', () => (broken = true));
    // Whatever ends the process (process.exit anywhere, an uncaught exception) writes the held lines first.
    process.once('exit', () => logDestination?.flushSync());
    logDestination = new BatchedLogStream({
      write: (chunk: string) => !broken && process.stdout.write(chunk),
      get writableLength() {
        return process.stdout.writableLength;
      },
    });
  }
  return logDestination;
}

/** Writes out buffered log lines (call before process.exit). */
export function flushLogs(): void {
  try {
    logDestination?.flushSync();
  } catch {
    // Nothing buffered, or stdout already closed.
  }
}

/**
 * A request refused on its request line and headers alone, before routing reads its body: HTTP/1.1 without Host
 * (Node's own answer would be an empty 400), and the `*` target (`OPTIONS *`), which names no resource.
 */
function earlyRefusal(req: FastifyRequest): RelayError | undefined {
  if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
    return new RelayError(
      RelayErrorCode.InvalidRequest,
      'the request has no Host header, which HTTP/1.1 requires',
    );
  }
  if (req.raw.url === '*') {
    return new RelayError(
      RelayErrorCode.MethodNotAllowed,
      `${req.method} * is not supported: the relay serves POST /v1/messages and GET /v1/models`,
      { allow: 'GET, POST' },
    );
  }
  return undefined;
}

/** performance.now as a plain function, made once (not a new closure per request). */
const performanceNow = (): number => performance.now();

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

function hasUtf8Bom(buf: Buffer): boolean {
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
}

/** Echo a sane client X-Request-ID so logs correlate across hops; otherwise make one. */
function genReqId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

function loggerOptions(config: RelayConfig, stream?: NodeJS.WritableStream) {
  const base = {
    level: config.logging.level,
    // Defence in depth: nothing logs headers, but if anyone ever does, credentials are censored.
    redact: {
      paths: [
        'req.headers["x-api-key"]',
        'req.headers.authorization',
        'headers["x-api-key"]',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  };
  if (stream) return { ...base, stream };
  if (config.logging.format === 'text') {
    return {
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: false, translateTime: 'SYS:standard' } },
    };
  }
  return { ...base, stream: stdoutDestination() };
}

/**
 * Builds the relay (the production entry point and the e2e tests both boot through here): Fastify tuned for a
 * proxy, a JSON parser that keeps the raw bytes (forwarded byte-exact), request ids, one access log line per
 * request, then the Nest application, initialised but not yet listening.
 */
export async function createApp(
  config: RelayConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  registerStatusReasons();
  const adapter = new FastifyAdapter({
    bodyLimit: config.server.max_body_bytes,
    logger: loggerOptions(config, options.logStream),
    genReqId,
    // req.log is made only when a request logs through it; the access line below uses the root logger.
    childLoggerFactory: LazyChildLogger.factory,
    // One access line per request is written by the onRequest hook below (it also covers hijacked streams).
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    // Longer than the usual 60 s load-balancer idle timeout, so the balancer closes idle connections first.
    keepAliveTimeout: 72_000,
    forceCloseConnections: 'idle',
    // The relay uses no Express-style middleware; middie would add a hook to every request.
    skipMiddie: true,
    // A missing Host is answered by the onRequest hook in Anthropic's shape; Node's own answer is an empty 400.
    http: { requireHostHeader: false },
    // Node's own bound on receiving a whole request, behind RequestLimits' (which answers sooner, in Anthropic's
    // shape): it also covers a body the relay never reads, e.g. after a 415, on a kept-alive connection.
    requestTimeout: config.server.body_timeout_ms,
    // Errors raised before routing (unparsable requests, malformed URLs) get Anthropic's error shape too.
    clientErrorHandler: (err, socket) => handleClientError(err, socket, randomUUID()),
    frameworkErrors: answerFrameworkError,
    // Everything after routing (the early credential check, the cache, the forwarded path) reads `/path?query`.
    rewriteUrl: (req: IncomingMessage) => originFormTarget(req.url ?? '/'),
  });
  const fastify = adapter.getInstance();
  // An unknown `Expect` and a CONNECT never reach Fastify's routes: Node answered them with an empty 417 and a
  // silent close.
  fastify.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    answerUnknownExpectation(req, res, randomUUID()),
  );
  fastify.server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
    answerConnect(socket, randomUUID()),
  );
  fastify.removeContentTypeParser('application/json');
  // A body in text/plain is refused like one without a content-type (415, naming application/json), not read as text.
  fastify.removeContentTypeParser('text/plain');
  const refuse = (reply: FastifyReply, requestId: string, err: RelayError) => {
    void replyError(reply, err, requestId);
  };
  const limits = new RequestLimits(config.server, fastify.log, refuse);
  // Before Node's own listener: a connection over its address's cap is answered and closed at once.
  fastify.server.prependListener('connection', (socket: Socket) => limits.onConnection(socket));
  fastify.server.on('error', (err: Error) => limits.onServerError(err));
  fastify.addHook('onClose', (_instance, done) => {
    limits.close();
    done();
  });
  fastify.addHook('preParsing', (req, _reply, payload, done) => {
    try {
      const counted = limits.countUndeclared(req, payload);
      done(null, decodeRequestBody(counted, req.headers['content-encoding'], config.server.max_body_bytes));
    } catch (err) {
      done(err as Error);
    }
  });
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    // A UTF-8 byte order mark (editors on Windows write one) is not JSON; it is dropped, also from what is forwarded.
    limits.bodyReceived(req);
    const raw = hasUtf8Bom(body as Buffer) ? (body as Buffer).subarray(3) : (body as Buffer);
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      (req as FastifyRequest & RawBodyCarrier).rawBody = raw;
      done(null, parsed);
    } catch (err) {
      done(
        new RelayError(RelayErrorCode.InvalidJson, `invalid JSON body: ${(err as Error).message}`),
        undefined,
      );
    }
  });

  const holder = new ConfigHolder(config, options.configPath, options.configEnv);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, holder, options.clock, options.time),
    adapter,
    {
      bufferLogs: true,
      bodyParser: false,
      abortOnError: false,
    },
  );
  app.useLogger(new PinoNestLogger(fastify.log));
  const drain = app.get(DrainState);
  const metrics = app.get(RelayMetrics);
  const accessLog = new AccessLog(fastify.log as Logger);
  // Rebuilt when a config reload replaces the client keys; the admin guard reads the running token itself.
  const clientAuths = new Derived((auth: RelayConfig['server']['auth']) => new ClientAuthenticator(auth));
  const adminAuth = new AdminAuthGuard(config);
  wireReload(app, holder, fastify.log as Logger, metrics);
  if (options.configPath !== undefined && options.watchConfig !== false) {
    const watcher = new ConfigWatcher(options.configPath, () => holder.reloadIfFileChanged('file'));
    watcher.start();
    fastify.addHook('onClose', (_instance, done) => {
      watcher.stop();
      done();
    });
  }
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id);
    // While draining, tell keep-alive clients to reconnect (to another replica) after this answer.
    if (!drain.isReady() && drain.phase === 'draining') void reply.header('connection', 'close');
    const started = performance.now();
    const answers =
      req.method === 'POST' && req.url.startsWith('/v1/messages') && !req.url.startsWith('/v1/messages/');
    if (answers) watchFirstByte(reply.raw, performanceNow);
    // 'close' is emitted once per response: `on` spares the wrapper `once` allocates on every request.
    reply.raw.on('close', () => {
      limits.finished(req);
      const ms = performance.now() - started;
      // Gone before any answer was sent: 499 (nginx's "client closed request"), not the 200 Node presets.
      const status = reply.raw.headersSent ? reply.raw.statusCode : 499;
      const aborted = !reply.raw.writableFinished;
      // The route pattern, not the raw URL, keeps metric label sets bounded.
      const route = req.routeOptions.url ?? 'unmatched';
      metrics.httpRequest(route, req.method, status, ms / 1000);
      const streamEnd = streamEndOf(reply.raw);
      if (answers) {
        const by = answeredByOf(reply.raw);
        const firstByte = firstByteOf(reply.raw);
        // A stream the upstream cut after its commit failed the client (booked as a 502); one the client left did not.
        const cut = streamEnd !== undefined && streamEnd.stream_end !== 'client_stalled';
        metrics.answer({
          at: 0,
          status: cut ? 502 : status,
          clientAborted: status === 499 || (aborted && !cut),
          latencyMs: ms,
          ttfbMs: firstByte === undefined ? undefined : firstByte - started,
          provider: by?.provider,
          model: by?.model,
          fallback: by?.fallback ?? false,
        });
      }
      // Unmatched: the path too (never the query string, which may carry a key), so the 404 says what was asked.
      const path = req.routeOptions.url === undefined ? pathOfUrl(req.url) : undefined;
      accessLog.write({ requestId: req.id, method: req.method, route, path, status, ms, aborted, streamEnd });
    });
    const refusedEarly = earlyRefusal(req);
    if (refusedEarly) {
      void reply.header('connection', 'close');
      refuse(reply, req.id, refusedEarly);
      return;
    }
    // Every /v1/ route needs a client key: checked before the body is read, so an unauthenticated client cannot
    // make the relay parse a 32 MiB body first. The route guard then only confirms it.
    if (req.url.startsWith('/v1/')) {
      const carrier = req as FastifyRequest & RawBodyCarrier;
      try {
        carrier.clientScope = clientAuths.of(config.server.auth).authenticate(req);
        carrier.relayAuthenticated = true;
      } catch (err) {
        if (!(err instanceof RelayError)) return done(err as Error);
        // The body is never read: the connection closes after the answer instead of draining it.
        void reply.header('connection', 'close');
        refuse(reply, req.id, err);
        return;
      }
    } else if (
      req.method !== 'GET' &&
      req.url.startsWith('/admin/') &&
      !req.url.startsWith(ADMIN_DOCS_PATH)
    ) {
      // An admin action's body is read only for a caller with the admin token (the route guard checks it again).
      const refused = adminAuth.refusal(req.headers.authorization);
      if (refused) {
        void reply.header('connection', 'close');
        refuse(reply, req.id, refused);
        return;
      }
    }
    if (!limits.admit(req, reply)) return;
    done();
  });
  await app.init();
  setupAdminDocs(app, config);
  setupStatusPage(app, config);
  return app;
}

/**
 * What a config reload changes beyond the shared config's sections: routing (strategy, runtimes, key pools, state
 * kept), the breakers (settings, providers), the log level; and what each reload says in the log and metrics.
 */
function wireReload(
  app: NestFastifyApplication,
  holder: ConfigHolder,
  log: Logger,
  metrics: RelayMetrics,
): void {
  const routing = app.get(RoutingService, { strict: false });
  const breakers = app.get(BreakerRegistry, { strict: false });
  holder.onApply((config) => {
    breakers.applyConfig(config);
    routing.applyConfig(config);
    log.level = config.logging.level;
  });
  holder.onReload((outcome) => {
    metrics.configReload(outcome.result);
    const { source } = outcome;
    if (outcome.result === 'invalid') {
      log.error(
        { source, problems: outcome.problems },
        `config reload refused, the relay keeps running on its current config (${outcome.problems.length} problem${
          outcome.problems.length === 1 ? '' : 's'
        }): ${outcome.problems.join('; ')}`,
      );
      return;
    }
    for (const field of outcome.restart) {
      log.warn(
        { source, field },
        `config reload: ${field} changed but needs a restart to apply; it keeps its running value`,
      );
    }
    if (outcome.result === 'applied') {
      log.info({ source, changed: outcome.changed, hash: holder.hash }, 'configuration reloaded');
    } else {
      log.info({ source }, 'config reload: the file holds the running config, nothing to change');
    }
  });
}

/** Splits `host:port` (IPv6 in brackets). */
export function parseListen(listen: string): { host: string; port: number } {
  const idx = listen.lastIndexOf(':');
  const host = listen.slice(0, idx).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(idx + 1)) };
}
