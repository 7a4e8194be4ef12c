import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';
import { INSTANCE_HEADER, RelayInstance } from './relay-instance';

/**
 * Headers on every admin answer that got past the token check: the replica that answered (admin state is per
 * replica, and behind an ingress consecutive calls reach different ones) and `no-store` (live state must never be
 * served from a proxy's or browser's cache). Set before the handler runs, so validation and not-found errors carry
 * them too; the exception filter keeps headers already set.
 */
@Injectable()
export class AdminResponseInterceptor implements NestInterceptor {
  constructor(private readonly instance: RelayInstance) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    void context
      .switchToHttp()
      .getResponse<FastifyReply>()
      .header('cache-control', 'no-store')
      .header(INSTANCE_HEADER, this.instance.name);
    return next.handle();
  }
}
