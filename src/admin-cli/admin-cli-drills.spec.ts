import { describe, expect, it } from 'vitest';
import { parseAdminCommand, runAdminCommand, type AdminOptions } from './admin-cli';

const opts: AdminOptions = { url: 'http://relay', token: 'tok', json: false, timeoutMs: 1000 };

function fakeFetch(routes: Record<string, [number, unknown]>) {
  const asked: string[] = [];
  const fn = (url: string, init?: RequestInit) => {
    asked.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    const [status, body] = routes[new URL(url).pathname] ?? [404, { error: { message: 'nope' } }];
    return Promise.resolve(new Response(JSON.stringify(body), { status }));
  };
  return { fn: fn as unknown as typeof fetch, asked };
}

describe('admin CLI: drills and availability', () => {
  it('parses the drill commands', () => {
    expect(parseAdminCommand(['drills'], {})).toMatchObject({ command: { kind: 'drills' } });
    expect(parseAdminCommand(['drills', 'run', 'a-off'], {})).toMatchObject({
      command: { kind: 'drill-run', drill: 'a-off' },
    });
    expect(parseAdminCommand(['drills', 'abort', 'a-off'], {})).toMatchObject({
      command: { kind: 'drill-abort', drill: 'a-off' },
    });
    expect(parseAdminCommand(['drills', 'start'], {})).toMatchObject({
      error: expect.stringContaining('usage'),
    });
    expect(parseAdminCommand(['availability'], {})).toMatchObject({ command: { kind: 'availability' } });
  });

  it('lists drills with their next run and last verdict', async () => {
    const { fn } = fakeFetch({
      '/admin/drills': [
        200,
        {
          persistence: 'memory',
          drills: [
            {
              name: 'a-off',
              provider: 'a',
              schedule: '0 3 * * 1',
              next_run_at: '2026-01-12T03:00:00.000Z',
              running: null,
              history: [{ status: 'ended', verdict: 'pass', started_at: '2026-01-05T03:00:00.000Z' }],
            },
          ],
        },
      ],
    });
    const r = await runAdminCommand({ kind: 'drills' }, opts, fn);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /a-off\s+a\s+0 3 \* \* 1\s+2026-01-12T03:00:00.000Z\s+pass 2026-01-05T03:00:00.000Z/,
    );
    expect(r.stdout).toContain('history kept in memory');
  });

  it('runs a drill now and shows availability days with traffic', async () => {
    const { fn, asked } = fakeFetch({
      '/admin/drills/a-off/run': [200, { id: 'r1', status: 'running', verdict: null, reason: null }],
      '/admin/availability': [
        200,
        {
          days: [
            {
              day: '2026-01-06',
              expected: 12,
              succeeded: 10,
              availability: 10 / 12,
              ttfb_ms: { p50: 50, p95: 250 },
              fallback_share: 0.3,
            },
            {
              day: '2026-01-05',
              expected: 0,
              succeeded: 0,
              availability: null,
              ttfb_ms: {},
              fallback_share: null,
            },
          ],
        },
      ],
    });
    const run = await runAdminCommand({ kind: 'drill-run', drill: 'a-off' }, opts, fn);
    expect(run.stdout).toBe('a-off: run r1 running\n');
    expect(asked).toContain('POST /admin/drills/a-off/run');
    const av = await runAdminCommand({ kind: 'availability' }, opts, fn);
    expect(av.stdout).toMatch(/2026-01-06\s+83.333%\s+10\/12\s+50\/250\s+30.000%/);
    expect(av.stdout).not.toContain('2026-01-05');
  });
});
