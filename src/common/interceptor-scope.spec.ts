import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer';
import { lastValueFrom, map, type Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consumerNeedsScopeFix, installInterceptorScopeFix } from './interceptor-scope';

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

describe('installInterceptorScopeFix', () => {
  afterEach(() => vi.restoreAllMocks());

  it('applies to the installed Nest (its consumer binds with AsyncResource.bind)', () => {
    expect(installInterceptorScopeFix()).toBe(true);
    expect(installInterceptorScopeFix()).toBe(true);
  });

  it('leaves a consumer that binds differently alone', () => {
    expect(consumerNeedsScopeFix('defer(bindAsyncScope(() => this.transformDeferred(next)))')).toBe(false);
  });

  it('runs the interceptors in order around the handler, which runs in the async context handle() was called in, without AsyncResource.bind', async () => {
    installInterceptorScopeFix();
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
    installInterceptorScopeFix();
    const instance = new Handler();
    const result = await new InterceptorsConsumer().intercept([], [], instance, instance.messages, () =>
      Promise.resolve(7),
    );
    expect(result).toBe(7);
  });
});
