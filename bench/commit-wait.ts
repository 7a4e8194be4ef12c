/**
 * How long a stream's first byte waits for the commit point (README, "Streams"): the fake upstream paces a stream,
 * and the client's time to the response headers and to the first content_block_delta are measured through the
 * relay with routing.commit `content` (default) and `headers`, beside the upstream's own message_start -> first
 * content_block_delta interval. Medians of ROUNDS (default 20) sequential streams per pacing.
 *
 * usage: node -r @swc-node/register bench/commit-wait.ts
 */
import { request } from 'undici';
import { startRoutingWorld } from '../test/e2e/support/routing-world';
import { CLIENT_KEY } from '../test/e2e/support/relay-harness';
import type { StreamShape } from '../test/fakes/fake-scenario';
import { median } from './load';

const ROUNDS = Number(process.env.ROUNDS ?? 20);

const PACINGS: { name: string; shape: StreamShape }[] = [
  // The real API's shape: message_start, content_block_start and a ping at once, the first token later.
  { name: 'first token 200 ms after message_start', shape: { contentDelayMs: 200, pings: true } },
  // Every event 50 ms after the one before (content_block_start, ping, then the first delta).
  { name: 'an event every 50 ms', shape: { delayMs: 50, pings: true } },
];


async function once(url: string): Promise<{ headers: number; firstDelta: number }> {
  const t0 = performance.now();
  const res = await request(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': CLIENT_KEY,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-6',
      max_tokens: 32,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  const headers = performance.now() - t0;
  let firstDelta = NaN;
  let text = '';
  for await (const chunk of res.body) {
    text += (chunk as Buffer).toString('utf8');
    if (Number.isNaN(firstDelta) && text.includes('event: content_block_delta'))
      firstDelta = performance.now() - t0;
  }
  return { headers, firstDelta };
}

async function main(): Promise<void> {
  console.log(`| pacing | routing.commit | client has the headers (ms) | client has the first delta (ms) |`);
  console.log(`|---|---|---:|---:|`);
  for (const pacing of PACINGS) {
    for (const commit of ['content', 'headers']) {
      const world = await startRoutingWorld([{ name: 'alpha' }], {
        routing: { commit },
        logging: { level: 'error' },
      });
      world.fake('alpha').script(() => ({ kind: 'sse', text: 'abcdef', deltas: 3, ...pacing.shape }));
      try {
        await once(world.relay.url); // warm-up
        const rows = [];
        for (let i = 0; i < ROUNDS; i++) rows.push(await once(world.relay.url));
        const h = median(rows.map((r) => r.headers));
        const d = median(rows.map((r) => r.firstDelta));
        console.log(`| ${pacing.name} | ${commit} | ${h.toFixed(1)} | ${d.toFixed(1)} |`);
      } finally {
        await world.close();
      }
    }
  }
}

void main();
