import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { KeyPoolSharingService } from './key-pool-sharing.service';
import { RoutingService } from './routing.service';

/**
 * Strategies, key pools and the retry budget, fed the breakers' routability by the health module; the key pools
 * are shared through the cluster's Redis in cluster.mode: redis.
 */
@Module({
  imports: [HealthModule],
  providers: [RoutingService, KeyPoolSharingService],
  exports: [RoutingService, KeyPoolSharingService],
})
export class RoutingModule {}
