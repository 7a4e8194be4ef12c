import { Agent, request, type Dispatcher } from 'undici';
import { expect } from 'vitest';

/** The lease accounting of one provider as GET /admin/providers shows it. */
export interface ProviderLeases {
  name: string;
  in_flight: number;
  half_open_in_flight: number;
  keys: Array<{ id: string; in_flight: number; reserved_input_tokens: number }>;
}

/** GET /admin/providers, reduced to the lease counts of each provider. */
export async function providerLeases(relayUrl: string, adminToken: string): Promise<ProviderLeases[]> {
  // A client of its own, closed after the answer: no idle keep-alive socket of the test's may hold up the relay's
  // close() that usually follows.
  const dispatcher = new Agent({ connections: 1 });
  let text: string;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(`${relayUrl}/admin/providers`, {
      headers: { authorization: `Bearer ${adminToken}` },
      dispatcher,
    });
    text = await res.body.text();
  } finally {
    await dispatcher.close();
  }
  expect(res.statusCode, text).toBe(200);
  return (JSON.parse(text) as { providers: ProviderLeases[] }).providers;
}

/**
 * Asserts that every lease the relay takes per attempt is back: each provider's in-flight count, each key's
 * in-flight count and input-token reservation, and the breaker's HALF_OPEN test permits. Call it once a test's
 * requests are all answered; it waits briefly for answers whose bookkeeping ends just after the client read them.
 */
export async function expectLeasesReleased(relayUrl: string, adminToken: string): Promise<void> {
  const held = (providers: ProviderLeases[]) =>
    providers.flatMap((p) => [
      ...(p.in_flight !== 0 ? [`${p.name}: in_flight ${p.in_flight}`] : []),
      ...(p.half_open_in_flight !== 0 ? [`${p.name}: half_open_in_flight ${p.half_open_in_flight}`] : []),
      ...p.keys.flatMap((k) => [
        ...(k.in_flight !== 0 ? [`${k.id}: in_flight ${k.in_flight}`] : []),
        ...(k.reserved_input_tokens !== 0
          ? [`${k.id}: reserved_input_tokens ${k.reserved_input_tokens}`]
          : []),
      ]),
    ]);
  let leftover: string[] = [];
  for (let i = 0; i < 50; i++) {
    leftover = held(await providerLeases(relayUrl, adminToken));
    if (leftover.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(leftover, 'leases still held after every answer').toEqual([]);
}
