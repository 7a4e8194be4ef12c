import { request } from 'undici';
import type { Clock } from '../../../src/common/clock';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { FakeUpstream } from '../../fakes/fake-upstream';
import { deepMerge } from '../../support/deep-merge';
import { MINIMAL, post } from './http';
import { PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './relay-harness';

/** The admin token the breaker, health and drain e2e files configure. */
export const ADMIN_TOKEN = 'breaker-e2e-admin-token-0123456789abcdef';
/** The second provider's key. */
export const SECONDARY_KEY = 'sk-ant-secondary-provider-key-fedcba9876543210';

/** One provider as GET /admin/providers shows it (only the fields these tests read). */
export interface ProviderState {
  name: string;
  state: 'closed' | 'open' | 'half_open';
  consecutive_failures: number;
  opened_at: string | null;
  retry_at: string | null;
  forced: boolean;
  half_open_in_flight: number;
  last_error: { status: number | null; message: string; at: string } | null;
}

/**
 * A raw config with two providers on the failover strategy: `primary` (priority 10) in front of `secondary`
 * (priority 5), both serving every model; the admin API on; debug headers on, so each answer names the provider
 * that served it. `patch` is merged in last.
 */
export function twoProviderConfig(
  primary: FakeUpstream,
  secondary: FakeUpstream,
  patch: Record<string, unknown> = {},
): Record<string, unknown> {
  const base = rawConfig(primary.url, {
    providers: [
      { name: 'primary', base_url: primary.url, priority: 10, keys: [{ key: PROVIDER_KEY }] },
      { name: 'secondary', base_url: secondary.url, priority: 5, keys: [{ key: SECONDARY_KEY }] },
    ],
    routing: { strategy: 'failover', debug: true },
    admin: { token: ADMIN_TOKEN },
  });
  return deepMerge(base, patch);
}

/** A suite's two fakes and the relay in front of them (see useTwoProviderRelay). */
export interface TwoProviderRelay {
  primary: FakeUpstream;
  secondary: FakeUpstream;
  /** The running relay (once the suite's beforeAll has run). */
  readonly relay: RunningRelay;
  /** The relay's base URL. */
  readonly url: string;
}

/**
 * Registers the suite's hooks: before all tests, two fakes and a relay over them (twoProviderConfig with `patch`);
 * after each, the fakes forget their scripts and requests and the `reset` breakers are reset (default: the
 * primary's; `false`: no after-each step at all);
 * after all, everything is closed. Hooks the suite registers later run before these at the end (vitest runs
 * after-hooks in reverse order), so a suite can wait for its own work before the relay goes.
 */
export function useTwoProviderRelay(
  patch: Record<string, unknown>,
  opts: { reset?: string[] | false; clock?: Clock } = {},
): TwoProviderRelay {
  const primary = new FakeUpstream();
  const secondary = new FakeUpstream();
  let relay: RunningRelay | undefined;
  const running = (): RunningRelay => {
    if (!relay) throw new Error('the relay is started in beforeAll');
    return relay;
  };
  beforeAll(async () => {
    await primary.start();
    await secondary.start();
    relay = await startRelay(
      twoProviderConfig(primary, secondary, patch),
      opts.clock ? { time: { clock: opts.clock } } : {},
    );
  });
  const reset = opts.reset ?? ['primary'];
  if (reset !== false) {
    afterEach(async () => {
      primary.reset();
      secondary.reset();
      for (const name of reset) await adminAction(running().url, name, 'reset');
    });
  }
  afterAll(async () => {
    await relay?.close();
    await primary.close();
    await secondary.close();
  });
  return {
    primary,
    secondary,
    get relay() {
      return running();
    },
    get url() {
      return running().url;
    },
  };
}

/** Every provider's breaker, by name, from GET /admin/providers. */
export async function providerStates(base: string): Promise<Record<string, ProviderState>> {
  const res = await request(`${base}/admin/providers`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /admin/providers: ${res.statusCode} ${text}`);
  const { providers } = JSON.parse(text) as { providers: ProviderState[] };
  return Object.fromEntries(providers.map((p) => [p.name, p]));
}

/** One provider's breaker from GET /admin/providers. */
export async function providerState(base: string, name: string): Promise<ProviderState> {
  const state = (await providerStates(base))[name];
  if (!state) throw new Error(`GET /admin/providers: no provider ${name}`);
  return state;
}

/** POST /admin/providers/:name/:action with the admin token; returns the status and the parsed body. */
export async function adminAction(
  base: string,
  name: string,
  action: 'reset' | 'open',
  body?: unknown,
): Promise<{ status: number; body: ProviderState }> {
  const res = await request(`${base}/admin/providers/${name}/${action}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as ProviderState };
}

/** What one non-streaming request through the relay came back with. */
export interface Served {
  status: number;
  /** X-CC-Relay-Provider (the config turns debug headers on), undefined when no provider answered. */
  provider: string | undefined;
  body: string;
}

/** Sends one minimal non-streaming Messages request and reads the whole answer. */
export async function send(base: string, body: unknown = MINIMAL): Promise<Served> {
  const res = await post(base, '/v1/messages', body);
  const text = await res.body.text();
  const provider = res.headers['x-cc-relay-provider'];
  return {
    status: res.statusCode,
    provider: typeof provider === 'string' ? provider : undefined,
    body: text,
  };
}

/** POST /v1/messages requests a fake received (probes and other routes left out). */
export function messageRequests(fake: FakeUpstream) {
  return fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages');
}

export { waitUntil } from '../../support/wait-until';
