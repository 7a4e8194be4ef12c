import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, mergeMap, type Observable, tap } from 'rxjs';
import { RelayMetrics } from '../metrics/relay-metrics.service';
import type { DeliveredAnswer } from '../proxy/proxy.service';
import { readProxyBody, type RawBodyCarrier } from '../proxy/proxy-request';
import { appendHeaders } from '../proxy/upstream-headers';
import { answerToCache, renderAnswer, type CachedAnswer } from './cached-answer';
import { ResponseCache, type CachePlan } from './response-cache.service';

/** Set on the request for the controller: keep the streamed bytes, the cache wants to store them. */
export interface CaptureCarrier {
  relayCaptureStream?: boolean;
}

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

/** Marks a route whose answers the response cache serves and stores (the Messages API endpoints). */
export const Cacheable = () => SetMetadata(CACHEABLE, true);

/**
 * The response cache around the Messages controller. A hit is answered here (JSON, or replayed as SSE to a
 * streaming client) and never reaches the upstream; a miss goes through the attempt loop and its complete answer
 * is stored on the way back; identical requests in flight wait for the first one (single-flight). Every answer
 * says `X-CC-Relay-Cache: HIT | MISS | BYPASS`. It never reads or rewrites a streamed body in flight: it only
 * gets the finished answer the attempt loop hands back. Registered globally only when a cache mode is on (so a
 * relay with `cache.mode: disabled` pays nothing for it); it acts on routes marked @Cacheable().
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  private readonly marks = new WeakMap<object, boolean>();

  constructor(
    private readonly cache: ResponseCache,
    private readonly metrics: RelayMetrics,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = context.getHandler();
    let cacheable = this.marks.get(handler);
    if (cacheable === undefined) {
      cacheable = this.reflector.get<boolean | undefined>(CACHEABLE, handler) === true;
      this.marks.set(handler, cacheable);
    }
    if (!cacheable || !this.cache.enabled) return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<FastifyRequest & RawBodyCarrier & CaptureCarrier>();
    const reply = http.getResponse<FastifyReply>();
    const endpoint = req.url.startsWith('/v1/messages/count_tokens') ? 'count_tokens' : 'messages';
    let facts: ReturnType<typeof readProxyBody>;
    try {
      facts = readProxyBody(req.body);
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
    return from(this.beforeHandler(plan, stream, reply)).pipe(
      mergeMap((served) => {
        if (served) {
          this.metrics.cacheResult(endpoint, 'HIT');
          return from([undefined]);
        }
        const result = plan.lookup ? 'MISS' : 'BYPASS';
        this.metrics.cacheResult(endpoint, result);
        void reply.header(CACHE_HEADER, result);
        req.relayCaptureStream = stream;
        const settle = plan.store ? this.cache.lead(plan.key) : undefined;
        let answer: CachedAnswer | undefined;
        return next.handle().pipe(
          tap({
            next: (delivered) => {
              if (!plan.store || !delivered) return;
              answer = answerToCache(endpoint, delivered as DeliveredAnswer, Date.now());
              if (answer) this.cache.store(plan.key, answer, plan.ttlMs);
            },
            finalize: () => settle?.(answer),
          }),
        );
      }),
    );
  }

  /** Answers from the cache when it can (an entry, or the answer of an identical request in flight). */
  private async beforeHandler(
    plan: Extract<CachePlan, { use: true }>,
    stream: boolean,
    reply: FastifyReply,
  ): Promise<boolean> {
    if (!plan.lookup) return false;
    let answer = await this.cache.lookup(plan.key, plan.maxAgeMs);
    if (!answer) {
      const leader = this.cache.pending(plan.key);
      if (leader) {
        answer = await leader;
        if (answer) this.cache.countShared();
      }
    }
    return answer ? this.serve(answer, stream, reply) : false;
  }

  private serve(answer: CachedAnswer, stream: boolean, reply: FastifyReply): boolean {
    const rendered = renderAnswer(answer, stream);
    if (!rendered) return false;
    // A name/value list, as the proxy path writes its answers (no header object built and spread per hit).
    const headers = appendHeaders([], reply.getHeaders(), SET_ON_HIT);
    headers.push(CACHE_HEADER, 'HIT', 'content-type', rendered.contentType);
    headers.push('content-length', String(Buffer.byteLength(rendered.body)));
    if (stream) headers.push('cache-control', 'no-cache', 'x-accel-buffering', 'no');
    reply.hijack();
    reply.raw.writeHead(200, headers);
    reply.raw.end(rendered.body);
    return true;
  }
}
