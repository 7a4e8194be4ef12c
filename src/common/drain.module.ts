import { Module } from '@nestjs/common';
import { DrainState } from './drain-state';

/**
 * The one DrainState of the process. CommonModule (graceful shutdown) and HealthModule (readiness) both import it,
 * so the stop that begins the drain and the readiness answer that reports it read the same flag.
 */
@Module({
  providers: [DrainState],
  exports: [DrainState],
})
export class DrainModule {}
