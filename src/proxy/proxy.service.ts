import { Derived } from '../common/derived';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { sleepUnlessCancelled } from '../common/cancellation';
import { CLOCK, systemClock, type Clock } from '../common/clock';
import { SecretMasker } from '../config/mask';
import { RelayConfig } from '../config/relay-config';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import { markAnsweredBy } from '../common/answer-feed';
import { classifyOutcome, keyPoolExhaustedOutcome, type AttemptOutcome } from '../protocol/outcome';
import type { Admission, AttemptReport, ProviderLease } from '../routing/provider-lease';
import type { RetryDecision } from '../routing/retry-policy';
import { laterStepCanServeNow, modelForLog, type PlanStep } from '../routing/route-plan';
import { RoutingService, type ProviderRuntime } from '../routing/routing.service';
import type { CaptureBudget } from '../protocol/capture-budget';
import { tooDeeplyNested } from '../protocol/request-carrier';
import { bodyWithModel, type ProxyRequest } from './proxy-request';
import { outcomeInput } from './failure-answer';
import { addDebugHeaders, answerNoDelivery, type LoopState } from './loop-answer';
import { adapterOf } from '../providers/adapters';
import { adaptRequest } from './adapt-request';
import { KeyVerifier } from './key-verifier';
import { bodyForProvider, signatureTagOf, withSignerAffinity } from './thinking-signatures';
import type { AttemptResult, DeliveredAnswer } from '../protocol/answer';
import { runAttempt } from './upstream-attempt';
import { UpstreamClient } from './upstream-client';
import { appendHeaders, buildUpstreamHeaders, withholdsClientCredential } from '../protocol/upstream-headers';

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

/**
 * The attempt loop: owns one request from the route plan to the answer. It tries candidates in plan order,
 * records every outcome to the provider's breaker and key pool, asks the retry policy what next and stops at
 * the deadline. Nothing else knows about attempts.
 */
@Injectable()
export class ProxyService {
  /** Only an open relay forwards client credentials to keyless providers (see buildUpstreamHeaders). */
  private get forwardsClientCredentials(): boolean {
    return this.config.server.auth.api_keys.length === 0;
  }
  private readonly canServeNow = (provider: string): boolean => this.routing.canServeNow(provider);
  /** Every provider key (and relay key), masked in upstream error text before it reaches clients or logs. */
  private readonly maskers = new Derived(
    (providers: RelayConfig['providers']) =>
      new SecretMasker([
        ...providers.flatMap((p) => p.keys.map((k) => k.key)),
        ...this.config.server.auth.api_keys,
      ]),
  );
  private get masker(): SecretMasker {
    return this.maskers.of(this.config.providers);
  }
  /** Confirms a 401 before a key is parked (one request must not take the keys out for everyone). */
  private readonly keyVerifier: KeyVerifier;

  constructor(
    private readonly config: RelayConfig,
    private readonly routing: RoutingService,
    private readonly upstream: UpstreamClient,
    private readonly metrics: RelayMetrics,
    @Optional() @Inject(CLOCK) clock: Clock = systemClock,
  ) {
    this.keyVerifier = new KeyVerifier(upstream, clock);
  }

