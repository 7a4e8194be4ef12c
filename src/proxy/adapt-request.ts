import { CredentialError } from '../providers/credential-error';
import type { ProxyRequest } from './proxy-request';
import type { AttemptResult } from '../protocol/answer';
import { type AdaptedCall, type ProviderAdapter } from '../providers/provider-adapter';

/**
 * Runs an adapter for one attempt: the call to send, or the attempt's result when there is nothing to send (the
 * provider cannot serve the request, or its cloud credentials could not be had: a transient failure of that
 * provider, so the loop moves on; the message names the provider, never the credential).
 */
export async function adaptRequest(
  adapter: ProviderAdapter,
  preq: ProxyRequest,
  body: Buffer | string,
  model: string,
  key: string | undefined,
): Promise<Extract<AdaptedCall, { kind: 'send' }> | AttemptResult> {
  let call: AdaptedCall;
  try {
    call = await adapter.prepare({
      endpoint: preq.endpoint,
      pathAndQuery: preq.pathAndQuery,
      clientHeaders: preq.headers,
      body,
      model,
      clientModel: preq.model,
      stream: preq.stream,
      key,
      requestId: preq.id,
    });
  } catch (err) {
    const message =
      err instanceof CredentialError ? err.message : 'the request could not be prepared for the provider';
    preq.log.warn({ reason: message }, 'provider credentials unavailable');
    return { kind: 'error', error: 'connect_refused', message };
  }
  if (call.kind === 'send') return call;
  return {
    kind: 'status',
    status: call.status,
    headers: { 'content-type': 'application/json' },
    rawHeaders: {},
    body: Buffer.from(call.body),
  };
}
