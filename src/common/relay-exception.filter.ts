import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { writeError } from '../protocol/error-writer';
import { errorTypeOfStatus, RelayError, type AnthropicErrorType } from '../protocol/relay-error';
import { notFoundMessage } from './not-found';
import { replyError } from './reply-error';

/** An error of Fastify's own that is the client's fault (a 4xx `statusCode`: body too large, bad content-type). */
function isFastifyClientError(err: unknown): err is { statusCode: number; code?: string; message?: string } {
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** Fastify's own errors that are really the client's fault, with a message that says what to fix. */
function describeFastifyError(code: string | undefined, fallback: string, maxBytes?: number): string {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than the relay accepts (server.max_body_bytes${maxBytes ? ` = ${maxBytes}` : ''})`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported or missing content-type: send content-type: application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the request body is empty: send a JSON object';
    default:
      return fallback;
  }
}

/**
 * The one place that shapes relay-made errors: Anthropic's `{"type":"error","error":{...},"request_id"}` with the
 * right status. No stack trace or internal detail leaves the process; 5xx causes are logged with the request id.
 * When a stream has already started, the error becomes an SSE `error` event instead (the status is gone).
 */
@Catch()
export class RelayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly maxBodyBytes?: number) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const req = ctx.getRequest<FastifyRequest>();
    const { status, type, message, headers } = this.describe(exception, req);
    const requestId = req?.id;
    if (status >= 500) {
      (req?.log ?? this.logger).error({ err: exception, status }, 'request failed');
    }
    const answer = { status, type, message, headers };
    if (reply.raw.headersSent) {
      writeError(reply.raw, answer, requestId);
      return;
    }
    void replyError(reply, answer, requestId);
  }

  private describe(
    exception: unknown,
    req: FastifyRequest | undefined,
  ): {
    status: number;
    type: AnthropicErrorType;
    message: string;
    headers: Record<string, string>;
  } {
    if (exception instanceof RelayError) {
      return {
        status: exception.status,
        type: exception.type,
        message: exception.message,
        headers: exception.headers,
      };
    }
    // Nest's Fastify adapter wraps Fastify's own 4xx errors (body too large, unsupported content-type) in an
    // HttpException whose cause is the original: its code picks the message that says what to fix.
    const fastifyErr = exception instanceof HttpException ? exception.cause : exception;
    if (isFastifyClientError(fastifyErr)) {
      const status = fastifyErr.statusCode;
      const message = describeFastifyError(
        fastifyErr.code,
        fastifyErr.message ?? 'bad request',
        this.maxBodyBytes,
      );
      return { status, type: errorTypeOfStatus(status), message, headers: {} };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      // Nest's 404 for a path no route serves: say which request missed (and why, for the /v1/v1/ mistake).
      const message =
        status === 404 ? (req ? notFoundMessage(req.method, req.url) : 'not found') : exception.message;
      return {
        status,
        type: errorTypeOfStatus(status),
        message,
        headers: {},
      };
    }
    return { status: 500, type: 'api_error', message: 'internal relay error', headers: {} };
  }
}
