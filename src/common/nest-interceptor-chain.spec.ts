import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { lastValueFrom, map, type Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * Guards a property of the installed Nest that the relay's memory depends on. Nest 11's interceptor chain bound
 * its async scope with `AsyncResource.bind`, which on Node 20 defines accessor properties with fresh closures on
 * every bound function; the cache interceptor runs on every Messages request, and with `bind` each request's
 * closures survived scavenges (bench/gc-trace.ts, `cache.mode: single`, distinct misses, 32 connections: 9.8 KB
 * survived per request against 1.6 KB with runInAsyncScope; GC pause 18.8 against 5.8 µs per request). Nest 11
 * needed a replacement chain of ours; Nest 12 binds with runInAsyncScope itself. If an upgrade brings `bind` back,
 * this fails, and the replacement (git history: src/common/interceptor-scope.ts) is needed again.
 */
class Handler {
  messages(): void {}
}

const store = new AsyncLocalStorage<string>();

/** Logs around the handler; calls `handle()` inside an async context of its own name (subscribed to later). */
function recording(name: string, log: string[]): NestInterceptor {
  return {
    intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
      log.push(`${name} before (${context.getType()}, ${context.getHandler().name})`);
      return store
        .run(name, () => next.handle())
        .pipe(
          map((v) => {
            log.push(`${name} after ${String(v)}`);
            return `${name}(${String(v)})`;
          }),
        );
    },
  };
}

describe("Nest's interceptor chain (as installed)", () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs the interceptors in order around the handler, which runs in the async context handle() was called in, without AsyncResource.bind', async () => {
    const bind = vi.spyOn(AsyncResource, 'bind');
    const log: string[] = [];
    const instance = new Handler();
    const result = await store.run('request', () =>
      new InterceptorsConsumer().intercept(
        [recording('outer', log), recording('inner', log)],
        [{}, {}, undefined],
        instance,
        instance.messages,
        () => {
          log.push(`handler sees ${store.getStore()}`);
          return Promise.resolve('answer');
        },
        'http',
      ),
    );
    await expect(lastValueFrom(result as Observable<unknown>)).resolves.toBe('outer(inner(answer))');
    expect(log).toEqual([
      'outer before (http, messages)',
      'inner before (http, messages)',
      'handler sees inner',
      'inner after answer',
      'outer after inner(answer)',
    ]);
    expect(bind).not.toHaveBeenCalled();
  });

  it('calls the handler directly when no interceptor applies', async () => {
    const instance = new Handler();
    const result = await new InterceptorsConsumer().intercept([], [], instance, instance.messages, () =>
      Promise.resolve(7),
    );
    expect(result).toBe(7);
  });
});
