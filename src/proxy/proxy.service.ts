import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { sleepUnlessCancelled } from '../common/cancellation';
import { errorBody, RELAY_ERROR_SHAPES } from '../common/relay-error';
import { RelayConfig } from '../config/relay-config';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import { classifyOutcome, keyPoolExhaustedOutcome, type AttemptOutcome } from '../routing/outcome';
import { decideNext, shouldTellClientNotToRetry, type RetryDecision } from '../routing/retry-policy';
import { fallbackRuleOf, mappedModel, modelForLog, type PlanStep } from '../routing/route-plan';
import { RoutingService, type ProviderRuntime } from '../routing/routing.service';
import type { CaptureBudget } from './capture-budget';
import { bodyWithModel, type ProxyRequest } from './proxy-request';
import {
  failureError,
  isUnexpectedStatus,
  keyRejectedError,
  outcomeInput,
  send,
  unexpectedStatusError,
  upstreamErrorAnswer,
} from './failure-answer';
import { bodyForProvider, signatureTagOf, withSignerAffinity } from './thinking-signatures';
import { runAttempt, type AttemptResult } from './upstream-attempt';
import { UpstreamClient } from './upstream-client';
import { appendHeaders, buildUpstreamHeaders, withholdsClientCredential } from './upstream-headers';

/** A delivered answer with where it came from (the cache stores it; metrics label it). */
export type DeliveredAnswer = Extract<AttemptResult, { kind: 'delivered' }> & {
  provider: string;
  model: string;
};

/** What the caller hands the attempt loop besides the request. */
export interface ForwardOptions {
  res: ServerResponse;
  /** Headers every answer carries (request id, cache status). */
  baseHeaders: () => Record<string, string>;
  /** Keep up to this many streamed bytes for the cache (0: none). */
  captureLimitBytes: number;
  /** Shared by all captures in flight (see CaptureBudget). */
  captureBudget?: CaptureBudget;
  /** Lets a graceful stop end this request's stream. */
  onCommitted?: (forceStop: () => void) => void;
}

/** One attempt's timeouts (see ProxyService.attemptLimits). */
interface AttemptLimits {
  upstreamTimeoutMs: number;
  ttftTimeoutMs: number;
  cut: boolean;
}

const TIMEOUT_ERRORS = new Set(['headers_timeout', 'body_timeout', 'ttft_timeout']);

/** Whether an attempt failed by running out of the time it was given. */
function isTimeout(result: AttemptResult): boolean {
  return result.kind === 'error' && TIMEOUT_ERRORS.has(result.error);
}

interface LoopState {
  attemptsMade: number;
  keyWaits: number;
  attemptsOnProvider: number;
  retryIndex: number;
  step?: PlanStep;
  last?: { result: AttemptResult; outcome: AttemptOutcome; decision?: RetryDecision };
  soonestKeyRetryMs?: number;
  /** The first provider skipped because it had rejected every key of its pool (401 on each). */
  keysRejectedBy?: string;
  /** A provider was skipped for keys that are merely cooling down (rate limits): the answer is then a 429. */
  keysCoolingElsewhere?: boolean;
}

/**
 * The attempt loop: owns one request from the route plan to the answer. It tries candidates in plan order,
 * records every outcome to the provider's breaker and key pool, asks the retry policy what next and stops at
 * the deadline. Nothing else knows about attempts.
 */
@Injectable()
export class ProxyService {
  /** Only an open relay forwards client credentials to keyless providers (see buildUpstreamHeaders). */
  private readonly forwardsClientCredentials: boolean;

  constructor(
    private readonly config: RelayConfig,
    private readonly routing: RoutingService,
    private readonly upstream: UpstreamClient,
    private readonly metrics: RelayMetrics,
  ) {
    this.forwardsClientCredentials = config.server.auth.api_keys.length === 0;
  }

