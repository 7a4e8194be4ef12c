import { HttpService } from '@nestjs/axios';
import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import type { ProbeRequest } from '../providers/probe-request';
import type { ProbeOutcome } from './probe-policy';

/**
 * Sends one health probe over HTTP(S). A Nest provider of its own so tests and e2e can swap it
 * (`overrideProvider(ProviderProber)`), though pointing base_url at a local fake upstream works too.
 */
@Injectable()
export class ProviderProber {
  constructor(private readonly http: HttpService) {}

  /** Never rejects: a transport failure comes back as `{ error }`, any HTTP answer as `{ status }`. */
  async probe(request: ProbeRequest, timeoutMs: number): Promise<ProbeOutcome> {
    try {
      const response = await firstValueFrom(
        this.http.request<Readable>({
          method: request.method,
          url: request.url,
          headers: request.headers,
          ...(request.body === undefined ? {} : { data: request.body }),
          timeout: timeoutMs,
          // The socket timeout alone does not bound a slow TLS handshake or DNS lookup.
          signal: AbortSignal.timeout(timeoutMs),
          // Every status is an answer: isProbeSuccess() decides what it means.
          validateStatus: () => true,
          maxRedirects: 0,
          // Only the status matters; the body is dropped unread.
          responseType: 'stream',
        }),
      );
      response.data.destroy();
      return { status: response.status };
    } catch (err) {
      // Only the message: an axios error also carries the request config, and with it the provider's key.
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }
}
