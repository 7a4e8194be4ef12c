import { DEFAULT_MIN_RETRIES } from '../../src/routing/retry-budget';
import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { expectLeasesReleased } from './support/leases';
import { CLIENT_KEY } from './support/relay-harness';
import { ask, rejectionOf, startRoutingWorld, type RoutingWorld } from './support/routing-world';

const RATIO = 0.2;
/** The retry budget's floor of retries per window. */
const MIN_RETRIES = DEFAULT_MIN_RETRIES;

/** The retries the budget grants N client requests in one window. */
function budgetOf(n: number): number {
  return Math.max(MIN_RETRIES, Math.floor(RATIO * n));
}

/**
 * The most upstream attempts N client requests may cause: one each, the budget's retries, and `freeMoves` first
 * moves to another provider that had no recent failure when the move was decided (the budget does not pay for
 * those: issue 17.3).
 */
function attemptCap(n: number, freeMoves: number): number {
  return n + budgetOf(n) + freeMoves;
}

describe('routing e2e: a retry storm stays within the retry budget', () => {
  let world: RoutingWorld | undefined;
  afterEach(async () => {
    if (world) await expectLeasesReleased(world.relay.url, world.adminToken);
    await world?.close();
    world = undefined;
  });

  async function failingWorld(): Promise<RoutingWorld> {
    const w = await startRoutingWorld([{ name: 'alpha' }, { name: 'beta' }], {
      routing: { retry: { max_attempts: 3, budget_ratio: RATIO } },
    });
    for (const name of ['alpha', 'beta']) w.fake(name).script(() => ({ kind: 'status', status: 503 }));
    return w;
  }

  function totalAttempts(w: RoutingWorld): number {
    return Object.values(w.counts()).reduce((a, b) => a + b, 0);
  }

  it('caps the upstream attempts of 20 concurrent failing requests at N + max(floor, ratio·N)', async () => {
    world = await failingWorld();
    const n = 20;

    const errors = await Promise.all(
      Array.from({ length: n }, () => rejectionOf(world!.client.messages.create(ask()))),
    );

    for (const err of errors) {
      expect(err).toBeInstanceOf(Anthropic.APIError);
      const apiErr = err as InstanceType<typeof Anthropic.APIError>;
      expect(apiErr.status).toBe(503);
      expect(apiErr.headers?.get('x-should-retry')).toBe('false');
    }
    // Without the budget each request would take max_attempts = 3: 60 attempts. In a burst every request may see
    // beta before its first failure is known, so each may move there once for free; the struggling provider that
    // failed first (alpha) still gets no more than its share of the budget.
    expect(totalAttempts(world)).toBeGreaterThanOrEqual(n);
    expect(totalAttempts(world)).toBeLessThanOrEqual(attemptCap(n, n));
    expect(world.counts().alpha).toBeLessThanOrEqual(n + budgetOf(n));
  });

  it('does not let the SDK’s own retries multiply the relay’s, request after request', async () => {
    world = await failingWorld();
    // The official SDK's defaults: it retries 503s twice unless told x-should-retry: false.
    const sdk = new Anthropic({ baseURL: world.relay.url, apiKey: CLIENT_KEY, maxRetries: 2 });
    const n = 10;

    for (let i = 0; i < n; i++) {
      const err = await rejectionOf(sdk.messages.create(ask()));
      expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    }

    // One request after another, beta's first failure is known after the first request: one free move in all.
    expect(totalAttempts(world)).toBeGreaterThanOrEqual(n);
    expect(totalAttempts(world)).toBeLessThanOrEqual(attemptCap(n, 1));
  });
});
