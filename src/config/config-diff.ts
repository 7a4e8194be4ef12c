import { createHash } from 'node:crypto';
import { maskSecret, maskUrlPasswords } from './mask';
import { isSecretPath, type PathSegment } from './config-error';
import type { RelayConfig } from './relay-config';

/**
 * Settings a running relay cannot take without a restart: the listener, what Fastify, the request limits and the
 * logger were built with, and the cache backend and its connection. A reload leaves them as they run (a log line
 * says a restart is needed) and applies the rest. Prefixes: `cache.redis` covers every field under it.
 */
export const RESTART_FIELDS: readonly string[] = [
  'server.listen',
  'server.max_body_bytes',
  'server.body_timeout_ms',
  'server.body_min_bytes_per_s',
  'server.max_connections_per_ip',
  'server.max_inflight_body_bytes',
  'cache.mode',
  'cache.ristretto',
  'cache.redis',
  'cluster',
  'logging.format',
  'metrics.enabled',
  'metrics.path',
];

/** What a reload changes: every leaf path that differs, and those of them a restart is needed for. */
export interface ConfigDiff {
  changed: string[];
  restart: string[];
}

/**
 * Flattens a config into `path → JSON value` leaves. Providers are keyed by name (`providers[main].weight`), so
 * reordering them is no change and a renamed provider shows as one removed and one added; other lists are leaves.
 */
export function flattenConfig(config: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (value: unknown, path: string): void => {
    if (path === 'providers' && Array.isArray(value)) {
      for (const p of value as Array<{ name?: string }>) walk(p, `providers[${String(p.name)}]`);
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      if (entries.length === 0) out.set(path, '{}');
      for (const [k, v] of entries) walk(v, path === '' ? k : `${path}.${k}`);
      return;
    }
    out.set(path, JSON.stringify(value));
  };
  walk(config, '');
  return out;
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** The leaf paths that differ between two configs, and which of them need a restart. Pure. */
export function diffConfig(prev: RelayConfig, next: RelayConfig): ConfigDiff {
  const a = flattenConfig(prev);
  const b = flattenConfig(next);
  const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
  const restart = changed.filter((p) => RESTART_FIELDS.some((f) => underPrefix(p, f)));
  return { changed, restart };
}

/** The restart fields (RESTART_FIELDS) that a set of changed paths touches. */
export function restartFieldsOf(restart: readonly string[]): string[] {
  return RESTART_FIELDS.filter((f) => restart.some((p) => underPrefix(p, f)));
}

function getAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split('.');
  let cur = obj;
  for (const seg of segs.slice(0, -1)) {
    const nextObj = cur[seg];
    if (nextObj === null || typeof nextObj !== 'object') return;
    cur = nextObj as Record<string, unknown>;
  }
  const last = segs[segs.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/**
 * The config a reload applies: `next` with every restart field it changed put back to the running value (a
 * structured clone, so the two configs share nothing). Mutates and returns `next`.
 */
export function keepRestartFields(
  prev: RelayConfig,
  next: RelayConfig,
  restart: readonly string[],
): RelayConfig {
  for (const field of restartFieldsOf(restart)) {
    const running = getAt(prev, field);
    setAt(
      next as unknown as Record<string, unknown>,
      field,
      running === undefined ? undefined : structuredClone(running),
    );
  }
  return next;
}

/** SHA-256 (hex) of a config file's text: what `sha256sum FILE` prints, so operators can compare. */
export function configTextHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A deep copy of a config for the admin API with every credential masked (keys, api_keys, tokens, URL passwords). */
export function maskedConfig(config: RelayConfig): unknown {
  const walk = (value: unknown, segments: PathSegment[]): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...segments, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        out[k] = walk(v, [...segments, k]);
      return out;
    }
    if (typeof value === 'string') {
      return isSecretPath(segments, value) ? maskSecret(value) : maskUrlPasswords(value);
    }
    return value;
  };
  return walk(config, []);
}