  /** Forwards the request; the answer (or a relay error) is written to opts.res. */
  async forward(preq: ProxyRequest, opts: ForwardOptions): Promise<DeliveredAnswer | undefined> {
    const routing = this.config.routing;
    const deadlineAt = preq.startedAt + routing.deadline_ms;
    this.routing.budget.recordRequest();
    const plan = withSignerAffinity(
      this.routing.plan(preq.model),
      preq.rawBody,
      this.routing.strategy.name,
      (p) => this.routing.runtime(p)?.config.type,
    );
    const state: LoopState = { attemptsMade: 0, keyWaits: 0, attemptsOnProvider: 0, retryIndex: 0 };

    // count_tokens answers say how many tokens the prompt has; they spend none (Anthropic limits them apart).
    const spendsTokens = preq.endpoint === 'messages';
    const estimate = spendsTokens ? Math.ceil(preq.rawBody.length / 4) : 0;
    let stepIdx = 0;
    while (stepIdx < plan.length && !preq.signal.aborted) {
      const step = plan[stepIdx]!;
      const rt = this.routing.runtime(step.provider);
      const breaker = this.routing.breakers.get(step.provider);
      const permit = breaker?.tryAcquire();
      if (!rt || (breaker && !permit)) {
        stepIdx++;
        state.attemptsOnProvider = 0;
        continue;
      }
      const lease = rt.keys.pick(estimate);
      if (lease.kind === 'exhausted') {
        if (permit) breaker?.record(permit, 'ignored');
        if (rt.keys.allRejected()) state.keysRejectedBy ??= step.provider;
        else state.keysCoolingElsewhere = true;
        state.soonestKeyRetryMs = Math.min(state.soonestKeyRetryMs ?? Infinity, lease.retryAfterMs);
        if (
          stepIdx + 1 < plan.length ||
          !(await this.waitForKey(preq, state, lease.retryAfterMs, deadlineAt))
        ) {
          stepIdx++;
          state.attemptsOnProvider = 0;
        }
        continue;
      }
      state.step = step;
      state.attemptsMade++;
      state.attemptsOnProvider++;
      const keyId = lease.kind === 'key' ? lease.keyId : undefined;
      // The first attempt has its full timeouts (a JSON answer may take server.timeout_ms to be written); the
      // deadline bounds the retries, backoffs and fallbacks after it, each cut to what is left of it.
      const limits = this.attemptLimits(preq.stream, state.attemptsMade === 1 ? Infinity : deadlineAt);
      const result = await this.attempt(
        preq,
        opts,
        rt,
        step,
        lease.kind === 'key' ? lease.key : undefined,
        state,
        limits,
      );
      if (keyId) rt.keys.release(keyId);

      const input = outcomeInput(result);
      if (preq.endpoint === 'count_tokens') input.countTokens = true;
      // The relay chose the credential (a key of the pool, or none at all where it keeps client keys to itself, or
      // where it kept a client's Anthropic key from another vendor): a 401 is then the relay's configuration, not
      // the client's key.
      if (
        keyId ||
        !this.forwardsClientCredentials ||
        withholdsClientCredential(preq.headers, rt.config.type)
      ) {
        input.relayKey = true;
      }
      const outcome = classifyOutcome(input);
      this.metrics.attempt(rt.name, outcome.kind);
      // A timeout of an attempt the deadline had cut short is the relay's own budget running out, not the
      // provider failing: it does not count against the breaker.
      const breakerFailure = outcome.breakerFailure && !(limits.cut && isTimeout(result));
      if (permit && breaker) {
        // The error first, so the log line of a circuit this failure opens names it.
        if (breakerFailure) breaker.recordError({ status: outcome.status, message: outcome.reason });
        breaker.record(
          permit,
          outcome.kind === 'success' ? 'success' : breakerFailure ? 'failure' : 'ignored',
        );
      }
      if (keyId) this.recordKey(rt, keyId, result, spendsTokens);
      if (outcome.kind === 'key_rejected') {
        preq.log.error(
          { provider: rt.name, key: keyId, status: outcome.status },
          'the provider rejected a key of its pool; it is out of rotation for a while (revoked or mistyped?)',
        );
      }
      if (result.kind === 'delivered') {
        if (spendsTokens) this.metrics.usage(rt.name, result.usage.input_tokens, result.usage.output_tokens);
        if (step.fallbackIndex > 0) {
          // Labelled with the config's rule, never the client's model string (unbounded label values).
          const rule = fallbackRuleOf(preq.model, routing.fallbacks) ?? 'unknown';
          this.metrics.fallbackAnswer(rule, step.model);
        }
        // The result is this attempt's own object: labelled in place rather than copied.
        const answer = result as DeliveredAnswer;
        answer.provider = rt.name;
        answer.model = step.model;
        return answer;
      }
      if (result.kind === 'cancelled') return undefined;
      preq.log.warn(
        {
          provider: rt.name,
          model: modelForLog(step.model),
          attempt: state.attemptsMade,
          reason: outcome.reason,
        },
        'upstream attempt failed',
      );

      const decision = decideNext(outcome, {
        attemptsMade: state.attemptsMade,
        maxAttempts: routing.retry.max_attempts,
        attemptsOnThisProvider: state.attemptsOnProvider,
        hasOtherCandidate: stepIdx + 1 < plan.length,
        hasOtherKeyOnProvider: rt.keys.hasAvailableKey(estimate),
        deadlineRemainingMs: deadlineAt - Date.now(),
        committed: false,
        retryIndex: state.retryIndex,
        budget: this.routing.budget,
        config: routing.retry,
        rng: Math.random,
      });
      state.last = { result, outcome, decision };
      this.metrics.retryDecision(decision.action);
      if (decision.action === 'give_up') break;
      state.retryIndex++;
      if (decision.action === 'next_candidate') {
        stepIdx++;
        state.attemptsOnProvider = 0;
      }
      if (decision.delayMs > 0 && !(await sleepUnlessCancelled(decision.delayMs, preq.signal)))
        return undefined;
    }
    if (preq.signal.aborted) return undefined;
    this.answerFailure(preq, opts, state, plan);
    return undefined;
  }

