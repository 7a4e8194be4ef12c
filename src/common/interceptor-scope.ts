import { AsyncResource } from 'node:async_hooks';
import type { ExecutionContext, NestInterceptor } from '@nestjs/common';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { defer, mergeAll, type Observable } from 'rxjs';

/** The parts of Nest's consumer the replacement calls (both are its own, unchanged). */
interface ConsumerInternals {
  createContext(
    args: unknown[],
    instance: object,
    callback: (...args: unknown[]) => unknown,
  ): ExecutionContext & {
    setType(type: string | undefined): void;
  };
  transformDeferred(next: () => Promise<unknown>): Observable<unknown>;
}

type Intercept = (
  this: ConsumerInternals,
  interceptors: NestInterceptor[],
  args: unknown[],
  instance: object,
  callback: (...args: unknown[]) => unknown,
  next: () => Promise<unknown>,
  type?: string,
) => Promise<unknown>;

/** `fn`, to be run later in the async context current now (what AsyncResource.bind does, without its extras). */
function inCurrentScope<T>(fn: () => T): () => T {
  const resource = new AsyncResource('nest-interceptor');
  return () => resource.runInAsyncScope(fn);
}

/**
 * The interceptor chain of Nest 11, with the async scope bound by `AsyncResource#runInAsyncScope` instead of
 * `AsyncResource.bind`. On Node 20, `bind` defines two accessor properties with fresh `util.deprecate` closures on
 * every bound function; Nest binds twice per request whenever an interceptor runs (the cache interceptor runs on
 * every Messages request unless `cache.mode` is `disabled`, and `single` is the default). Measured
 * (bench/gc-trace.ts, `cache.mode: single`, every request a distinct miss, JSON, 32 connections): with `bind`,
 * 8.5 KB of every request survived a scavenge and 7.5 KB was promoted, 14 µs of GC pause per request, 7,000 req/s;
 * without it 630 B, 85 B, 2 µs, 10,300 req/s. Likely mechanism: each such function gets a hidden class of its own
 * (an accessor pair with new closures cannot share one), hidden classes live in the old generation, and an old
 * object is a root for a scavenge, so the request's closures lived until the next full GC. Nest 12 binds the same
 * way as here; the composition (interceptors in order, the handler last, each `handle()` deferred and flattened)
 * is Nest's, and the async context still reaches the handler (unit-tested with AsyncLocalStorage).
 */
const intercept: Intercept = async function (this, interceptors, args, instance, callback, next, type) {
  if (!interceptors || interceptors.length === 0) return next();
  const context = this.createContext(args, instance, callback);
  context.setType(type);
  const run = async (i: number): Promise<Observable<unknown>> => {
    if (i >= interceptors.length) return defer(inCurrentScope(() => this.transformDeferred(next)));
    const handler = { handle: () => defer(inCurrentScope(() => run(i + 1))).pipe(mergeAll()) };
    return interceptors[i]!.intercept(context, handler) as Observable<unknown>;
  };
  return defer(() => run(0)).pipe(mergeAll());
};

/** Whether this Nest's consumer is the one the replacement was written for (it binds with AsyncResource.bind). */
export function consumerNeedsScopeFix(source: string): boolean {
  return source.includes('AsyncResource.bind(') && source.includes('transformDeferred(next)');
}

let installed = false;

/**
 * Installs the replacement on Nest's InterceptorsConsumer, once, and only over the version it was written for
 * (a Nest that binds differently keeps its own). Returns whether the replacement is in place.
 */
export function installInterceptorScopeFix(): boolean {
  const proto = InterceptorsConsumer.prototype as unknown as { intercept: Intercept };
  if (installed) return true;
  if (!consumerNeedsScopeFix(proto.intercept.toString())) return false;
  proto.intercept = intercept;
  installed = true;
  return true;
}
