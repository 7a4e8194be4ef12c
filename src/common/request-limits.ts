import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { RelayConfig } from '../config/relay-config';
import {
  BodyDeadlines,
  ConnectionsPerAddress,
  InflightBodyBudget,
  type BodyExpiry,
  type BodyInProgress,
} from './body-limits';
import { systemClock } from './clock';
import { rawErrorResponse } from '../protocol/error-writer';
import { RateLimitedWarn } from './rate-limited-warn';
import { RelayError, RelayErrorCode } from '../protocol/relay-error';

/** A body's rate is judged after this long (or after the whole timeout, when that is shorter). */
const RATE_GRACE_MS = 3_000;
/** Limits hit are logged at most once per this per kind, with the count of the ones swallowed. */
const WARN_INTERVAL_MS = 10_000;
/** What a request refused for the in-flight body bound is told to wait. */
const OVERLOAD_RETRY_AFTER_S = 1;

/** What one request holds of the limits. */
interface RequestShare extends BodyInProgress {
  /** Bytes of the in-flight body budget this request holds. */
  held: number;
  tracked: boolean;
  expire(why: BodyExpiry): void;
}

const kShare = Symbol('ccRelayBodyShare');
type WithShare = FastifyRequest & { [kShare]?: RequestShare };

/**
 * The request-body limits of issue 17 wired to Fastify and the HTTP server: `server.body_timeout_ms` and
 * `server.body_min_bytes_per_s` (408 and the connection closed), `server.max_inflight_body_bytes` (503
 * overloaded_error with retry-after, before the body is read when Content-Length tells) and
 * `server.max_connections_per_ip` (the connection answered 429 and closed). Each limit that bites is logged,
 * rate-limited.
 */
