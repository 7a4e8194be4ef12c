import type { FastifyBaseLogger } from 'fastify';
import type { ServerResponse } from 'node:http';
import { writeError } from '../protocol/error-writer';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';

/**
 * Answers an unexpected error on a response the handler has taken over from Fastify: a JSON error while nothing
 * was sent, an SSE `error` event once a stream has started (its status is gone), never a clean end.
 */
export function writeRelayError(
  res: ServerResponse,
  err: unknown,
  requestId: string,
  headers: Record<string, string>,
  log: FastifyBaseLogger,
): void {
  const relayErr =
    err instanceof RelayError ? err : new RelayError(RelayErrorCode.Internal, 'internal relay error');
  if (!(err instanceof RelayError)) log.error({ err }, 'unexpected error while proxying');
  writeError(res, relayErr, requestId, headers);
}
