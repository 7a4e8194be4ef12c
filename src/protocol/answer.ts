import type { UpstreamErrorKind } from './outcome';

/**
 * What an answer is once an upstream attempt has run: the attempt loop, the stream relay, the cache and the
 * metrics all read these types, so they live on the protocol floor.
 */

/** Token usage of one answer, as the key pool and metrics need it. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

/** How one attempt ended, as the attempt loop needs it. */
export type AttemptResult =
  /** The answer reached the client (JSON sent, or a stream that ran to its end or failed after the commit). */
  | {
      kind: 'delivered';
      status: number;
      headers: Record<string, string>;
      usage: Usage;
      model?: string;
      /** JSON answers: the bytes sent (the cache stores them). */
      body?: Buffer;
      /** Streams: the raw SSE bytes, kept only when the caller asked to capture them (cache) and within its limit. */
      streamBytes?: Buffer[];
      /** Streams: capture was asked for, but the stream outgrew the limit (so nothing was kept). */
      captureOverflowed?: boolean;
      /** Streams: capture was asked for, but the captures in flight had spent their shared budget. */
      captureRefused?: boolean;
      /** Streams: whether the answer ran to message_stop. */
      completed: boolean;
      /** Streams that failed after the commit point: what went wrong (counts against the provider). */
      failure?: UpstreamErrorKind | 'upstream_error_event';
      stopReason?: string;
    }
  /**
   * The upstream answered with a non-success status, or a stream began with an `event: error` (as the status its
   * type stands for); nothing was sent to the client yet.
   */
  | {
      kind: 'status';
      status: number;
      headers: Record<string, string>;
      rawHeaders: Record<string, string | string[] | undefined>;
      body: Buffer;
    }
  /** The exchange failed before anything was sent to the client. */
  | { kind: 'error'; error: UpstreamErrorKind; message: string }
  /** The client went away. */
  | { kind: 'cancelled' };

/** A delivered answer with where it came from (the cache stores it; metrics label it). */
export type DeliveredAnswer = Extract<AttemptResult, { kind: 'delivered' }> & {
  provider: string;
  model: string;
};
