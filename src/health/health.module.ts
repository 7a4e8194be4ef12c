import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CLOCK, type Clock } from '../common/clock';
import { RelayConfig } from '../config/relay-config';
import { BreakerLogService } from './breaker-log.service';
import { BreakerRegistry } from './breaker-registry';
import { DrainModule } from '../common/drain.module';
import { HealthProbeJob } from './health-probe.job';
import { HealthController } from './health.controller';
import { ProviderProber } from './provider-prober';

/**
 * Circuit breakers, the scheduled probe job and the terminus endpoints. Needs RelayConfig from the global config
 * module and SchedulerRegistry from ScheduleModule.forRoot(), which AppModule imports once.
 */
@Module({
  // Readiness is 503 on purpose while starting and draining; terminus would log each of those as an error.
  imports: [TerminusModule.forRoot({ logger: false }), HttpModule, DrainModule],
  controllers: [HealthController],
  providers: [
    {
      provide: BreakerRegistry,
      useFactory: (config: RelayConfig, clock?: Clock) => BreakerRegistry.fromConfig(config, clock),
      inject: [RelayConfig, { token: CLOCK, optional: true }],
    },
    BreakerLogService,
    ProviderProber,
    HealthProbeJob,
  ],
  exports: [BreakerRegistry, DrainModule],
})
export class HealthModule {}
