import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { InFlightService } from '../common/in-flight.service';
import { BreakerRegistry } from '../health/breaker-registry';
import { CollectedCounter, type CounterSink } from './collected-counter';
import { lightenDefaultMetrics } from './default-metrics';
import { RelayActivity } from './relay-activity';
import { TallyCounter, TallyHistogram } from './tallies';
import type { AnswerSample } from './window-stats';

const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * The relay's Prometheus metrics, in one registry of its own (no global state, so several apps in one test
 * process never collide). Gauges that mirror other services' state are read at scrape time, never kept in sync.
 */
@Injectable()
export class RelayMetrics {
  readonly registry = new Registry();
  /** The last 15 minutes per second, in memory, for the ops page (GET /admin/stats/timeseries). */
  readonly activity = new RelayActivity(Date.now());

  // Updated on every request: plain tallies rendered at scrape time (see tallies.ts for why not prom-client's).
  private readonly httpRequests = new TallyCounter(
    'cc_relay_http_requests_total',
    'HTTP requests answered, by route, method and status',
    ['route', 'method', 'status'],
  ).registerIn(this.registry);
  private readonly httpDuration = new TallyHistogram(
    'cc_relay_http_request_duration_seconds',
    'Time from request to the end of the answer (streams included), by route',
    ['route'],
    [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 60, 180, 600],
  ).registerIn(this.registry);
  private readonly attempts = new TallyCounter(
    'cc_relay_upstream_attempts_total',
    'Upstream attempts by provider and outcome (success, permanent, transient, rate_limited, key_rejected, unsupported, client_cancelled)',
    ['provider', 'outcome'],
  ).registerIn(this.registry);
  private readonly retries = new TallyCounter(
    'cc_relay_retry_decisions_total',
    'What the retry policy decided after a failed attempt',
    ['action'],
  ).registerIn(this.registry);
  private readonly fallbacks = new TallyCounter(
    'cc_relay_fallback_answers_total',
    'Answers delivered by a fallback model instead of the requested one, by routing.fallbacks rule',
    ['rule', 'answered_model'],
  ).registerIn(this.registry);
  private readonly tokens = new TallyCounter(
    'cc_relay_tokens_total',
    'Tokens reported by upstream usage, by provider and direction',
    ['provider', 'direction'],
  ).registerIn(this.registry);
  private readonly transitions = new TallyCounter(
    'cc_relay_breaker_transitions_total',
    'Circuit breaker state changes, by provider and new state',
    ['provider', 'to'],
  ).registerIn(this.registry);
  private readonly configReloads = new TallyCounter(
    'cc_relay_config_reloads_total',
    'Config reloads (SIGHUP, file change, admin call) by result: applied, unchanged, invalid (refused)',
    ['result'],
  ).registerIn(this.registry);
  private readonly cacheEvents = new TallyCounter(
    'cc_relay_cache_requests_total',
    'Cache outcomes seen by requests (HIT, MISS, BYPASS) by endpoint',
    ['endpoint', 'result'],
  ).registerIn(this.registry);

  /** Subscribers to final answers of /v1/messages (drills, delivered availability). */
  private readonly answerListeners: Array<(sample: AnswerSample) => void> = [];

  constructor(breakers: BreakerRegistry, inFlight: InFlightService) {
    collectDefaultMetrics({ register: this.registry, prefix: 'cc_relay_' });
    lightenDefaultMetrics(this.registry, 'cc_relay_');
    new Gauge({
      name: 'cc_relay_breaker_state',
      help: 'Circuit breaker state per provider: 0 closed, 1 half-open, 2 open',
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        for (const snap of breakers.snapshot())
          this.set({ provider: snap.name }, BREAKER_STATE_VALUE[snap.state]);
      },
    });
    new Gauge({
      name: 'cc_relay_in_flight_requests',
      help: 'Requests and streams being served',
      registers: [this.registry],
      collect() {
        this.set(inFlight.count);
      },
    });
    breakers.onTransition((provider, t) => {
      this.transitions.inc([provider, t.to]);
      this.activity.transition(provider, t.to, t.at);
    });
  }

  /** One answered HTTP request. */
  httpRequest(route: string, method: string, status: number, seconds: number): void {
    this.httpRequests.inc([route, method, statusText(status)]);
    this.httpDuration.observe([route], seconds);
  }

  /** One config reload's result (applied, unchanged, invalid). */
  configReload(result: string): void {
    this.configReloads.inc([result]);
  }

  /** A final answer of POST /v1/messages, for whoever subscribed (drills, delivered availability). */
  answer(sample: AnswerSample): void {
    for (const listener of this.answerListeners) {
      try {
        listener(sample);
      } catch {
        // Observers never change the answer.
      }
    }
  }

  /** Subscribes to final answers; returns the unsubscribe function. */
  onAnswer(listener: (sample: AnswerSample) => void): () => void {
    this.answerListeners.push(listener);
    return () => {
      const i = this.answerListeners.indexOf(listener);
      if (i >= 0) this.answerListeners.splice(i, 1);
    };
  }

  /** One upstream attempt's classified outcome and, when known, how long it took (a stream's to its end). */
  attempt(provider: string, outcome: string, latencyMs?: number): void {
    this.attempts.inc([provider, outcome]);
    this.activity.attempt(provider, outcome, Date.now(), latencyMs);
  }

  /** One retry-policy decision after a failed attempt. */
  retryDecision(action: string): void {
    this.retries.inc([action]);
  }

  /**
   * An answer that came from a fallback model; `rule` is the routing.fallbacks key that applied, `provider` the
   * one that answered.
   */
  fallbackAnswer(rule: string, answered: string, provider?: string): void {
    this.fallbacks.inc([rule, answered]);
    this.activity.fallback(provider, Date.now());
  }

  /** Usage of a delivered answer. */
  usage(provider: string, input: number, output: number): void {
    if (input > 0) this.tokens.inc([provider, 'input'], input);
    if (output > 0) this.tokens.inc([provider, 'output'], output);
  }

  /** A cache outcome for a request. */
  cacheResult(endpoint: string, result: string): void {
    this.cacheEvents.inc([endpoint, result]);
    this.activity.cacheResult(result, Date.now());
  }

  /**
   * Adds a counter family read at scrape time from another module's own tallies, which must only grow while the
   * process lives (the cache module registers its event counts this way).
   */
  addCollectedCounter(
    name: string,
    help: string,
    labelNames: string[],
    read: (sink: CounterSink) => void,
  ): void {
    new CollectedCounter(name, help, labelNames, read).registerIn(this.registry);
  }

  /** Adds a gauge read at scrape time: a level now, such as the entries the cache holds. */
  addCollectedGauge(
    name: string,
    help: string,
    labelNames: string[],
    read: (set: (labels: Record<string, string>, v: number) => void) => void,
  ): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        read((labels, v) => this.set(labels, v));
      },
    });
  }
}

/** Status codes as label text, without a new string per request for the common ones. */
const STATUS_TEXT = new Map<number, string>();
function statusText(status: number): string {
  let text = STATUS_TEXT.get(status);
  if (text === undefined) {
    text = String(status);
    if (status >= 100 && status < 600) STATUS_TEXT.set(status, text);
  }
  return text;
}
