import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from './breaker-registry';
import { transitionLine } from './breaker-transition-message';

/** Writes a log line when a provider's circuit opens, goes half-open or closes again. */
@Injectable()
export class BreakerLogService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Breaker');
  private unsubscribe?: () => void;

  constructor(
    private readonly registry: BreakerRegistry,
    private readonly config: RelayConfig,
  ) {}

  onModuleInit(): void {
    const probes = this.config.health.circuit_breaker.half_open_probes;
    this.unsubscribe = this.registry.onTransition((provider, transition) => {
      const line = transitionLine(provider, transition, this.registry.get(provider)?.snapshot(), probes);
      if (line) this.logger[line.level](line.message);
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }
}
