import { DynamicModule, Module } from '@nestjs/common';
import { systemClock, type Clock } from '../common/clock';
import { RelayConfig } from '../config/relay-config';
import { HealthModule } from '../health/health.module';
import { AvailabilityService } from './availability.service';
import { DrillService } from './drill.service';
import { MemoryDrillStore, RedisDrillStore, type DrillStore } from './drill-store';
import { DRILL_CLOCK, DRILL_STORE } from './drill.tokens';
import { DrillsController } from './drills.controller';

/** The store: Redis under the cache's key prefix when the cache is `ha` on a standalone Redis, else memory. */
export function drillStoreFor(config: RelayConfig): DrillStore {
  const redis = config.cache.redis;
  if (config.cache.mode === 'ha' && redis.cluster_nodes.length === 0) {
    return new RedisDrillStore(redis.url, redis.key_prefix);
  }
  return new MemoryDrillStore();
}

/** Failover drills and delivered availability; the admin routes are behind the admin token. */
@Module({})
export class DrillsModule {
  static forRoot(clock: Clock = systemClock): DynamicModule {
    return {
      module: DrillsModule,
      imports: [HealthModule],
      controllers: [DrillsController],
      providers: [
        { provide: DRILL_CLOCK, useValue: clock },
        { provide: DRILL_STORE, useFactory: drillStoreFor, inject: [RelayConfig] },
        DrillService,
        AvailabilityService,
      ],
      exports: [DrillService, AvailabilityService],
    };
  }
}
