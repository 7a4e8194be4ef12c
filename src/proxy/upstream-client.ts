import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Pool, type Dispatcher } from 'undici';
import type { Cancellation } from '../common/cancellation';

/** One upstream HTTP exchange as the attempt loop asks for it. */
export interface UpstreamRequest {
  /** Provider base URL, possibly with a path prefix (https://api.z.ai/api/anthropic). */
  baseUrl: string;
  /** Path and query as the client sent them (`/v1/messages?beta=true`). */
  pathAndQuery: string;
  method: 'GET' | 'POST';
  /** Names and values alternating (see HeaderList). */
  headers: string[];
  body?: Buffer | string;
  signal: Cancellation;
  /** Time allowed until the response headers arrive. */
  headersTimeoutMs: number;
  /** Longest silence allowed between body chunks (0 disables: streams use their own stall timer). */
  bodyTimeoutMs: number;
}

export type UpstreamResponse = Dispatcher.ResponseData;

/**
 * The hot-path HTTP client: one keep-alive undici Pool per upstream origin (measured in issue 2: ~3.6x the
 * throughput of axios at a quarter of the CPU). Pools live as long as the app; they are closed on shutdown.
 */
@Injectable()
export class UpstreamClient implements OnApplicationShutdown {
  private readonly pools = new Map<string, { pool: Pool; basePath: string }>();

  /** Sends one request; rejects with undici's errors (mapped by upstreamErrorKind). */
  send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const { pool, basePath } = this.poolFor(req.baseUrl);
    return pool.request({
      path: basePath + req.pathAndQuery,
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      headersTimeout: req.headersTimeoutMs,
      bodyTimeout: req.bodyTimeoutMs,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map(({ pool }) => pool.destroy()));
  }

  private poolFor(baseUrl: string): { pool: Pool; basePath: string } {
    let entry = this.pools.get(baseUrl);
    if (!entry) {
      const url = new URL(baseUrl);
      entry = {
        pool: new Pool(url.origin, {
          connections: 256,
          pipelining: 1,
          keepAliveTimeout: 30_000,
          keepAliveMaxTimeout: 600_000,
          connect: { timeout: 10_000 },
        }),
        basePath: url.pathname.replace(/\/+$/, ''),
      };
      this.pools.set(baseUrl, entry);
    }
    return entry;
  }
}
