import { describe, expect, it } from 'vitest';
import { parseAdminCommand, parseDuration, runAdminCommand, type AdminOptions } from './admin-cli';
import { formatTable } from './table';

describe('parseDuration', () => {
  it('reads ms, s, m, h, d and bare milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('2500')).toBe(2500);
  });

  it('refuses what is not a positive duration', () => {
    for (const bad of ['', '5x', '-1m', '0', 'm', 'soon', '1e3'])
      expect(parseDuration(bad), bad).toBeUndefined();
  });
});

describe('parseAdminCommand', () => {
  const env = {};

  it('takes --url and --token, else CC_RELAY_URL / CC_RELAY_ADMIN_TOKEN, else the local default', () => {
    const fromFlags = parseAdminCommand(['status', '--url', 'http://r:1/', '--token=t'], env);
    expect(fromFlags).toEqual({
      command: { kind: 'status' },
      options: { url: 'http://r:1', token: 't', json: false, timeoutMs: 10_000 },
    });
    const fromEnv = parseAdminCommand(['providers', '--json'], {
      CC_RELAY_URL: 'https://relay.example',
      CC_RELAY_ADMIN_TOKEN: 'tok',
    });
    expect(fromEnv).toMatchObject({ options: { url: 'https://relay.example', token: 'tok', json: true } });
    expect(parseAdminCommand(['status'], env)).toMatchObject({
      options: { url: 'http://127.0.0.1:8787', token: undefined },
    });
  });

  it('parses open NAME --for DURATION [--reason TEXT]', () => {
    expect(parseAdminCommand(['open', 'anthropic', '--for', '5m', '--reason', 'drill'], env)).toMatchObject({
      command: { kind: 'open', provider: 'anthropic', durationMs: 300_000, reason: 'drill' },
    });
  });

  it('names what is wrong with a bad command line', () => {
    const cases: Array<[string[], RegExp]> = [
      [['open', 'a'], /needs --for/],
      [['open', 'a', '--for', 'later'], /not a duration/],
      [['reset'], /usage: cc-relay reset NAME/],
      [['reset', 'a', 'b'], /usage: cc-relay reset NAME/],
      [['cache', 'purge'], /cache stats \| cache flush/],
      [['status', '--verbose'], /unknown option "--verbose"/],
      [['status', '--for', '5m'], /--for does not apply to "status"/],
      [['status', '--url', 'relay:8787'], /--url must be an http\(s\) URL/],
      [['status', '--token'], /--token needs a value/],
    ];
    for (const [argv, message] of cases) {
      const got = parseAdminCommand(argv, env);
      expect('error' in got && got.error, argv.join(' ')).toMatch(message);
    }
  });
});

describe('runAdminCommand', () => {
  const opts: AdminOptions = { url: 'http://relay', token: 'tok', json: false, timeoutMs: 1000 };
  const provider = (name: string, state: string) => ({
    name,
    type: 'anthropic',
    state,
    forced: false,
    consecutive_failures: state === 'open' ? 5 : 0,
    opened_at: state === 'open' ? '2026-01-01T00:00:00.000Z' : null,
    in_flight: 0,
    last_error: state === 'open' ? { status: 503, message: 'upstream answered 503', at: '' } : null,
    keys: [{ id: 'k1', available: true }],
  });
  /** A fetch that answers from a table of path -> [status, body], recording what it was asked. */
  function fakeFetch(routes: Record<string, [number, unknown]>) {
    const asked: Array<{ url: string; init: RequestInit | undefined }> = [];
    const fn = (url: string, init?: RequestInit) => {
      const u = url;
      asked.push({ url: u, init });
      const [status, body] = routes[new URL(u).pathname] ?? [404, { error: { message: 'nope' } }];
      return Promise.resolve(new Response(JSON.stringify(body), { status }));
    };
    return { fn: fn as unknown as typeof fetch, asked };
  }

  it('status exits 3 naming the OPEN circuits, and sends the token as Bearer', async () => {
    const { fn, asked } = fakeFetch({
      '/admin/providers': [
        200,
        { instance: 'pod-a', providers: [provider('a', 'open'), provider('b', 'closed')] },
      ],
      '/admin/cache/stats': [200, { mode: 'single', lookups: 4, hits: 1, backend_key_count: 2 }],
    });
    const r = await runAdminCommand({ kind: 'status' }, opts, fn, Date.parse('2026-01-01T00:01:00.000Z'));
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('OPEN: a');
    expect(r.stdout).toMatch(/a\s+anthropic\s+OPEN\s+60s\s+5\s+0\s+1\/1 usable\s+503 upstream answered 503/);
    expect(r.stdout).toContain('cache: single, 25.0% hits of 4 lookups, 2 entries');
    expect((asked[0]!.init!.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('a failed call exits 1 with the relay message and a hint, never the token', async () => {
    const { fn } = fakeFetch({
      '/admin/providers': [
        401,
        { type: 'error', error: { type: 'authentication_error', message: 'bad token' } },
      ],
    });
    const r = await runAdminCommand({ kind: 'providers' }, opts, fn);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('401 bad token (check --token / CC_RELAY_ADMIN_TOKEN)');
    expect(r.stderr).not.toContain('tok ');
  });

  it('open posts the duration and reason', async () => {
    const { fn, asked } = fakeFetch({
      '/admin/providers/a/open': [200, { ...provider('a', 'open'), forced: true, retry_at: 'T' }],
    });
    const r = await runAdminCommand(
      { kind: 'open', provider: 'a', durationMs: 60_000, reason: 'x' },
      opts,
      fn,
    );
    expect(r.stdout).toBe('a: circuit OPEN (forced) until T\n');
    expect(asked[0]!.init!.method).toBe('POST');
    expect(JSON.parse(asked[0]!.init!.body as string)).toEqual({ duration_ms: 60_000, reason: 'x' });
  });

  it('claude-code prints exports, quoting what a shell would split', async () => {
    const r = await runAdminCommand({ kind: 'claude-code', key: "it's a key" }, opts, fakeFetch({}).fn);
    expect(r.stdout).toContain('export ANTHROPIC_BASE_URL=http://relay\n');
    expect(r.stdout).toContain(`export ANTHROPIC_API_KEY='it'\\''s a key'\n`);
  });
});

describe('formatTable', () => {
  it('pads every column but the last to its widest cell', () => {
    expect(
      formatTable(
        ['A', 'BB'],
        [
          ['xxx', 'y'],
          ['z', 'long'],
        ],
      ),
    ).toBe('A    BB\nxxx  y\nz    long\n');
  });
});
