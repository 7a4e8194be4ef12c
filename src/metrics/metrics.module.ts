import { DynamicModule, Global, Module } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import type { RelayConfig } from '../config/relay-config';
import { HealthModule } from '../health/health.module';
import { MetricsController } from './metrics.controller';
import { RelayMetrics } from './relay-metrics.service';

/** Prometheus metrics: the RelayMetrics service for every module, and the scrape route at `metrics.path`. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(config: RelayConfig): DynamicModule {
    const controllers = config.metrics.enabled ? [MetricsController] : [];
    return {
      module: MetricsModule,
      imports: [
        HealthModule,
        ...(config.metrics.enabled
          ? [RouterModule.register([{ path: config.metrics.path, module: MetricsModule }])]
          : []),
      ],
      controllers,
      providers: [RelayMetrics],
      exports: [RelayMetrics],
    };
  }
}
