/**
 * OpenAI (and OpenAI-compatible) error answers -> Anthropic's error shape and status, so the relay's outcome
 * classifier, retries and breakers treat them like Anthropic's own. Pure: no I/O, no Nest.
 */

import { errorTypeOfStatus, type AnthropicErrorType } from '../../protocol/relay-error';

type Json = Record<string, unknown>;

/** The Anthropic status and error an upstream OpenAI error becomes. */
export interface MappedError {
  status: number;
  type: AnthropicErrorType;
  message: string;
}

/** Quota / billing codes OpenAI and compatible servers send with a 429 that waiting will not fix. */
const QUOTA_CODES = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'billing_not_active']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `error` object of an OpenAI error body (also Gemini's `[{"error":…}]` and a bare string body). */
function errorObject(body: unknown): Json {
  let parsed = body;
  if (Buffer.isBuffer(parsed)) parsed = parsed.toString('utf8');
  if (typeof parsed === 'string') {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      return { message: parsed };
    }
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (isObject(parsed) && isObject(parsed.error)) return parsed.error;
  if (isObject(parsed) && typeof parsed.error === 'string') return { message: parsed.error };
  return isObject(parsed) ? parsed : {};
}

/**
 * The Anthropic status an OpenAI status stands for, where the relay knows it; the error type then follows from the
 * relay's one status <-> type table (errorTypeOfStatus). 408 is a timeout, 422 a bad request, and OpenAI's 503
 * ("engine overloaded") Anthropic's 529.
 */
const ANTHROPIC_STATUS_OF: Readonly<Record<number, number>> = {
  400: 400,
  401: 401,
  402: 402,
  403: 403,
  404: 404,
  408: 504,
  409: 409,
  413: 413,
  422: 400,
  429: 429,
  500: 500,
  502: 502,
  503: 529,
  504: 504,
};

/**
 * Maps an upstream OpenAI error (HTTP status and body: text, bytes or parsed JSON) to an Anthropic status and
 * error. A 429 whose code says the account is out of quota is a 402 `billing_error`, not a rate limit: no wait
 * fixes it, so it must not be retried on the same key as a transient 429 would be. 503 (OpenAI's "engine
 * overloaded") is Anthropic's 529; other 5xx are `api_error` with their status.
 */
export function mapOpenAIError(status: number, body: unknown): MappedError {
  const error = errorObject(body);
  const code = typeof error.code === 'string' ? error.code : undefined;
  const kind = typeof error.type === 'string' ? error.type : undefined;
  // OpenAI's 401 message quotes part of the key it refused ("Incorrect API key provided: sk-ab***yz"): the
  // relay's key never reaches a client, even masked.
  const upstreamMessage =
    status !== 401 && typeof error.message === 'string' && error.message.length > 0
      ? error.message
      : undefined;
  const message = `OpenAI-compatible provider answered ${status}${upstreamMessage ? `: ${upstreamMessage}` : ''}`;

  if (QUOTA_CODES.has(code ?? '') || QUOTA_CODES.has(kind ?? '')) {
    return { status: 402, type: 'billing_error', message };
  }
  const known = ANTHROPIC_STATUS_OF[status];
  if (known !== undefined) return { status: known, type: errorTypeOfStatus(known), message };
  if (status >= 500) return { status, type: 'api_error', message };
  if (status >= 400) return { status: 400, type: 'invalid_request_error', message };
  return { status: 500, type: 'api_error', message };
}

/** The error a mid-stream `data: {"error":…}` chunk becomes (its status, when it carries one, else a 500). */
export function mapStreamError(error: unknown): MappedError {
  const e = isObject(error) ? error : {};
  const status = typeof e.status === 'number' ? e.status : typeof e.code === 'number' ? e.code : 500;
  return mapOpenAIError(status, { error: e });
}

/**
 * The error a 2xx JSON answer carries instead of a completion (some compatible gateways answer errors with 200),
 * or undefined for a real answer; the wiring checks this before `fromChatCompletion`.
 */
export function errorInAnswer(json: unknown): MappedError | undefined {
  if (!isObject(json) || json.error === undefined || json.error === null || Array.isArray(json.choices)) {
    return undefined;
  }
  return mapStreamError(json.error);
}
