import { Controller, Get, Inject, Optional, Res, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorFunction,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { RelayConfig } from '../config/relay-config';
import { BreakerRegistry } from './breaker-registry';
import { CACHE_HEALTH_INDICATOR, type CacheHealthIndicatorLike } from './cache-health-indicator';
import { DrainState } from '../common/drain-state';

/** GET /health waits this long for the cache backend before calling it down. */
const CACHE_CHECK_TIMEOUT_MS = 2_000;

/**
 * Kubernetes probes and a detail page for humans. None of them is behind client auth, and none of them calls an
 * upstream provider.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly drain: DrainState,
    private readonly registry: BreakerRegistry,
    private readonly config: RelayConfig,
    @Optional() @Inject(CACHE_HEALTH_INDICATOR) private readonly cache?: CacheHealthIndicatorLike,
  ) {}

  /**
   * Liveness: the process serves HTTP, nothing more. Built by hand rather than through HealthCheckService, which
   * answers 503 once shutdown hooks run; a draining replica is alive and must not be restarted mid-stream.
   */
  @Get('live')
  @HealthCheck()
  live(): HealthCheckResult {
    return { status: 'ok', info: {}, error: {}, details: {} };
  }

  /**
   * Readiness: 503 while starting and while draining. It deliberately ignores providers and their breakers: an
   * LLM outage would otherwise pull every replica out of the ingress at once, while the relay can still answer
   * (and fail over) quickly.
   */
  @Get('ready')
  @HealthCheck()
  ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return this.run(reply, [() => this.readiness()]);
  }

  /** Detail for humans: readiness, every provider's breaker, the cache backend. */
  @Get()
  @HealthCheck()
  detail(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [() => this.readiness(), () => this.providers()];
    if (this.cache) checks.push(() => this.cacheHealth());
    return this.run(reply, checks);
  }

  /**
   * Terminus reports failure by throwing a 503; the global filter would turn that into an Anthropic error body,
   * so the result is sent as the body here and only the status code changes.
   */
  private async run(reply: FastifyReply, checks: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    try {
      return await this.health.check(checks);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      void reply.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }

  private readiness(): HealthIndicatorResult {
    const session = this.indicators.check('relay');
    const phase = this.drain.phase;
    return this.drain.isReady() ? session.up({ phase }) : session.down({ phase });
  }

  /** Down only when no enabled provider can take a request; one open circuit is routine and shown in detail. */
  private providers(): HealthIndicatorResult {
    const session = this.indicators.check('providers');
    const enabled = new Set(this.config.providers.filter((p) => p.enabled).map((p) => p.name));
    const breakers = this.registry.snapshot();
    const routable = this.registry
      .names()
      .filter((name) => enabled.has(name) && this.registry.isRoutable(name));
    const data = { routable, breakers };
    return enabled.size > 0 && routable.length === 0 ? session.down(data) : session.up(data);
  }

  private async cacheHealth(): Promise<HealthIndicatorResult> {
    const session = this.indicators.check('cache');
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CACHE_CHECK_TIMEOUT_MS} ms`)),
          CACHE_CHECK_TIMEOUT_MS,
        );
      });
      const result = await Promise.race([this.cache!.check(), timeout]);
      const data = { ...(result.detail ?? {}) };
      return result.status === 'up' ? session.up(data) : session.down(data);
    } catch (err) {
      return session.down({ message: err instanceof Error ? err.message : String(err) });
    } finally {
      clearTimeout(timer);
    }
  }
}
