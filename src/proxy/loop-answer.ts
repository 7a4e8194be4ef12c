import type { ServerResponse } from 'node:http';
import type { AttemptResult } from '../protocol/answer';
import { errorJson } from '../protocol/error-writer';
import type { AttemptOutcome } from '../protocol/outcome';
import { RelayErrorCode } from '../protocol/relay-error';
import { adapterOf } from '../providers/adapters';
import { shouldTellClientNotToRetry, type RetryDecision } from '../routing/retry-policy';
import type { PlanStep } from '../routing/route-plan';
import type { RoutingService } from '../routing/routing.service';
import {
  failureError,
  finalDecision,
  isUnexpectedStatus,
  keyRejectedError,
  send,
  unexpectedStatusError,
  upstreamErrorAnswer,
} from './failure-answer';

/** The shortest retry hint of a 429 the relay answers for its own keys (its default cooldown after a bare 429). */
const MIN_KEY_RETRY_HINT_MS = 1_000;

/** What the attempt loop knows of one request so far. */
export interface LoopState {
  attemptsMade: number;
  keyWaits: number;
  attemptsOnProvider: number;
  retryIndex: number;
  step?: PlanStep;
  last?: { result: AttemptResult; outcome: AttemptOutcome; decision?: RetryDecision };
  soonestKeyRetryMs?: number;
  /** Every provider that refused the relay's key in this request (a 401), or was skipped for having refused all. */
  keysRejectedBy: string[];
  /** The one move to a fresh provider the retry budget does not pay for has been made (see isFreshFailover). */
  freeFailoverUsed?: boolean;
  /** A provider was skipped for keys that are merely cooling down (rate limits): the answer is then a 429. */
  keysCoolingElsewhere?: boolean;
}

/** What the answer of a request that got none delivered depends on besides the loop's state. */
export interface NoAnswerContext {
  res: ServerResponse;
  requestId: string;
  /** The model the client asked for. */
  model: string;
  /** The headers every answer carries (request id, cache status), debug headers excluded. */
  headers: Record<string, string>;
  /** routing.debug: the X-CC-Relay-* headers go out. */
  debug: boolean;
  routing: Pick<RoutingService, 'strategy' | 'runtime' | 'servesModel' | 'soonestBreakerRetryMs'>;
}

/** The X-CC-Relay-* debug headers (routing.debug), handed to `set` one by one. */
export function addDebugHeaders(
  set: (name: string, value: string) => void,
  strategy: string,
  state: LoopState,
  step: PlanStep | undefined,
): void {
  set('x-cc-relay-strategy', strategy);
  set('x-cc-relay-attempts', String(state.attemptsMade));
  if (step) {
    set('x-cc-relay-provider', step.provider);
    if (step.fallbackIndex > 0) set('x-cc-relay-fallback', step.model);
  }
}

/**
 * When every key of every provider in the plan is cooling down, the wait until the soonest one frees up, as
 * retry hints: the last key's own retry-after would send the client back later (or sooner) than needed. The relay
 * cools a key down itself after a 429 without retry-after, so it always knows this wait for providers with keys;
 * a key that is already back (its cooldown ran out while the request waited on another provider) is told as one
 * second, the shortest cooldown the relay gives. Pass-through providers (no keys) give no hint.
 */
function poolRetryAfter(routing: NoAnswerContext['routing'], plan: PlanStep[]): Record<string, string> {
  let soonest = Infinity;
  for (const name of new Set(plan.map((s) => s.provider))) {
    const rt = routing.runtime(name);
    if (rt && rt.keys.size > 0) soonest = Math.min(soonest, rt.keys.soonestAvailableMs());
  }
  if (!Number.isFinite(soonest)) return {};
  const ms = Math.max(soonest, MIN_KEY_RETRY_HINT_MS);
  return {
    'retry-after': String(Math.ceil(ms / 1000)),
    'retry-after-ms': String(ms),
  };
}

/** Nothing was delivered: pass the last upstream error through, or say why no attempt could be made. */
export function answerNoDelivery(ctx: NoAnswerContext, state: LoopState, plan: PlanStep[]): void {
  const { routing } = ctx;
  const headers: Record<string, string> = { ...ctx.headers };
  if (ctx.debug) {
    addDebugHeaders((name, value) => (headers[name] = value), routing.strategy.name, state, state.step);
  }
  const last = state.last;
  const noMoreRetries = last?.decision
    ? shouldTellClientNotToRetry(finalDecision(last.decision), last.outcome)
    : false;
  if (noMoreRetries) headers['x-should-retry'] = 'false';
  // A redirect is no answer for the client: it gets the relay's own error below.
  const redirected = last?.result.kind === 'status' && isUnexpectedStatus(last.result.status);
  // A final 402 (every key and provider tried out of credit) is passed through: billing_error says what to fix.
  const passThrough = last?.outcome.kind !== 'key_rejected' || last.outcome.status === 402;
  if (last?.result.kind === 'status' && passThrough && !redirected) {
    const r = last.result;
    const retryHint = r.status === 429 ? poolRetryAfter(routing, plan) : {};
    // The relay cooled its keys down itself where the upstream named no retry-after, so it knows when one comes
    // back: the client is told to wait that long, not to give up (Claude Code would fail at once).
    if (retryHint['retry-after'] !== undefined) delete headers['x-should-retry'];
    const answer = upstreamErrorAnswer(r.status, r.headers, r.body, state.step?.provider, ctx.requestId);
    send(ctx.res, r.status, { ...answer.headers, ...retryHint, ...headers }, answer.body);
    return;
  }
  // The providers refused the relay's keys (now, or recently enough that every key is still out of rotation):
  // the relay's configuration, not a rate limit and not the client's credentials. Each one is named.
  const rejectedBy =
    last?.outcome.kind === 'key_rejected' || (!last && !state.keysCoolingElsewhere)
      ? state.keysRejectedBy
      : [];
  const error = redirected
    ? unexpectedStatusError(state.step?.provider, last.outcome.status ?? 0)
    : rejectedBy.length > 0
      ? keyRejectedError(
          rejectedBy,
          rejectedBy.every((name) => {
            const rt = routing.runtime(name);
            return rt?.keys.size === 0 && adapterOf(rt.config) === undefined;
          }),
        )
      : failureError({
          last: last?.result,
          attemptsMade: state.attemptsMade,
          soonestKeyRetryMs: state.soonestKeyRetryMs,
          unservedModel: plan.length === 0 && !routing.servesModel(ctx.model) ? ctx.model : undefined,
          soonestBreakerRetryMs: () => routing.soonestBreakerRetryMs(),
        });
  // A refused key stays refused until someone fixes the config: retrying only delays the error in front of the
  // user (Claude Code retried for minutes).
  if (error.code === RelayErrorCode.ProviderKeyRejected) headers['x-should-retry'] = 'false';
  send(
    ctx.res,
    error.status,
    { ...headers, ...error.headers, 'content-type': 'application/json' },
    errorJson(error.type, error.message, ctx.requestId),
  );
}
