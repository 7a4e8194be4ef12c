import { request } from 'undici';
import { CLIENT_KEY } from './relay-harness';

/** POSTs JSON with the client key (unless headers override it) over a real socket. */
export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return request(base + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': CLIENT_KEY,
      'anthropic-version': '2023-06-01',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A minimal valid Messages request. */
export const MINIMAL = {
  model: 'claude-sonnet-4-6',
  max_tokens: 8,
  messages: [{ role: 'user', content: 'hi' }],
};
