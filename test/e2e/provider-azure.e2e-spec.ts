import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

// Azure AI Foundry's Anthropic endpoint with a resource key (base_url https://<resource>.services.ai.azure.com/anthropic;
// a path prefix is appended to as for z.ai): the Messages API, the key as x-api-key, answers and errors Anthropic's own.

const AZURE_KEY = 'azure-foundry-resource-key-0123456789';

describe('azure provider (Foundry, key)', () => {
  const foundry = new FakeUpstream();
  let relay: RunningRelay;
  let client: Anthropic;

  beforeAll(async () => {
    await foundry.start();
    relay = await startRelay(
      rawConfig(foundry.url, {
        routing: { retry: { max_attempts: 1 } },
        providers: [{ name: 'azure', type: 'azure', base_url: foundry.url, keys: [{ key: AZURE_KEY }] }],
      }),
    );
    client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await relay.close();
    await foundry.close();
  });

  it('sends the resource key as x-api-key JSON and streams', async () => {
    foundry.script((req) =>
      req.path === '/v1/messages'
        ? {
            kind: req.body && (req.body as { stream?: boolean }).stream ? 'sse' : 'json',
            text: 'from foundry',
          }
        : undefined,
    );
    const msg = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.content[0]).toMatchObject({ text: 'from foundry' });
    const final = await client.messages
      .stream({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(final.content[0]).toMatchObject({ text: 'from foundry' });
    expect(foundry.requests.map((r) => [r.path, r.headers['x-api-key']])).toEqual([
      ['/v1/messages', AZURE_KEY],
      ['/v1/messages', AZURE_KEY],
    ]);
  });

  it('passes a rate limit on as the SDK’s RateLimitError', async () => {
    foundry.script(() => ({ kind: 'status', status: 429 }));
    await expect(
      client.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.RateLimitError);
  });
});