  /**
   * The last candidate's keys are all cooling down: wait for the soonest one when the retry policy allows it
   * (short enough, inside the deadline, within the retry budget), so a lone 429 without retry-after is retried
   * after a backoff instead of failing at once. Returns false when the request should stop waiting.
   */
  private async waitForKey(
    preq: ProxyRequest,
    state: LoopState,
    waitMs: number,
    deadlineAt: number,
  ): Promise<boolean> {
    const outcome = keyPoolExhaustedOutcome(waitMs);
    // Giving up here ends the request, so the final answer must carry this decision, not the earlier "retry".
    const giveUp = (decision: RetryDecision) => {
      if (state.last) state.last.decision = decision;
      return false;
    };
    if (state.keyWaits >= this.config.routing.retry.max_attempts) {
      return giveUp({ action: 'give_up', delayMs: 0, reason: outcome.reason, cause: 'max_attempts' });
    }
    const decision = decideNext(outcome, {
      attemptsMade: state.attemptsMade,
      maxAttempts: this.config.routing.retry.max_attempts,
      attemptsOnThisProvider: state.attemptsOnProvider,
      hasOtherCandidate: false,
      hasOtherKeyOnProvider: false,
      deadlineRemainingMs: deadlineAt - Date.now(),
      committed: false,
      retryIndex: state.retryIndex,
      budget: this.routing.budget,
      config: this.config.routing.retry,
      rng: Math.random,
    });
    if (decision.action === 'give_up') return giveUp(decision);
    state.keyWaits++;
    state.retryIndex++;
    return sleepUnlessCancelled(Math.max(decision.delayMs, waitMs), preq.signal);
  }