export class RequestLimits {
  private readonly deadlines: BodyDeadlines<RequestShare>;
  private readonly budget: InflightBodyBudget;
  private readonly connections: ConnectionsPerAddress;
  private readonly warnings: RateLimitedWarn;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: RelayConfig['server'],
    log: { warn(message: string): void },
    private readonly refuse: (reply: FastifyReply, requestId: string, err: RelayError) => void,
  ) {
    this.deadlines = new BodyDeadlines({
      timeoutMs: server.body_timeout_ms,
      minBytesPerSecond: server.body_min_bytes_per_s,
      graceMs: server.body_timeout_ms > 0 ? Math.min(RATE_GRACE_MS, server.body_timeout_ms) : RATE_GRACE_MS,
    });
    this.budget = new InflightBodyBudget(server.max_inflight_body_bytes);
    this.connections = new ConnectionsPerAddress(server.max_connections_per_ip);
    this.warnings = new RateLimitedWarn(log, systemClock, WARN_INTERVAL_MS);
  }

  /** Bytes of request bodies the requests in flight hold now. */
  get inflightBodyBytes(): number {
    return this.budget.used;
  }

  /** The HTTP server's `connection` listener (prepended): a connection over its address's cap is answered and closed. */
  onConnection(socket: Socket): void {
    if (this.connections.max === 0) return;
    const address = socket.remoteAddress ?? '';
    if (this.connections.tryOpen(address)) {
      socket.once('close', () => this.connections.close(address));
      return;
    }
    this.warnings.warn(
      'connections_per_ip',
      `client ${address} already holds server.max_connections_per_ip (${this.connections.max}) connections: a new one was refused`,
    );
    socket.on('error', () => {});
    socket.end(
      rawErrorResponse(
        429,
        'rate_limit_error',
        `too many open connections from this address (server.max_connections_per_ip = ${this.connections.max})`,
        randomUUID(),
        'Retry-After: 1\r\n',
      ),
    );
    socket.destroySoon();
  }

  /**
   * The HTTP server's `error` listener: a failed accept (EMFILE: out of file descriptors, e.g. held by slow
   * clients) refuses every new client without a word otherwise.
   */
  onServerError(err: Error & { code?: string; syscall?: string }): void {
    if (err.syscall !== 'accept') return;
    this.warnings.warn(
      'accept',
      `cannot accept connections (${err.code ?? err.message}): new clients are refused until descriptors free up`,
    );
  }

  /**
   * From the onRequest hook, for an accepted request: takes its declared body length from the in-flight budget
   * (or refuses it, before a byte of the body is read) and starts its body deadlines. False: refused and answered.
   */
  admit(req: FastifyRequest, reply: FastifyReply): boolean {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if ((length === undefined || length === '0') && !chunked) return true;
    const declared = chunked ? 0 : Number(length);
    if (declared > 0 && !this.budget.tryTake(declared)) {
      this.overloaded(req, reply);
      return false;
    }
    const socket = req.raw.socket;
    const share: RequestShare = {
      held: declared > 0 ? declared : 0,
      tracked: this.deadlines.enabled,
      startedAt: Date.now(),
      startBytes: socket.bytesRead,
      bytesRead: () => socket.bytesRead,
      expire: (why) => this.expire(req, reply, why),
    };
    (req as WithShare)[kShare] = share;
    if (share.tracked) {
      this.deadlines.add(share);
      this.startTimer();
    }
    return true;
  }

  /**
   * From the preParsing hook: a body without Content-Length (chunked) is counted against the in-flight budget as
   * it arrives; over it, the request fails with 503.
   */
  countUndeclared(req: FastifyRequest, payload: Readable): Readable {
    const share = (req as WithShare)[kShare];
    if (!share || req.headers['content-length'] !== undefined || this.budget.maxBytes === 0) return payload;
    const out = new PassThrough();
    out.on('error', () => {});
    payload.on('data', (chunk: Buffer) => {
      if (out.destroyed) return;
      if (!this.budget.tryTake(chunk.length)) {
        this.warnOverload();
        payload.unpipe(out);
        out.destroy(this.overloadError());
        return;
      }
      share.held += chunk.length;
    });
    payload.on('error', (err) => out.destroy(err));
    payload.pipe(out);
    return out;
  }

  /** The body arrived whole (the JSON parser has it): its deadlines stop; its bytes stay held until the end. */
  bodyReceived(req: FastifyRequest): void {
    const share = (req as WithShare)[kShare];
    if (share?.tracked) {
      share.tracked = false;
      this.deadlines.delete(share);
    }
  }

  /** The response is over, however it ended: the request's bytes and deadlines are released. */
  finished(req: FastifyRequest): void {
    const share = (req as WithShare)[kShare];
    if (!share) return;
    (req as WithShare)[kShare] = undefined;
    this.bodyReceived(req);
    this.budget.release(share.held);
    share.held = 0;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private startTimer(): void {
    if (this.timer) return;
    const timeout = this.server.body_timeout_ms;
    const every = Math.max(50, Math.min(1000, timeout > 0 ? timeout / 4 : 1000));
    this.timer = setInterval(() => {
      this.deadlines.sweep(Date.now());
      if (this.deadlines.size === 0) this.close();
    }, every);
    this.timer.unref();
  }

  private expire(req: FastifyRequest, reply: FastifyReply, why: BodyExpiry): void {
    const message =
      why === 'timeout'
        ? `the request body did not arrive within server.body_timeout_ms (${this.server.body_timeout_ms} ms)`
        : `the request body arrived slower than server.body_min_bytes_per_s (${this.server.body_min_bytes_per_s})`;
    this.warnings.warn(`body_${why}`, `${message}: answered 408 and closed the connection of ${req.ip}`);
    if (reply.sent || reply.raw.headersSent) {
      req.raw.socket.destroy();
      return;
    }
    void reply.header('connection', 'close');
    this.refuse(reply, req.id, new RelayError(RelayErrorCode.RequestTimeout, message));
  }

  private overloaded(req: FastifyRequest, reply: FastifyReply): void {
    this.warnOverload();
    void reply.header('connection', 'close');
    this.refuse(reply, req.id, this.overloadError());
  }

  private warnOverload(): void {
    this.warnings.warn(
      'inflight_body_bytes',
      `request bodies in flight reached server.max_inflight_body_bytes (${this.budget.maxBytes}): new requests get 503`,
    );
  }

  private overloadError(): RelayError {
    return new RelayError(
      RelayErrorCode.Busy,
      'the relay holds as many request bytes as it accepts at once (server.max_inflight_body_bytes): retry shortly',
      { 'retry-after': String(OVERLOAD_RETRY_AFTER_S) },
    );
  }
}
