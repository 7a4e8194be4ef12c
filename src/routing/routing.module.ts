import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { RoutingService } from './routing.service';

/** Strategies, key pools and the retry budget, fed the breakers' routability by the health module. */
@Module({
  imports: [HealthModule],
  providers: [RoutingService],
  exports: [RoutingService],
})
export class RoutingModule {}