  /** Forwards the request; the answer (or a relay error) is written to opts.res. */
  async forward(preq: ProxyRequest, opts: ForwardOptions): Promise<DeliveredAnswer | undefined> {
    const routing = this.config.routing;
    const deadlineAt = preq.startedAt + routing.deadline_ms;
    this.routing.recordRequest();
    const plan = withSignerAffinity(
      this.routing.plan(preq.model),
      preq.rawBody,
      this.routing.strategy.name,
      (p) => this.routing.runtime(p)?.config.type,
    );
    const state: LoopState = {
      attemptsMade: 0,
      keyWaits: 0,
      attemptsOnProvider: 0,
      retryIndex: 0,
      keysRejectedBy: [],
    };

    // count_tokens answers say how many tokens the prompt has; they spend none (Anthropic limits them apart).
    const spendsTokens = preq.endpoint === 'messages';
    const estimate = spendsTokens ? Math.ceil(preq.rawBody.length / 4) : 0;
    let stepIdx = 0;
    while (stepIdx < plan.length && !preq.signal.aborted) {
      const step = plan[stepIdx]!;
      const lease = this.routing.lease(step, this.metrics);
      // Every connection of the provider is taken: pass it over while a later step can serve the request now. When
      // none can, the request waits here for a connection, on its TTFT / timeout (see UpstreamClient).
      if (!lease || (lease.isFull() && laterStepCanServeNow(plan, stepIdx, this.canServeNow))) {
        stepIdx++;
        state.attemptsOnProvider = 0;
        continue;
      }
      // Every hold the lease takes (the breaker's permit, the key's in-flight count and token reservation, the
      // provider's connection count) is given back in the finally below whatever is thrown on the way, so no failure
      // can starve a key or hold a HALF_OPEN test slot for good. Nothing is given back twice.
      try {
        const admission = await lease.admit(estimate);
        if (admission.kind !== 'admitted') {
          // Refused, or no key free: the next step, unless this is the last and one of its keys comes back in time.
          const last = stepIdx + 1 >= plan.length;
          if (!(await this.staysAfterNoKey(preq, state, step, admission, last, deadlineAt))) {
            stepIdx++;
            state.attemptsOnProvider = 0;
          }
          continue;
        }
        const rt = lease.runtime;
        const key = admission.key;
        state.step = step;
        state.attemptsMade++;
        state.attemptsOnProvider++;
        // The first attempt has its full timeouts (a JSON answer may take server.timeout_ms to be written); the
        // deadline bounds the retries, backoffs and fallbacks after it, each cut to what is left of it.
        const limits = this.attemptLimits(preq.stream, state.attemptsMade === 1 ? Infinity : deadlineAt);
        const result = await this.attempt(preq, opts, lease, key?.key, state, limits);
        lease.returnKey();
        const outcome = await this.classify(preq, rt, key, result);
        // A timeout of an attempt the deadline had cut short is the relay's own budget running out, not the
        // provider failing: it does not count against the breaker.
        lease.settle(reportOf(result, outcome, spendsTokens, limits.cut && isTimeout(result)));
        if (outcome.kind === 'key_rejected') this.keyRejected(preq, lease, state, key?.keyId, outcome);
        if (result.kind === 'delivered') return this.delivered(result, rt.name, step, opts);
        if (result.kind === 'cancelled') return undefined;
        const decision = this.decideAfterFailure(preq, state, lease, {
          result,
          outcome,
          step,
          nextStep: plan[stepIdx + 1],
          estimate,
          deadlineAt,
        });
        if (decision.action === 'give_up') break;
        if (decision.free) state.freeFailoverUsed = true;
        state.retryIndex++;
        if (decision.action === 'next_candidate') {
          stepIdx++;
          state.attemptsOnProvider = 0;
        }
        if (decision.delayMs > 0 && !(await sleepUnlessCancelled(decision.delayMs, preq.signal)))
          return undefined;
      } finally {
        // Settled above on every ordinary path; this only acts when something threw in between.
        lease.release();
      }
    }
    if (!preq.signal.aborted) this.answerNoDelivery(preq, opts, state, plan);
    return undefined;
  }

  /** Nothing was delivered: the client gets the last upstream error, or the relay's word on why there was none. */
  private answerNoDelivery(
    preq: ProxyRequest,
    opts: ForwardOptions,
    state: LoopState,
    plan: PlanStep[],
  ): void {
    const target = {
      res: opts.res,
      requestId: preq.id,
      model: preq.model,
      headers: opts.baseHeaders(),
      debug: this.config.routing.debug,
      routing: this.routing,
    };
    answerNoDelivery(target, state, plan);
  }

  /** A failed attempt: logged, and routing's decision (retry here, move on, or give up) recorded on the state. */
  private decideAfterFailure(
    preq: ProxyRequest,
    state: LoopState,
    lease: ProviderLease,
    a: {
      result: AttemptResult;
      outcome: AttemptOutcome;
      step: PlanStep;
      nextStep: PlanStep | undefined;
      estimate: number;
      deadlineAt: number;
    },
  ): RetryDecision {
    const provider = lease.runtime.name;
    preq.log.warn(
      { provider, model: modelForLog(a.step.model), attempt: state.attemptsMade, reason: a.outcome.reason },
      'upstream attempt failed',
    );
    const decision = this.routing.decideNext(a.outcome, {
      attemptsMade: state.attemptsMade,
      maxAttempts: this.config.routing.retry.max_attempts,
      attemptsOnThisProvider: state.attemptsOnProvider,
      hasOtherCandidate: a.nextStep !== undefined,
      freeFailover: !state.freeFailoverUsed && this.isFreshFailover(a.step, a.nextStep),
      hasOtherKeyOnProvider: lease.hasOtherKey(a.estimate),
      deadlineRemainingMs: a.deadlineAt - Date.now(),
      committed: false,
      retryIndex: state.retryIndex,
    });
    state.last = { result: a.result, outcome: a.outcome, decision };
    this.metrics.retryDecision(decision.action);
    if (decision.action === 'give_up') {
      preq.log.debug(
        { provider, cause: decision.cause, reason: decision.reason },
        'giving up on the request',
      );
    }
    return decision;
  }

