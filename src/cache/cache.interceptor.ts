import { Derived } from '../common/derived';
import { type CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { markAnsweredBy } from '../common/answer-feed';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, mergeMap, of, type Observable, tap } from 'rxjs';
import { RelayConfig } from '../config/relay-config';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import type { DeliveredAnswer } from '../protocol/answer';
import {
  bodyFactsOf,
  slotOf,
  type BodyFacts,
  type ProxyEndpoint,
  type RawBodyCarrier,
} from '../protocol/request-carrier';
import { appendHeaders } from '../protocol/upstream-headers';
import { renderAnswer, type CachedAnswer } from './cached-answer';
import { ResponseCache, type CachePlan } from './response-cache.service';

const CACHE_HEADER = 'x-cc-relay-cache';
/** Headers a hit writes itself (a reply header of the same name would otherwise be sent twice). */
const SET_ON_HIT = new Set([
  CACHE_HEADER,
  'content-type',
  'content-length',
  'cache-control',
  'x-accel-buffering',
]);
const CACHEABLE = 'cc-relay:cacheable';

/** Marks a route whose answers the response cache serves and stores, naming its Messages API endpoint. */
export const Cacheable = (endpoint: ProxyEndpoint) => SetMetadata(CACHEABLE, endpoint);

/**
 * The response cache around the Messages controller. A hit is answered here (JSON, or replayed as SSE to a
 * streaming client) and never reaches the upstream; a miss goes through the attempt loop and its complete answer
 * is stored on the way back; identical requests in flight wait for the first one (single-flight). Every answer
 * says `X-CC-Relay-Cache: HIT | MISS | BYPASS`. It never reads or rewrites a streamed body in flight: it only
 * gets the finished answer the attempt loop hands back. Registered globally only when a cache mode is on (so a
 * relay with `cache.mode: disabled` pays nothing for it); it acts on routes marked @Cacheable(endpoint).
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  /** Each route handler's @Cacheable endpoint (null: not cacheable), read once. */
  private readonly marks = new WeakMap<object, ProxyEndpoint | null>();

  /** With routing.debug, the X-CC-Relay-* headers of a hit: the spec sends them on every answer. */
  // No provider was asked: "cache" stands where the provider's name goes, and no attempt was made.
  private readonly debugHeaderSets = new Derived((routing: RelayConfig['routing']) =>
    routing.debug
      ? ['x-cc-relay-provider', 'cache', 'x-cc-relay-strategy', routing.strategy, 'x-cc-relay-attempts', '0']
      : [],
  );

  constructor(
    private readonly cache: ResponseCache,
    private readonly metrics: RelayMetrics,
    private readonly reflector: Reflector,
    private readonly config: RelayConfig,
  ) {}

  /** Rebuilt when a config reload replaces the routing section. */
  private get debugHeaders(): string[] {
    return this.debugHeaderSets.of(this.config.routing);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = context.getHandler();
    let endpoint = this.marks.get(handler);
    if (endpoint === undefined) {
      endpoint = this.reflector.get<ProxyEndpoint | undefined>(CACHEABLE, handler) ?? null;
      this.marks.set(handler, endpoint);
    }
    if (endpoint === null || !this.cache.enabled) return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<FastifyRequest & RawBodyCarrier>();
    const reply = http.getResponse<FastifyReply>();
    let facts: BodyFacts;
    try {
      // Read once: the controller takes them from the request's slot.
      facts = bodyFactsOf(req);
    } catch {
      return next.handle(); // the controller answers the bad request
    }
    const stream = endpoint === 'messages' && facts.stream;
    const plan = this.cache.plan({
      endpoint,
      body: req.body as Record<string, unknown>,
      model: facts.model,
      stream,
      headers: req.headers,
      clientScope: req.clientScope,
    });
    if (!plan.use) {
      this.cache.countBypass();
      this.metrics.cacheResult(endpoint, 'BYPASS');
      void reply.header(CACHE_HEADER, 'BYPASS');
      return next.handle();
    }
    const early = plan.lookup ? this.answerEarly(plan, stream, reply) : false;
    const model = facts.model;
    if (early === false) return this.miss(next, req, reply, endpoint, plan, stream, model);
    if (early === true) return this.hit(endpoint);
    return from(early).pipe(
      mergeMap((served) =>
        served ? this.hit(endpoint) : this.miss(next, req, reply, endpoint, plan, stream, model),
      ),
    );
  }

  private hit(endpoint: ProxyEndpoint): Observable<undefined> {
    this.metrics.cacheResult(endpoint, 'HIT');
    return of(undefined);
  }

  /** Lets the request go upstream and stores its answer on the way back (leading identical requests). */
  private miss(
    next: CallHandler,
    req: RawBodyCarrier,
    reply: FastifyReply,
    endpoint: ProxyEndpoint,
    plan: Extract<CachePlan, { use: true }>,
    stream: boolean,
    requestedModel: string,
  ): Observable<unknown> {
    const result = plan.lookup ? 'MISS' : 'BYPASS';
    this.metrics.cacheResult(endpoint, result);
    void reply.header(CACHE_HEADER, result);
    if (stream && plan.store) {
      slotOf(req).capture = { limitBytes: this.cache.maxEntryBytes, budget: this.cache.captureBudget };
    }
    if (!plan.store) return next.handle();
    const settle = this.cache.lead(plan.key);
    let answer: CachedAnswer | undefined;
    return next.handle().pipe(
      tap({
        next: (delivered) => {
          if (!delivered) return;
          const d = delivered as DeliveredAnswer;
          answer = this.cache.toEntry(endpoint, d);
          if (answer && this.cache.mayStore(d, requestedModel))
            this.cache.store(plan.key, answer, plan.ttlMs);
        },
        finalize: () => settle(answer),
      }),
    );
  }

  /**
   * Answers from the cache when it can: an entry, or the answer of an identical request in flight. Synchronous
   * (true: answered, false: go upstream) unless the backend or a leader must be waited for.
   */
  private answerEarly(
    plan: Extract<CachePlan, { use: true }>,
    stream: boolean,
    reply: FastifyReply,
  ): boolean | Promise<boolean> {
    const found = this.cache.lookup(plan.key, plan.maxAgeMs);
    if (found instanceof Promise)
      return found.then((answer) => this.afterLookup(answer, plan, stream, reply));
    return this.afterLookup(found, plan, stream, reply);
  }

  private afterLookup(
    answer: CachedAnswer | undefined,
    plan: Extract<CachePlan, { use: true }>,
    stream: boolean,
    reply: FastifyReply,
  ): boolean | Promise<boolean> {
    if (answer) return this.serve(answer, stream, reply);
    const leader = this.cache.pending(plan.key);
    if (!leader) return false;
    return leader.then((shared) => {
      if (!shared) return false;
      this.cache.countShared();
      return this.serve(shared, stream, reply);
    });
  }

  private serve(answer: CachedAnswer, stream: boolean, reply: FastifyReply): boolean {
    const rendered = renderAnswer(answer, stream);
    if (!rendered) return false;
    // A name/value list, as the proxy path writes its answers (no header object built and spread per hit).
    const headers = appendHeaders([], reply.getHeaders(), SET_ON_HIT);
    headers.push(CACHE_HEADER, 'HIT', 'content-type', rendered.contentType);
    headers.push('content-length', String(Buffer.byteLength(rendered.body)));
    if (stream) headers.push('cache-control', 'no-cache', 'x-accel-buffering', 'no');
    if (this.debugHeaders.length > 0) headers.push(...this.debugHeaders);
    reply.hijack();
    markAnsweredBy(reply.raw, { provider: 'cache', model: '', fallback: false });
    reply.raw.writeHead(200, headers);
    reply.raw.end(rendered.body);
    return true;
  }
}
