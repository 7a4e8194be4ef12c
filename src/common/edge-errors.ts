import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { rawErrorResponse, writeError } from '../protocol/error-writer';
import type { AnthropicErrorType } from '../protocol/relay-error';
import { replyError } from './reply-error';

/** What Node's HTTP parser errors and the request timeout stand for, as Anthropic-shaped answers. */
function clientErrorShape(code: string | undefined): {
  status: number;
  type: AnthropicErrorType;
  message: string;
} {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        type: 'invalid_request_error',
        message: 'the request line or headers are larger than the relay accepts',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, type: 'timeout_error', message: 'the request was not received in time' };
    default:
      return { status: 400, type: 'invalid_request_error', message: 'malformed HTTP request' };
  }
}

/**
 * The raw HTTP/1.1 answer to a request Node could not parse (oversized headers or URL, a bad request line,
 * conflicting framing, a request that arrived too slowly). These never reach Fastify's routes or Nest's filter,
 * so without this they got Fastify's `{"error","message","statusCode"}` body, which SDKs cannot read.
 */
export function clientErrorResponse(code: string | undefined, requestId: string): string {
  const { status, type, message } = clientErrorShape(code);
  return rawErrorResponse(status, type, message, requestId);
}

/** Fastify's `clientErrorHandler`: the Anthropic-shaped answer, then the socket is closed (it cannot be reused). */
export function handleClientError(err: Error & { code?: string }, socket: Socket, requestId: string): void {
  // A reset socket is gone; one with a response already on the wire must not get a second status line.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) socket.write(clientErrorResponse(err.code, requestId));
  socket.destroy(err);
}

/**
 * Fastify's `frameworkErrors`: a URL whose percent-encoding is malformed (`/v1/models/%zz`) or whose path
 * parameter is too long fails in the router, before any hook or Nest filter runs.
 */
export function answerFrameworkError(error: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const [status, type, message]: [number, AnthropicErrorType, string] =
    error.code === 'FST_ERR_BAD_URL'
      ? [400, 'invalid_request_error', 'the request URL is not validly percent-encoded']
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? [414, 'invalid_request_error', 'a path segment of the request URL is too long']
        : [500, 'api_error', 'internal relay error'];
  void replyError(reply, { status, type, message, headers: { 'x-request-id': req.id } }, req.id);
}

/**
 * The server's `checkExpectation` listener: a request whose `Expect` is not `100-continue` (which Node answers
 * itself). Without it Node sent an empty 417.
 */
export function answerUnknownExpectation(req: IncomingMessage, res: ServerResponse, requestId: string): void {
  const answer = {
    status: 417,
    type: 'invalid_request_error',
    message: 'unsupported Expect header: the relay only understands "Expect: 100-continue"',
  };
  writeError(res, answer, requestId, { 'x-request-id': requestId, connection: 'close' });
  req.resume();
}

/**
 * The server's `connect` listener: a CONNECT request (a client taking the relay for a forward proxy). Without it
 * Node closed the connection without an answer.
 */
export function answerConnect(socket: Duplex, requestId: string): void {
  socket.on('error', () => {});
  socket.end(
    rawErrorResponse(
      405,
      'invalid_request_error',
      'CONNECT is not supported: the relay is not a forward proxy; send POST /v1/messages to it directly',
      requestId,
      'Allow: GET, POST\r\n',
    ),
  );
}
