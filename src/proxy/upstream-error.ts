import type { UpstreamErrorKind } from '../protocol/outcome';

/** Largest upstream error/JSON answer the relay holds in memory (answers are far smaller; protects the heap). */
export const MAX_BUFFERED_ANSWER_BYTES = 64 * 1024 * 1024;

/** A failed upstream exchange before or during the body, with the kind the outcome classifier understands. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const BY_CODE: Record<string, UpstreamErrorKind> = {
  ECONNREFUSED: 'connect_refused',
  EHOSTUNREACH: 'connect_refused',
  ENETUNREACH: 'connect_refused',
  EADDRNOTAVAIL: 'connect_refused',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_HEADERS_TIMEOUT: 'headers_timeout',
  UND_ERR_BODY_TIMEOUT: 'body_timeout',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol',
  HPE_INVALID_CONSTANT: 'protocol',
  UND_ERR_INFO: 'protocol',
};

/** Maps an undici / socket error to the outcome classifier's kind; unknown errors count as a reset. */
export function upstreamErrorKind(err: unknown): UpstreamErrorKind {
  if (err instanceof UpstreamError) return err.kind;
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && BY_CODE[code]) return BY_CODE[code];
    cur = (cur as { cause?: unknown }).cause;
  }
  return 'reset';
}

/** A message for logs and client errors that names what happened, never a key or a full upstream URL query. */
export function describeUpstreamError(kind: UpstreamErrorKind): string {
  switch (kind) {
    case 'connect_refused':
      return 'the upstream refused the connection';
    case 'connect_timeout':
      return 'connecting to the upstream timed out';
    case 'dns':
      return 'the upstream host name did not resolve';
    case 'reset':
      return 'the upstream closed the connection';
    case 'headers_timeout':
      return 'the upstream did not answer in time';
    case 'pool_timeout':
      return "no connection to the upstream came free in time (all of the provider's max_connections were busy)";
    case 'body_timeout':
      return 'the upstream stopped sending its answer';
    case 'ttft_timeout':
      return 'the upstream sent no content before the time-to-first-token deadline';
    case 'stall':
      return 'the upstream stream stalled';
    case 'protocol':
      return 'the upstream answer was malformed';
    case 'too_large':
      return `the provider's answer exceeded ${MAX_BUFFERED_ANSWER_BYTES} bytes, the most the relay holds`;
  }
}
