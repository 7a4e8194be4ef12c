import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { CLIENT_KEY, PROVIDER_KEY, rawConfig, startRelay, type RunningRelay } from './support/relay-harness';

const REPO_ROOT = resolve(__dirname, '../..');
const ADMIN_TOKEN = 'admin-token-cli-e2e-0123456789';

/** Runs the relay's real entry point (the package's `bin`) as an operator would, and waits for it to end. */
function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CC_RELAY_URL: '', CC_RELAY_ADMIN_TOKEN: '', CC_RELAY_CONFIG: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', fail);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('the admin CLI against a running relay (real process, real sockets)', () => {
  const fake = new FakeUpstream();
  let relay: RunningRelay;
  let auth: string[];

  beforeAll(async () => {
    const upstream = await fake.start();
    relay = await startRelay(
      rawConfig(upstream, {
        providers: [
          { name: 'primary', type: 'anthropic', base_url: upstream, keys: [{ key: PROVIDER_KEY }] },
          { name: 'backup', type: 'anthropic', base_url: upstream, keys: [{ key: `${PROVIDER_KEY}-2` }] },
        ],
        cache: { mode: 'single' },
        admin: { token: ADMIN_TOKEN },
      }),
    );
    auth = ['--url', relay.url, '--token', ADMIN_TOKEN];
  });
  afterAll(async () => {
    await relay.close();
    await fake.close();
  });

  it('status: a table of the providers and the cache, exit 0 while no circuit is open', async () => {
    const out = await cli(['status', ...auth]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('no circuit open');
    expect(out.stdout).toMatch(/PROVIDER\s+TYPE\s+CIRCUIT/);
    expect(out.stdout).toMatch(/primary\s+anthropic\s+CLOSED/);
    expect(out.stdout).toMatch(/backup\s+anthropic\s+CLOSED/);
    expect(out.stdout).toContain('cache: single');
    expect(out.stdout).toMatch(/cache: single, no lookups yet, 0 entries/);
    expect(out.stdout).not.toContain(PROVIDER_KEY);
  });

  it('open NAME --for 5m forces the circuit open; status then exits 3 naming it; reset closes it', async () => {
    const opened = await cli(['open', 'primary', '--for', '5m', '--reason', 'drill', ...auth]);
    expect(opened.code).toBe(0);
    expect(opened.stdout).toMatch(/^primary: circuit OPEN \(forced\) until \d{4}-/);
    // The relay really moved: its own admin view says so, and traffic goes to the backup.
    const view = (await (
      await fetch(`${relay.url}/admin/providers/primary`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
    ).json()) as { state: string; forced: boolean; retry_at: string };
    expect(view.state).toBe('open');
    expect(view.forced).toBe(true);
    const retryIn = Date.parse(view.retry_at) - Date.now();
    expect(retryIn).toBeGreaterThan(4 * 60_000);
    expect(retryIn).toBeLessThanOrEqual(5 * 60_000);

    const status = await cli(['status', ...auth]);
    expect(status.code).toBe(3);
    expect(status.stdout).toContain('OPEN: primary');
    expect(status.stdout).toMatch(/primary\s+anthropic\s+OPEN \(forced\)/);
    const json = await cli(['status', '--json', ...auth]);
    expect(json.code).toBe(3);
    expect((JSON.parse(json.stdout) as { open_circuits: string[] }).open_circuits).toEqual(['primary']);

    const reset = await cli(['reset', 'primary', ...auth]);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('primary: circuit CLOSED');
    expect((await cli(['status', ...auth])).code).toBe(0);
  });

  it('providers --json is the admin API answer, for scripts', async () => {
    const out = await cli(['providers', '--json', ...auth]);
    expect(out.code).toBe(0);
    const body = JSON.parse(out.stdout) as { providers: Array<{ name: string; keys: unknown[] }> };
    expect(body.providers.map((p) => p.name)).toEqual(['primary', 'backup']);
    expect(out.stdout).not.toContain(PROVIDER_KEY);
  });

  it('cache stats and cache flush act on the relay cache', async () => {
    const ask = () =>
      fetch(`${relay.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': CLIENT_KEY,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: 'claude-sonnet-4-6',
          max_tokens: 8,
          messages: [{ role: 'user', content: 'x' }],
        }),
      });
    expect((await ask()).status).toBe(200);
    expect((await ask()).headers.get('x-cc-relay-cache')).toBe('HIT');
    const stats = await cli(['cache', 'stats', '--json', ...auth]);
    expect(stats.code).toBe(0);
    const s = JSON.parse(stats.stdout) as { mode: string; hits: number; backend_key_count: number };
    expect(s.mode).toBe('single');
    expect(s.hits).toBeGreaterThanOrEqual(1);
    expect(s.backend_key_count).toBe(1);
    const table = await cli(['cache', 'stats', ...auth]);
    expect(table.stdout).toMatch(/backend_key_count\s+1/);

    const flush = await cli(['cache', 'flush', ...auth]);
    expect(flush.code).toBe(0);
    expect(flush.stdout).toBe('cache flushed\n');
    expect((await ask()).headers.get('x-cc-relay-cache')).toBe('MISS');
  });

  it('takes the URL and token from CC_RELAY_URL / CC_RELAY_ADMIN_TOKEN', async () => {
    const out = await cli(['providers'], { CC_RELAY_URL: relay.url, CC_RELAY_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^PROVIDER/);
  });

  it('exits 1 with a reason when the call fails: wrong token, unknown provider, nothing listening', async () => {
    const wrong = await cli(['status', '--url', relay.url, '--token', 'wrong-token-0123456789abcdef']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401');
    expect(wrong.stderr).toContain('--token');
    expect(wrong.stderr).not.toContain('wrong-token-0123456789abcdef');
    const unknown = await cli(['reset', 'nope', ...auth]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = await cli(['status', '--url', `http://127.0.0.1:${port}`, '--token', ADMIN_TOKEN]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('ECONNREFUSED');
  });

  it('exits 2 with usage on a bad command line', async () => {
    for (const args of [['open', 'primary'], ['open', 'primary', '--for', 'soon'], ['cache'], ['reset']]) {
      const out = await cli([...args, ...auth]);
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr, args.join(' ')).toContain('admin commands');
    }
  });

  it('claude-code prints the environment Claude Code needs', async () => {
    const out = await cli(['claude-code', '--url', relay.url, '--key', CLIENT_KEY]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`export ANTHROPIC_BASE_URL=${relay.url}\n`);
    expect(out.stdout).toContain(`export ANTHROPIC_API_KEY=${CLIENT_KEY}\n`);
  });

  it('config init writes a commented starter config that validates, and never overwrites silently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-relay-init-'));
    const path = join(dir, 'cc-relay.yaml');
    const init = await cli(['config', 'init', path]);
    expect(init.code).toBe(0);
    expect(readFileSync(path, 'utf8')).toContain('# cc-relay configuration');
    expect((await cli(['config', 'validate', path])).code).toBe(0);
    writeFileSync(path, 'mine: true\n');
    const again = await cli(['config', 'init', path]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(path, 'utf8')).toBe('mine: true\n');
    expect((await cli(['config', 'init', path, '--force'])).code).toBe(0);
    expect(readFileSync(path, 'utf8')).toContain('# cc-relay configuration');
  });
});
