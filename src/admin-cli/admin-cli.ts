/**
 * The operator's command line over the admin API: `cc-relay status | providers | reset NAME | open NAME --for 5m |
 * cache stats | cache flush | claude-code`. It only talks HTTP to a running relay (`--url`, `--token`, or
 * CC_RELAY_URL / CC_RELAY_ADMIN_TOKEN), prints tables for people and `--json` for scripts, and says through its exit
 * code what happened: 0 done, 1 the call failed, 2 a usage error, 3 (`status`) a circuit is OPEN.
 */
import { formatTable } from './table';

export const ADMIN_USAGE = `admin commands (talk to a running relay's admin API):
  cc-relay status                       providers' circuits and the cache; exit 3 when a circuit is OPEN
  cc-relay providers                    every provider: circuit, failures, last error, load, keys
  cc-relay reset NAME                   close NAME's circuit, bring back its parked and cooling keys
  cc-relay open NAME --for 5m [--reason TEXT]   force NAME's circuit OPEN for a while (failover drill)
  cc-relay cache stats                  cache mode and counters
  cc-relay cache flush                  drop every cached answer
  cc-relay claude-code [--key KEY]      the environment Claude Code needs to use this relay
  cc-relay drills                       failover drills: schedule, next run, last verdict
  cc-relay drills run|abort NAME        start a drill now, or end the running one (verdict aborted)
  cc-relay availability                 delivered availability per UTC day (docs/sla.md)
options: --url URL (or CC_RELAY_URL; default http://127.0.0.1:8787), --token TOKEN (or CC_RELAY_ADMIN_TOKEN),
         --json (machine-readable output), --timeout 10s`;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CIRCUIT_OPEN = 3;

/** A parsed admin command. */
export type AdminCommand =
  | { kind: 'status' }
  | { kind: 'providers' }
  | { kind: 'reset'; provider: string }
  | { kind: 'open'; provider: string; durationMs: number; reason?: string }
  | { kind: 'cache-stats' }
  | { kind: 'cache-flush' }
  | { kind: 'claude-code'; key?: string }
  | { kind: 'drills' }
  | { kind: 'drill-run' | 'drill-abort'; drill: string }
  | { kind: 'availability' };

export interface AdminOptions {
  url: string;
  token?: string;
  json: boolean;
  timeoutMs: number;
}

/** The admin command words: main.ts hands argv here when it starts with one of them. */
export const ADMIN_COMMANDS = new Set([
  'status',
  'providers',
  'reset',
  'open',
  'cache',
  'claude-code',
  'drills',
  'availability',
]);

