import { Injectable } from '@nestjs/common';

/** Where the process is in its life, as readiness reports it. */
export type DrainPhase = 'starting' | 'ready' | 'draining';

/**
 * Readiness in one place: `starting` until the server listens, `ready` while it takes traffic, `draining` from
 * SIGTERM on. Draining is final, so a late markReady() cannot put a stopping replica back into the ingress.
 */
@Injectable()
export class DrainState {
  private current: DrainPhase = 'starting';

  /** The current phase. */
  get phase(): DrainPhase {
    return this.current;
  }

  /** The server listens: readiness turns 200 (unless draining already began). */
  markReady(): void {
    if (this.current === 'starting') this.current = 'ready';
  }

  /** SIGTERM: readiness turns 503 at once and stays so. */
  startDraining(): void {
    this.current = 'draining';
  }

  /** Whether the ingress should send this replica traffic. */
  isReady(): boolean {
    return this.current === 'ready';
  }
}