  /**
   * One attempt's timeouts: server.timeout_ms for a JSON answer's headers and body, ttft_timeout_ms for a stream's
   * first content, each cut to what is left until `deadlineAt` (Infinity for the first attempt). `cut` says the
   * deadline made one of them shorter than configured.
   */
  private attemptLimits(stream: boolean, deadlineAt: number): AttemptLimits {
    const { server, routing } = this.config;
    const remaining = Number.isFinite(deadlineAt) ? Math.max(1, deadlineAt - Date.now()) : Infinity;
    // undici keeps one timer per upstream connection and merely refreshes it while the delay stays the same; a
    // delay that changed on every request (the remaining deadline, to the millisecond) made it build a new timer
    // each time, which outlives the request in undici's timer list. Whole seconds (undici's own timer resolution;
    // rounded down, so the deadline still holds) keep it the same from one request to the next.
    const upstreamTimeoutMs = Math.min(
      server.timeout_ms,
      remaining > 1000 ? Math.floor(remaining / 1000) * 1000 : remaining,
    );
    const ttftTimeoutMs = Math.min(routing.ttft_timeout_ms, remaining);
    const cut = stream ? ttftTimeoutMs < routing.ttft_timeout_ms : upstreamTimeoutMs < server.timeout_ms;
    return { upstreamTimeoutMs, ttftTimeoutMs, cut };
  }

  private async attempt(
    preq: ProxyRequest,
    opts: ForwardOptions,
    rt: ProviderRuntime,
    step: PlanStep,
    key: string | undefined,
    state: LoopState,
    limits: AttemptLimits,
  ): Promise<AttemptResult> {
    const routing = this.config.routing;
    const upstreamModel = mappedModel(rt.config, step.model) ?? step.model;
    const mapped = upstreamModel === preq.model ? preq.rawBody : bodyWithModel(preq.rawBody, upstreamModel);
    // Thinking blocks another vendor signed would be refused (400 "Invalid signature in thinking block").
    const body = bodyForProvider(mapped, rt.config.type);
    const { upstreamTimeoutMs } = limits;
    // Streams need a cancellation of their own (TTFT and stall timers end one attempt, not the request); a JSON
    // attempt only ever ends early because the client left, so it uses the request's token as is.
    const abort = preq.stream ? preq.signal.child() : undefined;
    rt.inFlight++;
    try {
      return await runAttempt(
        this.upstream,
        {
          baseUrl: rt.baseUrl,
          pathAndQuery: preq.pathAndQuery,
          method: 'POST',
          headers: buildUpstreamHeaders(
            preq.headers,
            rt.auth,
            key,
            this.forwardsClientCredentials ? rt.config.type : undefined,
            preq.id,
          ),
          body,
          signal: abort ?? preq.signal,
          // A stream's first content is due within ttft_timeout_ms of the request, its headers included.
          headersTimeoutMs: preq.stream
            ? Math.min(upstreamTimeoutMs, limits.ttftTimeoutMs)
            : upstreamTimeoutMs,
          // A JSON answer reaches the client only once it is whole, so its body is bounded like its headers.
          bodyTimeoutMs: preq.stream ? 0 : upstreamTimeoutMs,
        },
        abort,
        {
          res: opts.res,
          addHeaders: (out) => {
            appendHeaders(out, opts.baseHeaders());
            if (routing.debug) this.addDebugHeaders((name, value) => out.push(name, value), state, step);
          },
          stream: preq.stream,
          ttftTimeoutMs: limits.ttftTimeoutMs,
          stallTimeoutMs: routing.stall_timeout_ms,
          captureLimitBytes: opts.captureLimitBytes,
          captureBudget: opts.captureBudget,
          onCommitted: opts.onCommitted,
          requestId: preq.id,
          clientSignal: preq.signal,
          signatureTag: signatureTagOf(rt.config.type),
        },
      );
    } finally {
      rt.inFlight--;
      abort?.release();
    }
  }

  private recordKey(rt: ProviderRuntime, keyId: string, result: AttemptResult, spendsTokens: boolean): void {
    if (result.kind === 'status') {
      rt.keys.recordResponse(keyId, result.status, result.rawHeaders);
    } else if (result.kind === 'delivered') {
      rt.keys.recordResponse(keyId, result.status, result.headers);
      if (spendsTokens) rt.keys.recordUsage(keyId, result.usage.input_tokens, result.usage.output_tokens);
    }
  }

