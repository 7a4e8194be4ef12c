import type { FastifyReply } from 'fastify';
import { errorJson, type ErrorAnswer } from '../protocol/error-writer';

/**
 * Sends an error answer through Fastify (protocol/error-writer.ts is the one writer; this is its Fastify form):
 * the error's own headers, its status and the JSON body. The request's own hooks (x-request-id, access log) run as
 * for any answer.
 */
export function replyError(
  reply: FastifyReply,
  answer: ErrorAnswer,
  requestId: string | undefined,
): FastifyReply {
  if (answer.headers) reply.headers(answer.headers);
  return reply
    .code(answer.status)
    .type('application/json')
    .send(errorJson(answer.type, answer.message, requestId));
}