  /**
   * No attempt on this step: the lease was refused (a HALF_OPEN slot taken, a provider the cluster closed) or no key
   * of the pool is free. Records why, and whether the request stays on the step: only the last one, where it waits
   * for the soonest key when that fits the deadline.
   */
  private async staysAfterNoKey(
    preq: ProxyRequest,
    state: LoopState,
    step: PlanStep,
    admission: Exclude<Admission, { kind: 'admitted' }>,
    lastStep: boolean,
    deadlineAt: number,
  ): Promise<boolean> {
    if (admission.kind === 'refused') return false;
    if (admission.allRejected) addOnce(state.keysRejectedBy, step.provider);
    else state.keysCoolingElsewhere = true;
    state.soonestKeyRetryMs = Math.min(state.soonestKeyRetryMs ?? Infinity, admission.retryAfterMs);
    return lastStep && (await this.waitForKey(preq, state, admission.retryAfterMs, deadlineAt));
  }

  /** The attempt's outcome, with the 401 of a key of the pool confirmed (or explained) first. */
  private async classify(
    preq: ProxyRequest,
    rt: ProviderRuntime,
    key: { keyId: string; key: string } | undefined,
    result: AttemptResult,
  ): Promise<AttemptOutcome> {
    const clientCaused401 = key !== undefined && (await this.keyVerifier.settle401(rt, key, preq, result));
    const input = outcomeInput(result);
    if (preq.endpoint === 'count_tokens') input.countTokens = true;
    // The relay chose the credential (a key of the pool, or none at all where it keeps client keys to itself, or
    // where it kept a client's Anthropic key from another vendor): a 401 is then the relay's configuration, not
    // the client's key.
    if (
      key !== undefined ||
      !this.forwardsClientCredentials ||
      withholdsClientCredential(preq.headers, rt.config.type) ||
      // Cloud credentials (Vertex, Bedrock, Entra ID) are always the relay's own.
      adapterOf(rt.config) !== undefined
    ) {
      input.relayKey = true;
    }
    if (clientCaused401) input.relayKey = false;
    return classifyOutcome(input);
  }

  /** The provider refused the relay's credential: named in the answer, logged, and a 402's key parked. */
  private keyRejected(
    preq: ProxyRequest,
    lease: ProviderLease,
    state: LoopState,
    keyId: string | undefined,
    outcome: AttemptOutcome,
  ): void {
    // A 401 was parked (or not) by the verifier; a 402 needs no confirmation: the account is dry.
    if (outcome.status === 402) lease.rejectKey(402);
    addOnce(state.keysRejectedBy, lease.runtime.name);
    preq.log.error(
      { provider: lease.runtime.name, key: keyId, status: outcome.status },
      outcome.status === 402
        ? 'the account behind a key of the pool is out of credit or quota; the key is out of rotation for a while'
        : 'the provider rejected a key of its pool; it is out of rotation for a while (revoked or mistyped?)',
    );
  }

  /** The answer reached the client: labelled with who served it (in place: it is this attempt's own object). */
  private delivered(
    result: AttemptResult,
    provider: string,
    step: PlanStep,
    opts: ForwardOptions,
  ): DeliveredAnswer {
    const answer = result as DeliveredAnswer;
    answer.provider = provider;
    answer.model = step.model;
    markAnsweredBy(opts.res, { provider, model: step.model, fallback: step.fallbackIndex > 0 });
    return answer;
  }

