import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_KEY, type Scenario } from '../fakes/fake-scenario';
import { parseSse } from '../fakes/sse-parse';
import { post } from './support/http';
import { ask, keyOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

// An upstream that echoes the key the relay sent in its error text must not hand the relay's key to the client:
// every path an upstream error takes to the client masks it (and the relay's logs never hold it either).

describe('provider keys echoed by an upstream error never reach the client', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  const KEY = keyOf('alpha', 'k0');
  const MASKED = `sk-ant-…${KEY.slice(-4)}`;

  async function clientBytes(scenario: Scenario, stream: boolean): Promise<{ status: number; text: string }> {
    world = await startRoutingWorld([{ name: 'alpha' }], { routing: { retry: { max_attempts: 1 } } });
    world.fake('alpha').script(() => scenario);
    const res = await post(world.relay.url, '/v1/messages', { ...ask(), stream });
    const text = await res.body.text();
    // The fake did receive (and echo) the key: the test would prove nothing otherwise.
    expect(world.fake('alpha').requests[0]?.apiKey).toBe(KEY);
    return { status: res.statusCode, text };
  }

  function expectNoKeyAnywhere(text: string): void {
    expect(text).not.toContain(KEY);
    expect(text).toContain(MASKED);
    expect(world!.relay.logs.join('\n')).not.toContain(KEY);
  }

  it('masks the key in a non-Anthropic error body the relay wraps (a gateway 500 in plain text)', async () => {
    const { status, text } = await clientBytes(
      { kind: 'status', status: 500, body: `gateway: upstream refused key ${ECHO_KEY}` },
      false,
    );
    expect(status).toBe(500);
    expect(JSON.parse(text)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expectNoKeyAnywhere(text);
  });

  it('masks the key in an Anthropic-shaped 400 passed through, keeping the rest of its bytes', async () => {
    const { status, text } = await clientBytes(
      { kind: 'status', status: 400, message: `invalid beta for key ${ECHO_KEY}` },
      false,
    );
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: `invalid beta for key ${MASKED}` },
    });
    expectNoKeyAnywhere(text);
  });

  it('masks the key in a stream error event that came before any content', async () => {
    const { status, text } = await clientBytes(
      {
        kind: 'error_event',
        afterEvents: 1,
        errorType: 'invalid_request_error',
        message: `bad request for ${ECHO_KEY}`,
      },
      true,
    );
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({
      error: { type: 'invalid_request_error', message: `bad request for ${MASKED}` },
    });
    expectNoKeyAnywhere(text);
  });

  it('masks the key in a stream error event that came after content had reached the client', async () => {
    const { status, text } = await clientBytes(
      {
        kind: 'error_event',
        afterEvents: 4,
        errorType: 'overloaded_error',
        message: `overloaded while serving ${ECHO_KEY}`,
      },
      true,
    );
    expect(status).toBe(200);
    const events = parseSse(text);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'error',
    ]);
    expect(events.at(-1)?.data).toMatchObject({
      error: { type: 'overloaded_error', message: `overloaded while serving ${MASKED}` },
    });
    expectNoKeyAnywhere(text);
  });
});
