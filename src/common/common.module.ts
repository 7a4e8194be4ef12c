import { Global, Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { GracefulShutdown } from './graceful-shutdown.service';
import { InFlightService } from './in-flight.service';

/** Process-wide helpers every feature module may inject. */
@Global()
@Module({
  imports: [HealthModule],
  providers: [InFlightService, GracefulShutdown],
  exports: [InFlightService, GracefulShutdown],
})
export class CommonModule {}
