import { describe, expect, it } from 'vitest';
import { clientErrorResponse } from './edge-errors';

describe('clientErrorResponse', () => {
  it.each([
    ['HPE_HEADER_OVERFLOW', 431, 'invalid_request_error'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'timeout_error'],
    ['HPE_INVALID_METHOD', 400, 'invalid_request_error'],
    [undefined, 400, 'invalid_request_error'],
  ])('answers %s with %i and an Anthropic %s body', (code, status, type) => {
    const raw = clientErrorResponse(code, 'rid-1');
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(head).toContain('X-Request-ID: rid-1');
    expect(JSON.parse(body)).toEqual({
      type: 'error',
      error: { type, message: expect.any(String) },
      request_id: 'rid-1',
    });
  });
});
