import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';

/** One tracked request. */
export interface InFlightHandle {
  /** How to end this request when the grace period runs out (streams: an SSE error). */
  onForceStop(fn: () => void): void;
  release(): void;
}

/** A tracked request: one object per request (no closures), since every proxied request makes one. */
class Tracked implements InFlightHandle {
  forceStop: (() => void) | undefined;
  /** The response being written, when the caller gave it (so a drain can end its connection's keep-alive). */
  res: ServerResponse | undefined;
  /** Its place in the owner's slots; -1 once released. */
  slot = -1;

  constructor(private readonly owner: InFlightService) {}

  onForceStop(fn: () => void): void {
    this.forceStop = fn;
  }

  release(): void {
    this.owner.untrack(this);
  }
}

/**
 * Counts the requests and streams being served, so a graceful stop can wait for them and, when the grace period
 * runs out, end the streams still open (each registers how to end itself with an SSE error).
 *
 * The requests are kept in reused slots of an array that never shrinks (it holds the peak concurrency), not in a
 * Set. With a Set that every request joined and left, finished requests survived scavenges with everything their
 * force-stop closures hold (the request, the response, the cancellation token), although a full GC found them
 * dead. Measured (bench/gc-trace.ts, JSON, 32 connections): 3,640 B of every request survived a scavenge with the
 * Set, 307 B with the slots. The likely mechanism: the Set's hash table is replaced as it grows and shrinks, V8
 * leaves each replaced table pointing at its successor (for live iterators), and a dead table in the old
 * generation is still a root for a scavenge.
 */
@Injectable()
export class InFlightService {
  private readonly slots: Array<Tracked | undefined> = [];
  private readonly free: number[] = [];
  private active = 0;
  private forceStopped = false;
  private idleWaiters: Array<() => void> = [];

  /**
   * Registers one request; call release() exactly when it is over. With its response, a drain that starts before
   * the answer does makes that answer close its connection (see endKeepAlive).
   */
  track(res?: ServerResponse): InFlightHandle {
    const entry = new Tracked(this);
    entry.res = res;
    const slot = this.free.length > 0 ? this.free.pop()! : this.slots.length;
    this.slots[slot] = entry;
    entry.slot = slot;
    this.active++;
    return entry;
  }

  /** @internal the release of one tracked request (a second release is ignored). */
  untrack(entry: Tracked): void {
    const slot = entry.slot;
    if (slot < 0 || this.slots[slot] !== entry) return;
    this.slots[slot] = undefined;
    entry.slot = -1;
    entry.forceStop = undefined;
    entry.res = undefined;
    this.free.push(slot);
    this.active--;
    if (this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  get count(): number {
    return this.active;
  }

  /** Resolves true once nothing is in flight, false if timeoutMs passes first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /**
   * A drain began: every tracked answer not started yet is sent with `Connection: close` and its connection closed
   * after it. Otherwise an answer that was in flight at SIGTERM (a JSON answer may take minutes) said keep-alive,
   * the client pooled the connection, and its next request on it met the drain's final close as a reset.
   * Returns how many answers it changed.
   */
  endKeepAlive(): number {
    let n = 0;
    for (const entry of this.slots) {
      const res = entry?.res;
      if (res && !res.headersSent && res.shouldKeepAlive) {
        res.shouldKeepAlive = false;
        n++;
      }
    }
    return n;
  }

  /**
   * True once forceStopAll() ran: the grace period is over, and a request that starts now (one that was waiting for
   * an identical request in flight, whose leader was just stopped) must be answered at once, not sent upstream.
   */
  get stopped(): boolean {
    return this.forceStopped;
  }

  /** Ends everything still in flight (streams get their SSE error); returns how many were stopped. */
  forceStopAll(): number {
    this.forceStopped = true;
    let n = 0;
    for (const entry of this.slots.slice()) {
      if (entry?.forceStop) {
        entry.forceStop();
        n++;
      }
    }
    return n;
  }
}
