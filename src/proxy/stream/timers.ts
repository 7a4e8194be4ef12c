import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long the upstream may keep its response open after message_stop before the relay ends the client's. */
export const UPSTREAM_END_GRACE_MS = 1_000;

/** What a stream's timers report to the relay. */
export interface StreamTimerOwner {
  /** The upstream sent nothing in time: no content before the TTFT deadline, or nothing for the stall timeout. */
  onUpstreamTimeout(kind: 'ttft_timeout' | 'stall'): void;
  /** The client, while behind, took no byte off the relay's socket for its whole timeout (`idleMs`). */
  onClientStalled(idleMs: number): void;
  /** The upstream kept its response open UPSTREAM_END_GRACE_MS after the answer's end. */
  onEndGraceOver(): void;
}

/**
 * A value that changes whenever the client takes bytes off the relay's socket: the bytes queued in the response
 * and the socket's stream, and libuv's write queue, which shrinks with every partial write the kernel accepts
 * (Node's own socket timeout watches the same field to tell a slow writer from a stuck one). While back-pressure
 * holds the relay writes nothing, so a change can only be the client reading.
 */
export function writeProgress(res: ServerResponse): string {
  const socket: (Socket & { _handle?: { writeQueueSize?: number } }) | null = res.socket;
  return `${res.writableLength}:${socket?.writableLength ?? 0}:${socket?._handle?.writeQueueSize ?? 0}`;
}

/**
 * The timers of one relayed stream: the TTFT deadline until the commit, then the stall timer (re-armed once per
 * upstream chunk, not per event), the client watch while back-pressure holds, and the grace after message_stop.
 * While the client is behind, the upstream is paused by the relay, so the stall timer waits (that silence is the
 * relay's doing) and the client is watched instead, a quarter of its own timeout at a time, for any byte it takes.
 * The callbacks are module functions given the timers as their argument: no closure per stream.
 */
export class StreamTimers {
  /** Set while the client does not read (back-pressure has paused the upstream). */
  clientBehind = false;
  private ttft: NodeJS.Timeout | undefined;
  private stall: NodeJS.Timeout | undefined;
  private clientWatch: NodeJS.Timeout | undefined;
  private endGrace: NodeJS.Timeout | undefined;
  private clientMark = '';
  private clientMarkAt = 0;
  readonly watchEveryMs: number;

  constructor(
    readonly owner: StreamTimerOwner,
    private readonly res: ServerResponse,
    private readonly stallTimeoutMs: number,
    readonly clientStallMs: number,
  ) {
    this.watchEveryMs = Math.max(1, Math.ceil(clientStallMs / 4));
  }

  startTtft(ms: number): void {
    this.ttft = setTimeout(ttftFired, ms, this);
  }

  /** The commit point: the TTFT deadline is met, and the upstream's silence is timed from now on. */
  committed(): void {
    clearTimeout(this.ttft);
    this.stall = setTimeout(stallFired, this.stallTimeoutMs, this);
  }

  /** An upstream chunk arrived: its silence is timed from now. */
  touch(): void {
    this.stall?.refresh();
  }

  /** A write was refused (back-pressure): the client is watched from now until it catches up. */
  behind(): void {
    this.clientBehind = true;
    this.clientMark = writeProgress(this.res);
    this.clientMarkAt = Date.now();
    if (this.clientWatch) this.clientWatch.refresh();
    else this.clientWatch = setTimeout(watchClient, this.watchEveryMs, this);
  }

  /** The client drained what was queued: the upstream is read again, and its silence timed from now. */
  caughtUp(): void {
    this.clientBehind = false;
    this.stall?.refresh();
  }

  /** Gives an upstream that keeps its response open after the answer's end UPSTREAM_END_GRACE_MS (once). */
  startEndGrace(): void {
    this.endGrace ??= setTimeout(endGraceOver, UPSTREAM_END_GRACE_MS, this);
  }

  clear(): void {
    clearTimeout(this.ttft);
    if (this.stall) clearTimeout(this.stall);
    if (this.clientWatch) clearTimeout(this.clientWatch);
    if (this.endGrace) clearTimeout(this.endGrace);
    this.clientBehind = false;
  }

  /** One look at a client that is behind: only one that took no byte for its whole timeout is let go. */
  watch(): void {
    if (!this.clientBehind) return;
    const now = Date.now();
    const mark = writeProgress(this.res);
    if (mark !== this.clientMark) {
      this.clientMark = mark;
      this.clientMarkAt = now;
    } else if (now - this.clientMarkAt >= this.clientStallMs) {
      this.owner.onClientStalled(now - this.clientMarkAt);
      return;
    }
    this.clientWatch?.refresh();
  }

  stallFired(): void {
    // The upstream is paused while the client is behind: its silence is the relay's doing.
    if (this.clientBehind) this.stall?.refresh();
    else this.owner.onUpstreamTimeout('stall');
  }
}

function ttftFired(t: StreamTimers): void {
  t.owner.onUpstreamTimeout('ttft_timeout');
}

function stallFired(t: StreamTimers): void {
  t.stallFired();
}

function watchClient(t: StreamTimers): void {
  t.watch();
}

function endGraceOver(t: StreamTimers): void {
  t.owner.onEndGraceOver();
}

/**
 * After the relay ended the stream of a client that stopped reading: one that takes nothing more for another
 * `idleMs` is disconnected, so its socket and the bytes queued for it are freed.
 */
export function disconnectIfSilent(res: ServerResponse, idleMs: number, everyMs: number): void {
  let mark = writeProgress(res);
  let markAt = Date.now();
  const timer = setInterval(() => {
    if (res.writableFinished || res.destroyed) return clearInterval(timer);
    const now = Date.now();
    const next = writeProgress(res);
    if (next !== mark) {
      mark = next;
      markAt = now;
    } else if (now - markAt >= idleMs) {
      clearInterval(timer);
      res.destroy();
    }
  }, everyMs);
}
