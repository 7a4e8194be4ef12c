import { Global, Module } from '@nestjs/common';
import { DrainModule } from './drain.module';
import { GracefulShutdown } from './graceful-shutdown.service';
import { InFlightService } from './in-flight.service';

/** Process-wide helpers every feature module may inject. */
@Global()
@Module({
  imports: [DrainModule],
  providers: [InFlightService, GracefulShutdown],
  exports: [InFlightService, GracefulShutdown],
})
export class CommonModule {}