/** Reads a duration: 500ms, 30s, 5m, 2h, 1d, or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  const ms = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** Parses an admin command line; `env` gives CC_RELAY_URL and CC_RELAY_ADMIN_TOKEN. */
export function parseAdminCommand(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): { command: AdminCommand; options: AdminOptions } | { error: string } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const valued = new Set(['--url', '--token', '--for', '--reason', '--timeout', '--key']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name === '--json') {
      flags.set(name, true);
      continue;
    }
    if (!valued.has(name)) return { error: `unknown option "${name}"` };
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') return { error: `${name} needs a value` };
    flags.set(name, value);
  }
  const str = (name: string) => {
    const v = flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const url = (str('--url') ?? env.CC_RELAY_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) return { error: `--url must be an http(s) URL, got "${url}"` };
  const timeoutMs = str('--timeout') === undefined ? 10_000 : parseDuration(str('--timeout')!);
  if (timeoutMs === undefined) return { error: '--timeout: a duration like 10s' };
  const token = str('--token') ?? (env.CC_RELAY_ADMIN_TOKEN || undefined);
  const options: AdminOptions = { url, token, json: flags.has('--json'), timeoutMs };

  const [word, ...rest] = positional;
  const only = (n: number, usage: string) => (rest.length === n ? undefined : `usage: cc-relay ${usage}`);
  let command: AdminCommand;
  let problem: string | undefined;
  switch (word) {
    case 'status':
    case 'providers':
      problem = only(0, word);
      command = { kind: word };
      break;
    case 'reset':
      problem = only(1, 'reset NAME');
      command = { kind: 'reset', provider: rest[0] ?? '' };
      break;
    case 'open': {
      problem = only(1, 'open NAME --for 5m');
      const forText = str('--for');
      const durationMs = forText === undefined ? undefined : parseDuration(forText);
      if (!problem && durationMs === undefined) {
        problem =
          forText === undefined
            ? 'open needs --for DURATION (e.g. --for 5m)'
            : `--for: "${forText}" is not a duration (500ms, 30s, 5m, 2h)`;
      }
      command = {
        kind: 'open',
        provider: rest[0] ?? '',
        durationMs: durationMs ?? 0,
        reason: str('--reason'),
      };
      break;
    }
    case 'cache':
      if (rest.length === 1 && rest[0] === 'stats') command = { kind: 'cache-stats' };
      else if (rest.length === 1 && rest[0] === 'flush') command = { kind: 'cache-flush' };
      else return { error: 'usage: cc-relay cache stats | cache flush' };
      break;
    case 'drills':
      if (rest.length === 0) command = { kind: 'drills' };
      else if (rest.length === 2 && (rest[0] === 'run' || rest[0] === 'abort'))
        command = { kind: rest[0] === 'run' ? 'drill-run' : 'drill-abort', drill: rest[1] ?? '' };
      else return { error: 'usage: cc-relay drills | drills run NAME | drills abort NAME' };
      break;
    case 'availability':
      problem = only(0, 'availability');
      command = { kind: 'availability' };
      break;
    case 'claude-code':
      problem = only(0, 'claude-code [--key KEY]');
      command = { kind: 'claude-code', key: str('--key') };
      break;
    default:
      return { error: `unknown command "${word ?? ''}"` };
  }
  if (problem) return { error: problem };
  for (const [name] of flags) {
    const allowed = ['--url', '--token', '--json', '--timeout'];
    if (command.kind === 'open') allowed.push('--for', '--reason');
    if (command.kind === 'claude-code') allowed.push('--key');
    if (!allowed.includes(name)) return { error: `${name} does not apply to "${word}"` };
  }
  return { command, options };
}

/** What a command hands back: the lines to print and the exit code. */
export interface AdminResult {
  stdout: string;
  stderr: string;
  code: number;
}

type Fetch = typeof fetch;

interface ProviderView {
  name: string;
  type: string;
  state: string;
  forced?: boolean;
  consecutive_failures: number;
  retry_at?: string | null;
  opened_at?: string | null;
  in_flight: number;
  last_error?: { status: number | null; message: string; at: string } | null;
  keys: Array<{ id: string; available: boolean; rejected?: unknown; cooldown_until?: string | null }>;
}

