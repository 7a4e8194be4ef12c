import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { mathRandom, RNG, type Rng } from '../common/rng';
import { RelayConfig, type ProviderConfig } from '../config/relay-config';
import { PROBE_LOCK } from '../cluster/cluster.tokens';
import type { ProbeLock } from '../cluster/probe-lock';
import { BreakerRegistry } from './breaker-registry';
import { adapterOf } from '../providers/adapters';
import { buildProbeRequest, probeKindOf } from '../providers/probe-request';
import { isProbeSuccess, nextProbeDelayMs, selectProvidersToProbe } from './probe-policy';
import { ProviderProber } from './provider-prober';

/**
 * Probes providers whose circuit is OPEN every `health.health_check.interval_ms` (jittered) and moves a recovered
 * one to HALF_OPEN early. The interval counts from the start of a run, but the next one is scheduled only when the
 * previous one has finished, so runs never overlap (one that outlasts the interval is followed at once); a run
 * never throws.
 */
@Injectable()
export class HealthProbeJob implements OnApplicationBootstrap, OnModuleDestroy {
  /** Name of the job's timeout in the SchedulerRegistry. */
  static readonly TIMEOUT_NAME = 'health-probe';

  private readonly logger = new Logger(HealthProbeJob.name);
  private running = false;
  private stopped = false;
  /** Providers whose probe fallback was logged already: once per provider, not every interval. */
  private readonly fallbackLogged = new Set<string>();

  constructor(
    private readonly config: RelayConfig,
    private readonly registry: BreakerRegistry,
    private readonly prober: ProviderProber,
    private readonly scheduler: SchedulerRegistry,
    @Optional() @Inject(RNG) private readonly rng: Rng = mathRandom,
    /** cluster.mode: redis — one replica probes each OPEN provider per interval (null or absent: this one alone). */
    @Optional() @Inject(PROBE_LOCK) private readonly lock?: ProbeLock | null,
  ) {}

  onApplicationBootstrap(): void {
    const { enabled, interval_ms } = this.config.health.health_check;
    if (!enabled) {
      this.logger.log('health probes disabled (health.health_check.enabled: false)');
      return;
    }
    this.logger.log(`probing open circuits every ~${interval_ms} ms`);
    this.scheduleNext();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    this.clearTimer();
  }

  /** One probe round over the OPEN circuits. Skipped while a round is still going; never rejects. */
  async runOnce(): Promise<void> {
    if (this.running) {
      this.logger.debug('previous probe round still running; skipping this one');
      return;
    }
    this.running = true;
    try {
      const targets = selectProvidersToProbe(this.config.providers, (name) =>
        this.registry.get(name)?.snapshot(),
      );
      await Promise.all(targets.map((provider) => this.probeOne(provider)));
    } catch (err) {
      this.logger.error(`probe round failed: ${messageOf(err)}`);
    } finally {
      this.running = false;
    }
  }

  private async probeOne(provider: ProviderConfig): Promise<void> {
    try {
      // Another replica holds this provider's probe for the interval: it probes, this one does not.
      if (
        this.lock &&
        !(await this.lock.tryTake(provider.name, this.config.health.health_check.interval_ms))
      ) {
        return;
      }
      const kind = this.config.health.health_check.probe;
      // Vertex, Bedrock and Entra ID providers probe with their own authenticated request (src/providers/).
      const adapter = adapterOf(provider);
      const request = adapter
        ? await adapter.probe(probeKindOf(provider, kind))
        : buildProbeRequest(provider, kind);
      if (request.fallback !== undefined && !this.fallbackLogged.has(provider.name)) {
        this.fallbackLogged.add(provider.name);
        this.logger.warn(
          `provider ${provider.name} is probed with GET /v1/models instead: ${request.fallback}. That route ` +
            `answers while inference is overloaded, so its circuit may go HALF_OPEN every interval during an overload`,
        );
      }
      const outcome = await this.prober.probe(request, this.config.health.health_check.timeout_ms);
      const answer = 'status' in outcome ? `HTTP ${outcome.status}` : outcome.error;
      if (!isProbeSuccess(outcome)) {
        this.logger.debug(`provider ${provider.name} still down (${request.kind} probe): ${answer}`);
        return;
      }
      const breaker = this.registry.get(provider.name);
      if (breaker?.state !== 'open') return;
      breaker.markProbeSucceeded();
      this.logger.log(
        `provider ${provider.name} answered the ${request.kind} health probe (${answer}): circuit ${breaker.state}`,
      );
    } catch (err) {
      this.logger.warn(`probe of provider ${provider.name} failed: ${messageOf(err)}`);
    }
  }

  /** `startedAt`: when the run that just ended started (Date.now()); the next one is due an interval after it. */
  private scheduleNext(startedAt?: number): void {
    if (this.stopped) return;
    const elapsed = startedAt === undefined ? 0 : Date.now() - startedAt;
    const delay = nextProbeDelayMs(this.config.health.health_check.interval_ms, this.rng, elapsed);
    const timer = setTimeout(() => {
      this.clearTimer();
      const runStartedAt = Date.now();
      void this.runOnce().finally(() => this.scheduleNext(runStartedAt));
    }, delay);
    // The job must not keep a stopping process alive.
    timer.unref();
    this.clearTimer();
    this.scheduler.addTimeout(HealthProbeJob.TIMEOUT_NAME, timer);
  }

  private clearTimer(): void {
    if (this.scheduler.doesExist('timeout', HealthProbeJob.TIMEOUT_NAME)) {
      this.scheduler.deleteTimeout(HealthProbeJob.TIMEOUT_NAME);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
