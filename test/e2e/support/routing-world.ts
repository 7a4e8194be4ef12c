import Anthropic from '@anthropic-ai/sdk';
import type { Clock } from '../../../src/common/clock';
import { expectLeasesReleased } from './leases';
import { FakeUpstream, type RecordedRequest } from '../../fakes/fake-upstream';
import { deepMerge } from '../../support/deep-merge';
import { CLIENT_KEY, rawConfig, startRelay, type RunningRelay } from './relay-harness';

/** One provider of a routing test, played by its own fake upstream. */
export interface ProviderSpec {
  name: string;
  /** Key names; each becomes a distinct provider key (see {@link keyOf}). Default: one key. */
  keys?: string[];
  priority?: number;
  weight?: number;
  models?: string[];
  max_connections?: number;
}

/** Several fake providers behind one relay, with an SDK client pointed at the relay. */
export interface RoutingWorld {
  relay: RunningRelay;
  client: Anthropic;
  /** The fake of a provider, by provider name. */
  fake(name: string): FakeUpstream;
  /** How many Messages requests each provider's fake received, by provider name. */
  counts(): Record<string, number>;
  /** The admin API's bearer token (WORLD_ADMIN_TOKEN unless the test's patch set another). */
  adminToken: string;
  /**
   * Checks that every lease the relay took is back (expectLeasesReleased: provider and key in-flight counts, token
   * reservations, HALF_OPEN permits), then stops the relay and the fakes. `leasesHeld` skips the check for a test
   * that ends with requests still under way on purpose.
   */
  close(opts?: { leasesHeld?: boolean }): Promise<void>;
}

/** The provider key a test names `keyName` on provider `provider`; unique, so the fakes can tell keys apart. */
export function keyOf(provider: string, keyName: string): string {
  return `sk-ant-${provider}-${keyName}-0123456789abcdef`;
}

/** The admin token of every routing world (a patch may set another), so tests can read /admin/providers. */
export const WORLD_ADMIN_TOKEN = 'routing-world-admin-token-0123456789';

/** Models every test provider serves unless its spec says otherwise. */
export const WORLD_MODELS = ['claude-sonnet-4-6', 'claude-haiku-4-5'];

/**
 * Routing settings short enough for tests: tiny backoffs, deadlines of a few seconds, debug headers on. Breakers
 * get a threshold no test reaches, so routing and retries are seen on their own (the breaker issue tests breakers).
 */
const FAST: Record<string, unknown> = {
  server: { timeout_ms: 5_000 },
  routing: {
    debug: true,
    deadline_ms: 5_000,
    ttft_timeout_ms: 3_000,
    stall_timeout_ms: 3_000,
    retry: { base_delay_ms: 10, max_delay_ms: 40 },
  },
  health: { health_check: { enabled: false }, circuit_breaker: { failure_threshold: 10_000 } },
  logging: { level: 'warn' },
  admin: { token: WORLD_ADMIN_TOKEN },
};

/** Starts one fake per provider and a relay routing over them; `patch` deep-merges over the fast defaults. */
export async function startRoutingWorld(
  specs: ProviderSpec[],
  patch: Record<string, unknown> = {},
  opts: { clock?: Clock } = {},
): Promise<RoutingWorld> {
  const fakes = new Map<string, FakeUpstream>();
  const providers: Record<string, unknown>[] = [];
  try {
    for (const spec of specs) {
      const fake = new FakeUpstream();
      fakes.set(spec.name, fake);
      const url = await fake.start();
      providers.push({
        name: spec.name,
        type: 'anthropic',
        base_url: url,
        keys: (spec.keys ?? ['k0']).map((k) => ({ key: keyOf(spec.name, k) })),
        models: spec.models ?? WORLD_MODELS,
        ...(spec.priority === undefined ? {} : { priority: spec.priority }),
        ...(spec.weight === undefined ? {} : { weight: spec.weight }),
        ...(spec.max_connections === undefined ? {} : { max_connections: spec.max_connections }),
      });
    }
    const raw = rawConfig('http://unused.invalid', FAST);
    const relay = await startRelay(
      deepMerge(deepMerge(raw, { providers }), patch),
      opts.clock ? { time: { clock: opts.clock } } : {},
    );
    const client = new Anthropic({ baseURL: relay.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    return {
      relay,
      client,
      adminToken: relay.config.admin.token ?? WORLD_ADMIN_TOKEN,
      fake(name) {
        const fake = fakes.get(name);
        if (!fake) throw new Error(`no fake provider ${name}`);
        return fake;
      },
      counts() {
        return Object.fromEntries([...fakes].map(([name, f]) => [name, messagesOf(f).length]));
      },
      async close(opts) {
        try {
          if (!opts?.leasesHeld && relay.config.admin.token) {
            await expectLeasesReleased(relay.url, relay.config.admin.token);
          }
        } finally {
          await relay.close();
          await Promise.all([...fakes.values()].map((f) => f.close()));
        }
      },
    };
  } catch (err) {
    await Promise.all([...fakes.values()].map((f) => f.close()));
    throw err;
  }
}

/** The POST /v1/messages requests a fake received, in order. */
export function messagesOf(fake: FakeUpstream): RecordedRequest[] {
  return fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
}

/** A small Messages request body for the SDK. */
export function ask(model = 'claude-sonnet-4-6', text = 'hi') {
  return { model, max_tokens: 32, messages: [{ role: 'user' as const, content: text }] };
}

/** Resolves after `ms` (for tests that must let a cooldown pass). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Awaits a promise that must reject and returns its error (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