/** An admin call's answer, or why there is none (connection refused, a timeout, a non-2xx with its message). */
async function call(
  fetchFn: Fetch,
  opts: AdminOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ ok: true; status: number; json: unknown } | { ok: false; message: string }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetchFn(opts.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (err as { name?: string }).name === 'TimeoutError'
        ? `no answer within ${opts.timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)));
    return { ok: false, message: `${method} ${opts.url}${path}: ${why}` };
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const relayMessage = (json as { error?: { message?: string } } | undefined)?.error?.message;
    const hint =
      res.status === 401
        ? ' (check --token / CC_RELAY_ADMIN_TOKEN)'
        : res.status === 404 && path.startsWith('/admin/') && !relayMessage?.includes('provider')
          ? ' (is the admin API on? it needs admin.token in the relay config)'
          : '';
    return {
      ok: false,
      message: `${method} ${path}: ${res.status} ${relayMessage ?? text.slice(0, 200)}${hint}`,
    };
  }
  return { ok: true, status: res.status, json };
}

function since(iso: string | null | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

function providerRows(providers: ProviderView[], now: number): string[][] {
  return providers.map((p) => {
    const usable = p.keys.filter((k) => k.available).length;
    const parked = p.keys.filter((k) => k.rejected).length;
    return [
      p.name,
      p.type,
      p.state.toUpperCase() + (p.forced ? ' (forced)' : ''),
      p.state === 'closed' ? '' : since(p.opened_at, now),
      String(p.consecutive_failures),
      String(p.in_flight),
      p.keys.length === 0
        ? 'none (pass-through)'
        : `${usable}/${p.keys.length} usable${parked ? `, ${parked} parked` : ''}`,
      p.last_error ? `${p.last_error.status ?? '-'} ${p.last_error.message}`.slice(0, 60) : '',
    ];
  });
}

const PROVIDER_HEADER = [
  'PROVIDER',
  'TYPE',
  'CIRCUIT',
  'SINCE',
  'FAILURES',
  'IN FLIGHT',
  'KEYS',
  'LAST ERROR',
];

/** Runs one admin command against the relay. `now` and `fetchFn` are injected for tests. */
export async function runAdminCommand(
  command: AdminCommand,
  opts: AdminOptions,
  fetchFn: Fetch = fetch,
  now: number = Date.now(),
): Promise<AdminResult> {
  const out = (stdout: string, code = EXIT_OK): AdminResult => ({ stdout, stderr: '', code });
  const fail = (message: string): AdminResult => ({
    stdout: '',
    stderr: `cc-relay: ${message}\n`,
    code: EXIT_FAILED,
  });
  const json = (value: unknown, code = EXIT_OK) => out(JSON.stringify(value, null, 2) + '\n', code);

  switch (command.kind) {
    case 'claude-code': {
      const key =
        command.key ?? '<a client key of the relay (server.auth.api_keys); any value on an open relay>';
      const env = { ANTHROPIC_BASE_URL: opts.url, ANTHROPIC_API_KEY: key };
      if (opts.json) return json(env);
      return out(
        [
          '# Claude Code through this relay (no /v1 at the end of the base URL: the client adds it).',
          `export ANTHROPIC_BASE_URL=${shellQuote(env.ANTHROPIC_BASE_URL)}`,
          `export ANTHROPIC_API_KEY=${shellQuote(env.ANTHROPIC_API_KEY)}`,
          '# then: claude',
          '',
        ].join('\n'),
      );
    }
    case 'providers':
    case 'status': {
      const r = await call(fetchFn, opts, 'GET', '/admin/providers');
      if (!r.ok) return fail(r.message);
      const list = r.json as { instance: string; providers: ProviderView[] };
      const open = list.providers.filter((p) => p.state === 'open');
      const code = command.kind === 'status' && open.length > 0 ? EXIT_CIRCUIT_OPEN : EXIT_OK;
      if (command.kind === 'providers') {
        if (opts.json) return json(list);
        return out(formatTable(PROVIDER_HEADER, providerRows(list.providers, now)));
      }
      const cache = await call(fetchFn, opts, 'GET', '/admin/cache/stats');
      const cacheStats = cache.ok ? (cache.json as Record<string, unknown>) : undefined;
      if (opts.json) {
        return json(
          {
            instance: list.instance,
            open_circuits: open.map((p) => p.name),
            providers: list.providers,
            cache: cacheStats ?? null,
          },
          code,
        );
      }
      const lines = [
        `relay ${opts.url} (replica ${list.instance}): ${list.providers.length} providers, ` +
          (open.length === 0 ? 'no circuit open' : `OPEN: ${open.map((p) => p.name).join(', ')}`),
        '',
        formatTable(PROVIDER_HEADER, providerRows(list.providers, now)).trimEnd(),
        '',
        cacheStats ? `cache: ${cacheLine(cacheStats)}` : `cache: unknown (${cache.ok ? '' : cache.message})`,
        '',
      ];
      return out(lines.join('\n'), code);
    }
    case 'reset': {
      const r = await call(
        fetchFn,
        opts,
        'POST',
        `/admin/providers/${encodeURIComponent(command.provider)}/reset`,
      );
      if (!r.ok) return fail(r.message);
      if (opts.json) return json(r.json);
      const p = r.json as ProviderView;
      return out(
        `${p.name}: circuit ${p.state.toUpperCase()}, ${p.keys.filter((k) => k.available).length} keys usable\n`,
      );
    }
    case 'open': {
      const body: Record<string, unknown> = { duration_ms: command.durationMs };
      if (command.reason !== undefined) body.reason = command.reason;
      const r = await call(
        fetchFn,
        opts,
        'POST',
        `/admin/providers/${encodeURIComponent(command.provider)}/open`,
        body,
      );
      if (!r.ok) return fail(r.message);
      if (opts.json) return json(r.json);
      const p = r.json as ProviderView;
      return out(`${p.name}: circuit ${p.state.toUpperCase()} (forced) until ${p.retry_at ?? '?'}\n`);
    }
    case 'cache-stats': {
      const r = await call(fetchFn, opts, 'GET', '/admin/cache/stats');
      if (!r.ok) return fail(r.message);
      if (opts.json) return json(r.json);
      const stats = r.json as Record<string, unknown>;
      const rows = Object.entries(stats).map(([k, v]) => [k, JSON.stringify(v).replace(/^"|"$/g, '')]);
      return out(formatTable(['STAT', 'VALUE'], rows));
    }
    case 'drills': {
      const r = await call(fetchFn, opts, 'GET', '/admin/drills');
      if (!r.ok) return fail(r.message);
      if (opts.json) return json(r.json);
      const list = r.json as { persistence: string; drills: DrillView[] };
      const rows = list.drills.map((d) => {
        const last = d.history[0];
        return [
          d.name,
          d.provider,
          d.schedule,
          d.running ? 'RUNNING' : (d.next_run_at ?? '-'),
          last ? `${last.verdict ?? last.status} ${last.started_at}` : '-',
        ];
      });
      return out(
        formatTable(['DRILL', 'PROVIDER', 'SCHEDULE', 'NEXT RUN', 'LAST RUN'], rows) +
          `history kept in ${list.persistence}\n`,
      );
    }
    case 'drill-run':
    case 'drill-abort': {
      const action = command.kind === 'drill-run' ? 'run' : 'abort';
      const r = await call(
        fetchFn,
        opts,
        'POST',
        `/admin/drills/${encodeURIComponent(command.drill)}/${action}`,
        {},
      );
      if (!r.ok) return fail(r.message);
      if (opts.json) return json(r.json);
      const run = r.json as { id: string; status: string; verdict: string | null; reason: string | null };
      return out(
        `${command.drill}: run ${run.id} ${run.status}${run.verdict ? `, ${run.verdict}` : ''}${run.reason ? ` (${run.reason})` : ''}\n`,
      );
    }
    case 'availability': {
      const r = await call(fetchFn, opts, 'GET', '/admin/availability');
      if (!r.ok) return fail(r.message);
      if (opts.json) return json(r.json);
      const days = (r.json as { days: AvailabilityView[] }).days.filter((d) => d.expected > 0);
      const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(3)}%`);
      const rows = days.map((d) => [
        d.day,
        pct(d.availability),
        `${d.succeeded}/${d.expected}`,
        `${d.ttfb_ms.p50 ?? '-'}/${d.ttfb_ms.p95 ?? '-'}`,
        pct(d.fallback_share),
      ]);
      return out(
        formatTable(['DAY (UTC)', 'AVAILABILITY', 'OK/EXPECTED', 'TTFB P50/P95 MS', 'FALLBACK'], rows),
      );
    }
    case 'cache-flush': {
      const r = await call(fetchFn, opts, 'DELETE', '/admin/cache');
      if (!r.ok) return fail(r.message);
      if (opts.json) return json({ flushed: true });
      return out('cache flushed\n');
    }
  }
}

interface DrillView {
  name: string;
  provider: string;
  schedule: string;
  next_run_at: string | null;
  running: string | null;
  history: Array<{ status: string; verdict: string | null; started_at: string }>;
}

interface AvailabilityView {
  day: string;
  expected: number;
  succeeded: number;
  availability: number | null;
  ttfb_ms: { p50: number | string | null; p95: number | string | null };
  fallback_share: number | null;
}

function cacheLine(stats: Record<string, unknown>): string {
  const mode = String(stats.mode);
  if (mode === 'disabled') return 'disabled';
  const hits = Number(stats.hits ?? 0);
  const lookups = Number(stats.lookups ?? 0);
  const ratio =
    lookups > 0 ? `${((hits / lookups) * 100).toFixed(1)}% hits of ${lookups} lookups` : 'no lookups yet';
  const entries = typeof stats.backend_key_count === 'number' ? `, ${stats.backend_key_count} entries` : '';
  return `${mode}, ${ratio}${entries}`;
}

/** Single-quotes a value for a POSIX shell. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
