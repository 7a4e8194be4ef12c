/** Every error the relay itself produces, by code. */
export enum RelayErrorCode {
  Unauthorized = 'unauthorized',
  AdminUnauthorized = 'admin_unauthorized',
  NotFound = 'not_found',
  MethodNotAllowed = 'method_not_allowed',
  InvalidJson = 'invalid_json',
  InvalidRequest = 'invalid_request',
  BodyTooLarge = 'body_too_large',
  RequestTimeout = 'request_timeout',
  UnsupportedMediaType = 'unsupported_media_type',
  UpstreamUnreachable = 'upstream_unreachable',
  UpstreamTimeout = 'upstream_timeout',
  UpstreamProtocol = 'upstream_protocol',
  ProviderKeyRejected = 'provider_key_rejected',
  NoProviderAvailable = 'no_provider_available',
  RateLimited = 'rate_limited',
  Overloaded = 'overloaded',
  ShuttingDown = 'shutting_down',
  /** The request bodies in flight fill server.max_inflight_body_bytes. */
  Busy = 'busy',
  CacheUnavailable = 'cache_unavailable',
  Internal = 'internal',
}

/** Anthropic `error.type` values the relay uses. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/**
 * The one status <-> type table: the HTTP status each documented Anthropic error type stands for (protocol doc
 * §1.4). Read both ways: an upstream error event's type gives the status it is classified by, and a status gives
 * the type of an error the relay words itself.
 */
export const STATUS_OF_ERROR_TYPE = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const satisfies Record<AnthropicErrorType, number>;

const TYPE_BY_STATUS: ReadonlyMap<number, AnthropicErrorType> = new Map(
  Object.entries(STATUS_OF_ERROR_TYPE).map(([type, status]) => [status, type as AnthropicErrorType]),
);

/** The Anthropic error type an HTTP error status stands for (another 5xx: api_error; another 4xx: invalid_request_error). */
export function errorTypeOfStatus(status: number): AnthropicErrorType {
  return TYPE_BY_STATUS.get(status) ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** The HTTP status an Anthropic error type stands for; a type the docs do not list yet is an internal error (500). */
export function statusOfErrorType(type: string): number {
  return Object.hasOwn(STATUS_OF_ERROR_TYPE, type) ? STATUS_OF_ERROR_TYPE[type as AnthropicErrorType] : 500;
}

interface ErrorShape {
  status: number;
  type: AnthropicErrorType;
}

/** The compiler checks that every code has a status and an Anthropic error type. */
export const RELAY_ERROR_SHAPES = {
  [RelayErrorCode.Unauthorized]: { status: 401, type: 'authentication_error' },
  [RelayErrorCode.AdminUnauthorized]: { status: 401, type: 'authentication_error' },
  [RelayErrorCode.NotFound]: { status: 404, type: 'not_found_error' },
  [RelayErrorCode.MethodNotAllowed]: { status: 405, type: 'invalid_request_error' },
  [RelayErrorCode.InvalidJson]: { status: 400, type: 'invalid_request_error' },
  [RelayErrorCode.InvalidRequest]: { status: 400, type: 'invalid_request_error' },
  [RelayErrorCode.BodyTooLarge]: { status: 413, type: 'request_too_large' },
  [RelayErrorCode.RequestTimeout]: { status: 408, type: 'timeout_error' },
  [RelayErrorCode.UnsupportedMediaType]: { status: 415, type: 'invalid_request_error' },
  [RelayErrorCode.UpstreamUnreachable]: { status: 502, type: 'api_error' },
  [RelayErrorCode.UpstreamTimeout]: { status: 504, type: 'timeout_error' },
  [RelayErrorCode.UpstreamProtocol]: { status: 502, type: 'api_error' },
  [RelayErrorCode.ProviderKeyRejected]: { status: 502, type: 'api_error' },
  [RelayErrorCode.NoProviderAvailable]: { status: 503, type: 'overloaded_error' },
  [RelayErrorCode.RateLimited]: { status: 429, type: 'rate_limit_error' },
  [RelayErrorCode.Overloaded]: { status: 529, type: 'overloaded_error' },
  [RelayErrorCode.ShuttingDown]: { status: 503, type: 'overloaded_error' },
  [RelayErrorCode.Busy]: { status: 503, type: 'overloaded_error' },
  [RelayErrorCode.CacheUnavailable]: { status: 503, type: 'api_error' },
  [RelayErrorCode.Internal]: { status: 500, type: 'api_error' },
} satisfies Record<RelayErrorCode, ErrorShape>;

/**
 * The one error type of the relay. `headers` go on the response as they are (retry-after, x-should-retry).
 * Messages must never contain a secret: callers describe, they never echo keys.
 */
export class RelayError extends Error {
  readonly status: number;
  readonly type: AnthropicErrorType;

  constructor(
    readonly code: RelayErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RelayError';
    const shape = RELAY_ERROR_SHAPES[code];
    this.status = shape.status;
    this.type = shape.type;
  }
}

/** Anthropic's error body: `{"type":"error","error":{"type","message"},"request_id"}`. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

/** Builds the Anthropic error body. */
export function errorBody(type: string, message: string, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type, message } };
  if (requestId) body.request_id = requestId;
  return body;
}
