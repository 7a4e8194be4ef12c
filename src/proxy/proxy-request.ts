import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Cancellation } from '../common/cancellation';
import { bodyFactsOf, type ProxyEndpoint, type RawBodyCarrier } from '../protocol/request-carrier';

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

/** Builds the ProxyRequest from Fastify's request. */
export function toProxyRequest(
  req: FastifyRequest,
  endpoint: ProxyEndpoint,
  signal: Cancellation,
): ProxyRequest {
  const carrier = req as FastifyRequest & RawBodyCarrier;
  const { model, stream } = bodyFactsOf(carrier);
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
