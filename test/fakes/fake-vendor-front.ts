import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { FakeUpstream } from './fake-upstream';

/** What a vendor front made of one request it accepted: the Anthropic request for the inner fake. */
export interface Forward {
  body: Record<string, unknown>;
  path: '/v1/messages' | '/v1/messages/count_tokens';
  headers?: Record<string, string>;
}

/** A request the front refused, answered in the vendor's own error shape. */
export interface Refusal {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/**
 * A cloud vendor in front of Claude (Vertex AI, Bedrock), as strict as the real one on what it checks itself
 * (credentials, signature, request shape) and backed by a FakeUpstream `inner` that plays the model: its scenarios
 * (errors, streams, mid-stream faults) work as for the anthropic fake, and the vendor front translates its
 * answers into the vendor's wire format.
 */
export abstract class FakeVendorFront {
  readonly inner = new FakeUpstream();
  /** Every request the front refused (why, for assertions). */
  readonly refusals: string[] = [];
  /** Every request the front accepted, as it arrived. */
  readonly accepted: Array<{
    path: string;
    headers: IncomingMessage['headers'];
    body: Record<string, unknown>;
  }> = [];
  private readonly server: Server;
  private baseUrl?: string;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        });
      });
    });
  }

  /** Checks one request: the Anthropic request to play, or the vendor's refusal. */
  protected abstract check(req: IncomingMessage, raw: Buffer): Promise<Forward | Refusal>;

  /** Sends the inner fake's answer on in the vendor's format. */
  protected abstract relay(
    res: ServerResponse,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: NodeJS.ReadableStream & AsyncIterable<Buffer>,
    stream: boolean,
  ): Promise<void>;

  private async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const verdict = await this.check(req, raw);
    if (!('path' in verdict)) {
      this.refusals.push(verdict.body);
      res.writeHead(verdict.status, { 'content-type': 'application/json', ...verdict.headers });
      res.end(verdict.body);
      return;
    }
    this.accepted.push({
      path: req.url ?? '',
      headers: req.headers,
      body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>,
    });
    const answer = await request(`${this.inner.url}${verdict.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...verdict.headers },
      body: JSON.stringify(verdict.body),
    });
    await this.relay(res, answer.statusCode, answer.headers, answer.body, verdict.body.stream === true);
  }

  async start(): Promise<string> {
    await this.inner.start();
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('not started');
    return this.baseUrl;
  }

  reset(): void {
    this.inner.reset();
    this.refusals.length = 0;
    this.accepted.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.inner.close();
  }
}