  /** The X-CC-Relay-* debug headers (routing.debug), handed to `set` one by one. */
  private addDebugHeaders(
    set: (name: string, value: string) => void,
    state: LoopState,
    step: PlanStep | undefined,
  ): void {
    if (!this.config.routing.debug) return;
    set('x-cc-relay-strategy', this.routing.strategy.name);
    set('x-cc-relay-attempts', String(state.attemptsMade));
    if (step) {
      set('x-cc-relay-provider', step.provider);
      if (step.fallbackIndex > 0) set('x-cc-relay-fallback', step.model);
    }
  }

  /**
   * When every key of every provider in the plan is cooling down, the wait until the soonest one frees up, as
   * retry hints: the last key's own retry-after would send the client back later (or sooner) than needed.
   */
  private poolRetryAfter(plan: PlanStep[]): Record<string, string> {
    let soonest = Infinity;
    for (const name of new Set(plan.map((s) => s.provider))) {
      const rt = this.routing.runtime(name);
      if (rt) soonest = Math.min(soonest, rt.keys.soonestAvailableMs());
    }
    if (!Number.isFinite(soonest) || soonest <= 0) return {};
    return {
      'retry-after': String(Math.max(1, Math.ceil(soonest / 1000))),
      'retry-after-ms': String(soonest),
    };
  }

  /** Nothing was delivered: pass the last upstream error through, or say why no attempt could be made. */
  private answerFailure(preq: ProxyRequest, opts: ForwardOptions, state: LoopState, plan: PlanStep[]): void {
    const headers: Record<string, string> = { ...opts.baseHeaders() };
    this.addDebugHeaders((name, value) => (headers[name] = value), state, state.step);
    const last = state.last;
    const noMoreRetries = last?.decision ? shouldTellClientNotToRetry(last.decision, last.outcome) : false;
    if (noMoreRetries) headers['x-should-retry'] = 'false';
    // A redirect is no answer for the client: it gets the relay's own error below.
    const redirected = last?.result.kind === 'status' && isUnexpectedStatus(last.result.status);
    if (last?.result.kind === 'status' && last.outcome.kind !== 'key_rejected' && !redirected) {
      const r = last.result;
      const retryHint = r.status === 429 ? this.poolRetryAfter(plan) : {};
      const answer = upstreamErrorAnswer(r.status, r.headers, r.body, state.step?.provider, preq.id);
      send(opts.res, r.status, { ...answer.headers, ...retryHint, ...headers }, answer.body);
      return;
    }
    // The provider refused the relay's keys (now, or recently enough that every key is still out of rotation):
    // the relay's configuration, not a rate limit and not the client's credentials.
    const rejectedBy =
      last?.outcome.kind === 'key_rejected'
        ? state.step?.provider
        : !last && !state.keysCoolingElsewhere
          ? state.keysRejectedBy
          : undefined;
    const error = redirected
      ? unexpectedStatusError(state.step?.provider, last.outcome.status ?? 0)
      : rejectedBy !== undefined
        ? keyRejectedError(rejectedBy, this.routing.runtime(rejectedBy)?.keys.size === 0)
        : failureError({
            last: last?.result,
            attemptsMade: state.attemptsMade,
            soonestKeyRetryMs: state.soonestKeyRetryMs,
            unservedModel:
              plan.length === 0 && !this.routing.servesModel(preq.model) ? preq.model : undefined,
            soonestBreakerRetryMs: () => this.routing.soonestBreakerRetryMs(),
          });
    send(
      opts.res,
      error.status,
      { ...headers, ...error.headers, 'content-type': 'application/json' },
      JSON.stringify(errorBody(RELAY_ERROR_SHAPES[error.code].type, error.message, preq.id)),
    );
  }
}
