import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { AdminModule } from './admin/admin.module';
import { CommonModule } from './common/common.module';
import { RelayExceptionFilter } from './common/relay-exception.filter';
import { ConfigModule } from './config/config.module';
import type { ConfigHolder } from './config/config-holder';
import { RelayConfig } from './config/relay-config';
import { CacheModule } from './cache/cache.module';
import { ClusterModule } from './cluster/cluster.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { ProxyModule } from './proxy/proxy.module';
import type { Clock } from './common/clock';
import type { Rng } from './common/rng';
import { TimeModule } from './common/time.module';
import { DrillsModule } from './drills/drills.module';

/** The relay: feature modules plus the global guard and exception filter. */
@Module({})
export class AppModule {
  static forRoot(
    config: RelayConfig,
    holder?: ConfigHolder,
    clock?: Clock,
    time: { clock?: Clock; rng?: Rng } = {},
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TimeModule.forRoot(time.clock, time.rng),
        ConfigModule.forRoot(config, holder),
        ScheduleModule.forRoot(),
        CommonModule,
        MetricsModule.forRoot(config),
        CacheModule.forRoot(config),
        ClusterModule,
        HealthModule,
        ProxyModule,
        AdminModule,
        DrillsModule.forRoot(clock),
      ],
      providers: [
        {
          provide: APP_FILTER,
          useFactory: (c: RelayConfig) => new RelayExceptionFilter(c.server.max_body_bytes),
          inject: [RelayConfig],
        },
      ],
    };
  }
}
