import type { Cancellation } from '../common/cancellation';
import { describeUpstreamError, UpstreamError } from './upstream-error';

interface Waiter {
  grant(): void;
}

/**
 * Admits at most `limit` upstream exchanges of one provider at a time; the others wait here, first come first
 * served, each on its own timer. undici's pool queue cannot be the waiting room: its headersTimeout starts only
 * once a request is on a socket, and a request cancelled while queued there stays queued until a socket frees, so
 * a request behind long streams waited on no timer at all.
 */
export class ConnectionGate {
  private active = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(readonly limit: number) {}

  /** Exchanges holding a connection. */
  get inUse(): number {
    return this.active;
  }

  /** Requests waiting for one. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Takes a connection when one is free and nobody waits for it (no overtaking the queue). */
  tryAcquire(): boolean {
    if (this.active >= this.limit || this.waiters.size > 0) return false;
    this.active++;
    return true;
  }

  /**
   * Waits for a connection. Resolves once one is the caller's (give it back with release()); rejects with a
   * `pool_timeout` UpstreamError when none came free within timeoutMs, or with the token's reason when it is
   * cancelled first.
   */
  wait(signal: Cancellation, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason ?? new Error('cancelled'));
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.off('abort', onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        grant: () => {
          done();
          resolve();
        },
      };
      const onAbort = () => {
        done();
        reject(signal.reason ?? new Error('cancelled'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new UpstreamError('pool_timeout', describeUpstreamError('pool_timeout')));
      }, timeoutMs);
      signal.once('abort', onAbort);
      this.waiters.add(waiter);
    });
  }

  /** Gives a connection back: the longest waiting request gets it, else it is free. */
  release(): void {
    const next = this.waiters.values().next();
    if (next.done) {
      if (this.active > 0) this.active--;
      return;
    }
    // Handed over as it is: the count of connections in use does not change.
    next.value.grant();
  }
}
