import { STATUS_CODES, type ServerResponse } from 'node:http';
import { errorBody } from './relay-error';
import { formatSseEvent } from './sse-scanner';

/**
 * The one writer of error answers in Anthropic's shape (`{"type":"error","error":{"type","message"},"request_id"}`):
 * as JSON text, as the SSE `error` event that ends a stream whose status is already gone, on a Node response, or as
 * raw HTTP/1.1 bytes for a socket no framework holds. Fastify replies use common/reply-error.ts, which builds on it.
 */

/** What an error answer says (a RelayError is one). The message must never contain a secret: callers describe, they never echo keys. */
export interface ErrorAnswer {
  status: number;
  /** Anthropic's error type (an upstream's own type passes through as it came). */
  type: string;
  message: string;
  /** Headers of the error's own (retry-after, x-should-retry). */
  headers?: Readonly<Record<string, string>>;
}

/** The error body as JSON text. */
export function errorJson(type: string, message: string, requestId?: string): string {
  return JSON.stringify(errorBody(type, message, requestId));
}

/** The SSE `error` event that ends a stream (its status went out with the first event). */
export function errorEvent(type: string, message: string, requestId?: string): string {
  return formatSseEvent('error', errorBody(type, message, requestId));
}

/**
 * Writes an error on a Node response: the JSON answer with its status while nothing was sent (`headers` first, then
 * the error's own), the SSE `error` event once a stream has started, nothing on a response already ended.
 */
export function writeError(
  res: ServerResponse,
  answer: ErrorAnswer,
  requestId: string | undefined,
  headers: Readonly<Record<string, string | number>> = {},
): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.headersSent) {
    res.end(errorEvent(answer.type, answer.message, requestId));
    return;
  }
  const text = errorJson(answer.type, answer.message, requestId);
  res.writeHead(answer.status, {
    ...headers,
    ...answer.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * A complete HTTP/1.1 error answer that closes the connection, as bytes to write on a socket that no framework
 * holds (a request Node could not parse, a connection refused before its request). `extraHeaders` are header
 * lines, each ending in CRLF.
 */
export function rawErrorResponse(
  status: number,
  type: string,
  message: string,
  requestId: string,
  extraHeaders = '',
): string {
  const body = errorJson(type, message, requestId);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    `Content-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-ID: ${requestId}\r\n` +
    extraHeaders +
    `Connection: close\r\n\r\n${body}`
  );
}
