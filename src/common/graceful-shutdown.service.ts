import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayConfig } from '../config/relay-config';
import { DrainState } from './drain-state';
import { InFlightService } from './in-flight.service';

/**
 * The graceful stop (protocol doc §5.6): readiness turns 503 at once; after `server.shutdown.delay_ms` (time for
 * the ingress to notice) the listener stops accepting; in-flight requests and streams get `grace_ms`; streams
 * still open then end with an SSE `error` (overloaded_error, so clients retry) instead of a silent truncation, and
 * requests whose answer has not started get a 503 overloaded_error.
 */
@Injectable()
export class GracefulShutdown {
  private readonly logger = new Logger('Shutdown');
  private draining?: Promise<void>;

  constructor(
    private readonly config: RelayConfig,
    private readonly inFlight: InFlightService,
    private readonly drain: DrainState,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Runs the drain once; later calls wait for the same drain. */
  run(signal: string): Promise<void> {
    this.draining ??= this.doDrain(signal);
    return this.draining;
  }

  private async doDrain(signal: string): Promise<void> {
    const { delay_ms, grace_ms } = this.config.server.shutdown;
    this.drain.startDraining();
    // New requests get `Connection: close` from the onRequest hook; the answers already under way get it here.
    this.inFlight.endKeepAlive();
    this.logger.log(
      `${signal}: draining (readiness 503; ${this.inFlight.count} in flight; delay ${delay_ms} ms, grace ${grace_ms} ms)`,
    );
    if (delay_ms > 0) await sleep(delay_ms);
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    server.close();
    server.closeIdleConnections();
    const idle = await this.inFlight.waitIdle(grace_ms);
    if (!idle) {
      const stopped = this.inFlight.forceStopAll();
      this.logger.warn(`grace period over: ended ${stopped} open request(s) with an error`);
      await this.inFlight.waitIdle(1_000);
    }
    server.closeAllConnections();
    this.logger.log('drained');
  }
}
