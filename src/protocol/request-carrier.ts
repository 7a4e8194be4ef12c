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
