import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { ADMIN_TOKEN, waitUntil } from './support/breaker-relay';
import { MINIMAL, post } from './support/http';
import { CLIENT_KEY, PROVIDER_KEY, startRelayFromFile } from './support/relay-harness';
import { spawnRelay } from './support/relay-process';

// Issue 21 point 1: the other two ways a reload starts: SIGHUP to the real process, and a change of the file as
// Kubernetes makes it (a ConfigMap volume re-points its `..data` symlink; the file itself is never written).

const NEW_CLIENT_KEY = 'relay-client-key-after-reload-0123456789';

function configFor(upstream: string, clientKey: string): Record<string, unknown> {
  return {
    server: { listen: '127.0.0.1:0', auth: { api_keys: [clientKey] } },
    providers: [{ name: 'primary', type: 'anthropic', base_url: upstream, keys: [{ key: PROVIDER_KEY }] }],
    health: { health_check: { enabled: false } },
    cache: { mode: 'disabled' },
    logging: { level: 'info', format: 'json' },
    admin: { token: ADMIN_TOKEN },
  };
}

async function loadedBy(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/admin/config`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await res.json()) as { source?: string }).source;
}

async function statusWithKey(url: string, key: string): Promise<number> {
  const res = await post(url, '/v1/messages', MINIMAL, { 'x-api-key': key });
  await res.body.dump();
  return res.statusCode;
}

describe('config reload triggers', () => {
  const fake = new FakeUpstream();
  beforeAll(async () => {
    await fake.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('SIGHUP reloads the file of a running process (file watch off): the new client key applies', async () => {
    const relay = await spawnRelay(configFor(fake.url, CLIENT_KEY), { CC_RELAY_WATCH_CONFIG: 'false' });
    try {
      writeFileSync(relay.configPath, stringify(configFor(fake.url, NEW_CLIENT_KEY)));
      // Without the signal nothing changes (the watch is off).
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await loadedBy(relay.url)).toBe('start');
      expect(relay.child.kill('SIGHUP')).toBe(true);
      await waitUntil('the SIGHUP reload', async () =>
        (await loadedBy(relay.url)) === 'sighup' ? true : undefined,
      );
      expect(await statusWithKey(relay.url, NEW_CLIENT_KEY)).toBe(200);
      expect(await statusWithKey(relay.url, CLIENT_KEY)).toBe(401);
      expect(relay.child.exitCode).toBeNull();
      // Log lines leave in batches: wait for the line rather than expect it at once.
      await waitUntil('the reload log line', () =>
        relay.lines.some((l) => l.includes('configuration reloaded') && l.includes('sighup'))
          ? true
          : undefined,
      );
    } finally {
      await relay.cleanup();
    }
  });

  it('notices a ConfigMap-style ..data symlink swap within 2 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-configmap-'));
    const version = (name: string, clientKey: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'cc-relay.yaml'), stringify(configFor(fake.url, clientKey)));
    };
    version('..2026_12_07_01_00_00.1', CLIENT_KEY);
    symlinkSync('..2026_12_07_01_00_00.1', join(dir, '..data'));
    symlinkSync('..data/cc-relay.yaml', join(dir, 'cc-relay.yaml'));
    const relay = await startRelayFromFile(join(dir, 'cc-relay.yaml'));
    try {
      expect(await statusWithKey(relay.url, CLIENT_KEY)).toBe(200);
      // What the kubelet does: a new timestamped directory, a temporary link to it, renamed over ..data.
      version('..2026_12_07_02_00_00.2', NEW_CLIENT_KEY);
      symlinkSync('..2026_12_07_02_00_00.2', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      // The bound: noticed within 2 s of the swap.
      await waitUntil(
        'the file reload',
        async () => ((await loadedBy(relay.url)) === 'file' ? true : undefined),
        { timeoutMs: 2_000 },
      );
      expect(await statusWithKey(relay.url, NEW_CLIENT_KEY)).toBe(200);
      expect(await statusWithKey(relay.url, CLIENT_KEY)).toBe(401);
    } finally {
      await relay.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