  /**
   * Whether moving from `step` to `next` goes to another provider that is healthy as far as the relay knows: its
   * circuit CLOSED with no failure since its last success. Such a move is no retry of a struggling upstream, so
   * the retry budget does not pay for it (see RetryState.freeFailover).
   */
  private isFreshFailover(step: PlanStep, next: PlanStep | undefined): boolean {
    if (!next || next.provider === step.provider) return false;
    return this.routing.isFresh(next.provider);
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
      preq.log.debug({ cause: decision.cause, reason: decision.reason }, 'giving up on the request');
      if (state.last) state.last.decision = decision;
      return false;
    };
    if (state.keyWaits >= this.config.routing.retry.max_attempts) {
      return giveUp({ action: 'give_up', delayMs: 0, reason: outcome.reason, cause: 'max_attempts' });
    }
    const decision = this.routing.decideNext(outcome, {
      attemptsMade: state.attemptsMade,
      maxAttempts: this.config.routing.retry.max_attempts,
      attemptsOnThisProvider: state.attemptsOnProvider,
      hasOtherCandidate: false,
      hasOtherKeyOnProvider: false,
      deadlineRemainingMs: deadlineAt - Date.now(),
      committed: false,
      retryIndex: state.retryIndex,
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
    lease: ProviderLease,
    key: string | undefined,
    state: LoopState,
    limits: AttemptLimits,
  ): Promise<AttemptResult> {
    const routing = this.config.routing;
    const { runtime: rt, step } = lease;
    const upstreamModel = step.upstreamModel;
    const body = rewrittenBody(preq, upstreamModel, rt.config.type);
    const { upstreamTimeoutMs } = limits;
    // Streams need a cancellation of their own (TTFT and stall timers end one attempt, not the request); a JSON
    // attempt only ever ends early because the client left, so it uses the request's token as is.
    const abort = preq.stream ? preq.signal.child() : undefined;
    // Vertex, Bedrock, OpenAI-compatible, Azure with Entra ID: their own path, body and credentials (src/providers/). The Anthropic-API
    // types have no adapter and go as they are.
    const adapter = adapterOf(rt.config);
    const call = adapter ? await adaptRequest(adapter, preq, body, upstreamModel, key) : undefined;
    if (call && call.kind !== 'send') return call;
    lease.connect();
    try {
      return await runAttempt(
        this.upstream,
        {
          provider: rt.name,
          maxConnections: rt.maxConnections,
          baseUrl: rt.baseUrl,
          pathAndQuery: call ? call.pathAndQuery : preq.pathAndQuery,
          method: 'POST',
          headers: call
            ? call.headers
            : buildUpstreamHeaders(
                preq.headers,
                rt.auth,
                key,
                this.forwardsClientCredentials ? rt.config.type : undefined,
                preq.id,
              ),
          body: call ? call.body : body,
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
            if (routing.debug) {
              addDebugHeaders(
                (name, value) => out.push(name, value),
                this.routing.strategy.name,
                state,
                step,
              );
            }
          },
          stream: preq.stream,
          ttftTimeoutMs: limits.ttftTimeoutMs,
          stallTimeoutMs: routing.stall_timeout_ms,
          clientStallTimeoutMs: routing.client_stall_timeout_ms,
          commitOnHeaders: routing.commit === 'headers',
          captureLimitBytes: opts.captureLimitBytes,
          captureBudget: opts.captureBudget,
          onCommitted: opts.onCommitted,
          requestId: preq.id,
          clientSignal: preq.signal,
          masker: this.masker,
          provider: rt.name,
          log: preq.log,
          signatureTag: signatureTagOf(rt.config.type),
          translation: call?.translation ?? adapter?.translation,
        },
      );
    } finally {
      lease.disconnect();
      abort?.release();
    }
  }
}

/** What an attempt came to, as its provider lease records it. */
function reportOf(
  result: AttemptResult,
  outcome: AttemptOutcome,
  spendsTokens: boolean,
  cutShort: boolean,
): AttemptReport {
  if (result.kind === 'status') {
    return {
      outcome,
      answer: { status: result.status, headers: result.rawHeaders },
      delivered: false,
      cutShort,
    };
  }
  if (result.kind === 'delivered') {
    return {
      outcome,
      answer: { status: result.status, headers: result.headers },
      usage: spendsTokens ? result.usage : undefined,
      delivered: true,
      cutShort,
    };
  }
  return { outcome, delivered: false, cutShort };
}

function addOnce(list: string[], name: string): void {
  if (!list.includes(name)) list.push(name);
}

/**
 * The body a provider gets: the client's bytes as they came, unless the provider maps the model or must not see
 * another vendor's thinking signatures (400 "Invalid signature in thinking block"). A rewrite walks the parsed body;
 * a body nested thousands of levels deep (a few KB of `[[[[…`) overflows that walk, which is the client's request
 * at fault: a 400, found here at no cost to the bodies forwarded as they came.
 */
function rewrittenBody(
  preq: ProxyRequest,
  upstreamModel: string,
  type: ProviderRuntime['config']['type'],
): Buffer | string {
  try {
    const mapped = upstreamModel === preq.model ? preq.rawBody : bodyWithModel(preq.rawBody, upstreamModel);
    return bodyForProvider(mapped, type);
  } catch (err) {
    throw tooDeeplyNested(err) ?? err;
  }
}
