import type { ServerResponse } from 'node:http';
import type { Cancellation } from '../common/cancellation';
import type { SecretMasker } from '../config/mask';
import type { CaptureBudget } from '../protocol/capture-budget';
import type { HeaderList } from '../protocol/upstream-headers';
import type { ResponseTranslation } from '../providers/provider-adapter';

/** What the attempt needs besides the upstream request. */
export interface AttemptOptions {
  res: ServerResponse;
  /** Appends the relay's own response headers (request id, cache status, debug headers) to the answer's. */
  addHeaders: (out: HeaderList) => void;
  stream: boolean;
  ttftTimeoutMs: number;
  stallTimeoutMs: number;
  /** Streams: how long a client may take no byte (the relay waiting on its back-pressure) before it is let go. */
  clientStallTimeoutMs?: number;
  /** Streams: commit at the upstream's 2xx headers (routing.commit: headers) instead of the first content event. */
  commitOnHeaders?: boolean;
  /** Keep a copy of up to this many streamed bytes for the cache (0: keep none). */
  captureLimitBytes: number;
  /** Shared by every capture in flight; a stream that does not fit is not captured. */
  captureBudget?: CaptureBudget;
  /** Registers a function the graceful stop calls to end this stream; returns the unregister function. */
  onCommitted?: (forceStop: () => void) => void;
  requestId: string;
  /** Cancelled when the client goes away. */
  clientSignal: Cancellation;
  /** Masks the relay's keys in what an upstream error says (bodies of error statuses, pre-content error events). */
  masker?: SecretMasker;
  /** The provider's name, for the log line of a stream cut after its commit. */
  provider?: string;
  /** The request's logger: a stream cut after its commit (upstream failure, client stopped reading) says so there. */
  log?: { warn(obj: object, msg: string): void };
  /** Prefix for the thinking signatures of a non-Claude provider's answer (see thinking-signatures.ts). */
  signatureTag?: string;
  /** A vendor whose answers are not Anthropic's as they are (Bedrock's event stream, Google's errors). */
  translation?: ResponseTranslation;
}
