import type { CaptureBudget } from './capture-budget';
import { RelayError, RelayErrorCode } from './relay-error';

/**
 * What a client request carries through the relay's floors before the attempt loop takes it: the endpoint, the raw
 * body the JSON parser kept, and the checks every floor makes of a body (guard, cache, proxy).
 */

/** The two POST endpoints the relay forwards. */
export type ProxyEndpoint = 'messages' | 'count_tokens';

/** What the JSON body parser leaves on the Fastify request. */
export interface RawBodyCarrier {
  rawBody?: Buffer;
  clientScope?: string;
  /** Set once the client's credentials were checked (clientScope is then final). */
  relayAuthenticated?: boolean;
  /** What the relay's layers (cache interceptor, controller) tell each other about the request. */
  relay?: RequestSlot;
}

/** The checks of a body that routing needs (see readProxyBody). */
export interface BodyFacts {
  model: string;
  stream: boolean;
}

/**
 * One typed slot on the Fastify request, in place of loose properties: what one layer learned of the request and
 * the next one needs, so nothing is sniffed or parsed twice.
 */
export interface RequestSlot {
  /** The body's facts, read once by the first layer that needed them. */
  facts?: BodyFacts;
  /**
   * The cache stores this stream's answer: keep up to limitBytes of its bytes (a longer stream is relayed in full
   * but not kept), within what all captures in flight may hold together.
   */
  capture?: { limitBytes: number; budget: CaptureBudget };
}

/** The request's slot, made on first use. */
export function slotOf(req: RawBodyCarrier): RequestSlot {
  return (req.relay ??= {});
}

/** readProxyBody, once per request: the facts a layer before already read are taken from the slot. */
export function bodyFactsOf(req: RawBodyCarrier & { body?: unknown }): BodyFacts {
  const known = req.relay?.facts;
  if (known) return known;
  const facts = readProxyBody(req.body);
  slotOf(req).facts = facts;
  return facts;
}

/** Checks the parsed body enough to route it; the upstream validates the rest. */
export function readProxyBody(body: unknown): BodyFacts {
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
