import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Cancellation } from '../common/cancellation';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';

/** The two POST endpoints the relay forwards. */
export type ProxyEndpoint = 'messages' | 'count_tokens';

/** Everything the attempt loop needs to know about one client request. */
export interface ProxyRequest {
  id: string;
  log: FastifyBaseLogger;
  endpoint: ProxyEndpoint;
  /** Path and query as the client sent them; the query (`?beta=true`) is forwarded unchanged. */
  pathAndQuery: string;
  headers: IncomingHttpHeaders;
  /**
   * The body bytes as received: forwarded byte-exact unless the provider maps the model name (bodyWithModel). The
   * parsed body is not kept: a Claude Code request's tree of thousands of objects would otherwise live as long as
   * its stream (minutes) and reach the old generation.
   */
  rawBody: Buffer;
  model: string;
  stream: boolean;
  /** Identifies the relay client key that authenticated the request (never the key itself). */
  clientScope: string | undefined;
  /** Cancelled when the client goes away. */
  signal: Cancellation;
  startedAt: number;
}

/** What the JSON body parser leaves on the Fastify request. */
export interface RawBodyCarrier {
  rawBody?: Buffer;
  clientScope?: string;
  /** Set once the client's credentials were checked (clientScope is then final). */
  relayAuthenticated?: boolean;
}

/** Checks the parsed body enough to route it; the upstream validates the rest. */
export function readProxyBody(body: unknown): { model: string; stream: boolean } {
  // A text/plain body (fetch() with a string body and no content-type sends one) is read as text, not JSON.
  if (typeof body === 'string') {
    throw new RelayError(
      RelayErrorCode.InvalidRequest,
      'the request body must be JSON sent with content-type: application/json',
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RelayError(RelayErrorCode.InvalidRequest, 'the request body must be a JSON object');
  }
  const model = (body as { model?: unknown }).model;
  if (typeof model !== 'string' || model.length === 0) {
    throw new RelayError(RelayErrorCode.InvalidRequest, 'model: a non-empty string is required');
  }
  const stream = (body as { stream?: unknown }).stream === true;
  return { model, stream };
}

/** Builds the ProxyRequest from Fastify's request. */
export function toProxyRequest(
  req: FastifyRequest,
  endpoint: ProxyEndpoint,
  signal: Cancellation,
): ProxyRequest {
  const carrier = req as FastifyRequest & RawBodyCarrier;
  const { model, stream } = readProxyBody(req.body);
  const preq: ProxyRequest = {
    id: req.id,
    log: req.log,
    endpoint,
    pathAndQuery: req.url,
    headers: req.headers,
    rawBody: carrier.rawBody ?? Buffer.from(JSON.stringify(req.body)),
    model,
    stream: endpoint === 'messages' && stream,
    clientScope: carrier.clientScope,
    signal,
    startedAt: Date.now(),
  };
  // Everything after this point reads the raw bytes (see rawBody); Fastify's request would keep the tree alive.
  (req as { body: unknown }).body = undefined;
  return preq;
}

/** The body to send a provider that maps the model: the client's JSON with `model` replaced. */
export function bodyWithModel(rawBody: Buffer, model: string): string {
  const parsed = JSON.parse(rawBody.toString('utf8')) as Record<string, unknown>;
  return JSON.stringify({ ...parsed, model });
}

/**
 * The 400 for a body nested so deeply that a walk over it overflowed the stack (a RangeError from JSON.stringify or
 * a recursive walk), or undefined for any other error. V8's JSON.parse is not recursive and takes such a body; the
 * relay's rewrites of it (model mapping, thinking signatures) and the cache key are, so they turn the overflow into
 * this answer (or, for the cache, a bypass) instead of an internal error. Real Messages requests nest a few dozen
 * levels; the walks overflow at several thousand.
 */
export function tooDeeplyNested(err: unknown): RelayError | undefined {
  if (!(err instanceof RangeError) || !/call stack/i.test(err.message)) return undefined;
  return new RelayError(
    RelayErrorCode.InvalidRequest,
    'the request body nests arrays and objects too deeply to be processed (thousands of levels; a Messages request nests a few dozen)',
  );
}
