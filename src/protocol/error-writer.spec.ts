import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { errorEvent, errorJson, rawErrorResponse, writeError } from './error-writer';
import { errorTypeOfStatus, statusOfErrorType, STATUS_OF_ERROR_TYPE } from './relay-error';

describe('the status <-> type table', () => {
  it('reads both ways: every type its status, and every status back its type', () => {
    for (const [type, status] of Object.entries(STATUS_OF_ERROR_TYPE)) {
      expect([type, statusOfErrorType(type)]).toEqual([type, status]);
      expect([status, errorTypeOfStatus(status)]).toEqual([status, type]);
    }
    expect(errorTypeOfStatus(503)).toBe('api_error');
    expect(errorTypeOfStatus(409)).toBe('invalid_request_error');
  });
});

describe('error bodies', () => {
  it('JSON and SSE carry the same Anthropic error', () => {
    expect(JSON.parse(errorJson('rate_limit_error', 'slow down', 'req-1'))).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
      request_id: 'req-1',
    });
    expect(errorEvent('api_error', 'boom')).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n',
    );
  });

  it('raw bytes for a socket: status line, headers, the body, and the connection closes', () => {
    const raw = rawErrorResponse(429, 'rate_limit_error', 'too many', 'r1', 'Retry-After: 1\r\n');
    expect(raw.startsWith('HTTP/1.1 429 Too Many Requests\r\n')).toBe(true);
    expect(raw).toContain('Retry-After: 1\r\nConnection: close\r\n\r\n{"type":"error"');
  });
});

describe('writeError on a Node response', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /** Serves one request with `handle` and returns what the client read. */
  async function exchange(handle: (res: ServerResponse) => void) {
    server = createServer((_req, res) => handle(res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        })
          .on('error', reject)
          .end();
      },
    );
  }

  it('answers JSON with the status and headers (the error its own last) while nothing was sent', async () => {
    const got = await exchange((res) =>
      writeError(
        res,
        { status: 529, type: 'overloaded_error', message: 'busy', headers: { 'retry-after': '3' } },
        'r2',
        {
          'x-request-id': 'r2',
          'retry-after': '1',
        },
      ),
    );
    expect(got.status).toBe(529);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['retry-after']).toBe('3');
    expect(got.headers['x-request-id']).toBe('r2');
    expect(JSON.parse(got.body)).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'busy' },
      request_id: 'r2',
    });
  });

  it('ends a started stream with the SSE error event (its status is gone)', async () => {
    const got = await exchange((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: ping\ndata: {"type":"ping"}\n\n');
      writeError(res, { status: 500, type: 'api_error', message: 'cut' }, 'r3');
    });
    expect(got.status).toBe(200);
    expect(got.body).toBe(
      'event: ping\ndata: {"type":"ping"}\n\n' +
        'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"cut"},"request_id":"r3"}\n\n',
    );
  });

  it('writes nothing on a response already ended', async () => {
    const got = await exchange((res) => {
      res.end('done');
      writeError(res, { status: 500, type: 'api_error', message: 'late' }, 'r4');
    });
    expect(got.body).toBe('done');
  });
});
