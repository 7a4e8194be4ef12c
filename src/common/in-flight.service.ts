import { Injectable } from '@nestjs/common';

/** One tracked request. */
export interface InFlightHandle {
  /** How to end this request when the grace period runs out (streams: an SSE error). */
  onForceStop(fn: () => void): void;
  release(): void;
}

/** A tracked request: one object per request (no closures), since every proxied request makes one. */
class Tracked implements InFlightHandle {
  forceStop: (() => void) | undefined;

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
 */
@Injectable()
export class InFlightService {
  private readonly active = new Set<Tracked>();
  private idleWaiters: Array<() => void> = [];

  /** Registers one request; call release() exactly when it is over. */
  track(): InFlightHandle {
    const entry = new Tracked(this);
    this.active.add(entry);
    return entry;
  }

  /** @internal the release of one tracked request (a second release is ignored). */
  untrack(entry: Tracked): void {
    if (this.active.delete(entry) && this.active.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  get count(): number {
    return this.active.size;
  }

  /** Resolves true once nothing is in flight, false if timeoutMs passes first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.active.size === 0) return Promise.resolve(true);
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

  /** Ends everything still in flight (streams get their SSE error); returns how many were stopped. */
  forceStopAll(): number {
    let n = 0;
    for (const entry of [...this.active]) {
      if (entry.forceStop) {
        entry.forceStop();
        n++;
      }
    }
    return n;
  }
}
