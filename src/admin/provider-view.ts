import { maskSecret } from '../config/mask';
import type { ProviderConfig } from '../config/relay-config';
import type { BreakerSnapshot } from '../health/circuit-breaker';
import type { KeySnapshot } from '../routing/key-pool';
import type { ProviderStatusDto } from './provider-status.dto';

/** The live part of a provider the admin view needs; absent for a disabled provider. */
export interface ProviderLoad {
  inFlight: number;
  keys: KeySnapshot[];
}

/** Secrets shorter than this are not scrubbed from text: redacting a 3-character string would mangle everything. */
const MIN_SCRUBBED_SECRET = 8;

/**
 * Masks credentials written into a URL: `user:pass@` (or a bare token before `@`), every query value and a
 * fragment carrying values (`#access_token=…`), so a base URL such as `https://key@gw.example/anthropic?key=…` can
 * be shown to operators.
 */
export function maskUrlCredentials(url: string): string {
  // The userinfo runs to the last `@` of the authority (a password may hold a raw `@`: `u:p@ss@host` is valid).
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i, (_m, scheme: string, userinfo: string) =>
      userinfo.includes(':') ? `${scheme}***:***@` : `${scheme}***@`,
    )
    .replace(/([?&][^=&#]*=)[^&#]*/g, '$1***')
    .replace(/#.*$/, (fragment) => (fragment.includes('=') ? '#***' : fragment));
}

/**
 * Replaces every occurrence of a secret inside the strings of a JSON-like value with its masked form. The admin
 * view is built from other modules' snapshots and upstream error messages; this is the last line that keeps a raw
 * key out of an admin response whatever those contain.
 */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): T {
  const usable = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SCRUBBED_SECRET)
    // Longest first, so a key that contains another key is masked as a whole.
    .sort((a, b) => b.length - a.length);
  if (usable.length === 0) return value;
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let out = v;
      for (const s of usable) if (out.includes(s)) out = out.split(s).join(maskSecret(s));
      return out;
    }
    if (Array.isArray(v)) return v.map(scrub);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, scrub(inner)]));
    }
    return v;
  };
  return scrub(value) as T;
}

/** One provider as the admin API shows it: config, breaker snapshot and load, with nothing secret in it. */
export function providerView(
  config: ProviderConfig,
  baseUrl: string,
  breaker: BreakerSnapshot,
  load: ProviderLoad | undefined,
): ProviderStatusDto {
  return {
    name: config.name,
    type: config.type,
    base_url: maskUrlCredentials(baseUrl),
    enabled: config.enabled,
    priority: config.priority,
    weight: config.weight,
    state: breaker.state,
    consecutive_failures: breaker.consecutive_failures,
    opened_at: breaker.opened_at,
    retry_at: breaker.retry_at,
    open_duration_ms: breaker.open_duration_ms,
    reopens: breaker.reopens,
    forced: breaker.forced,
    half_open_in_flight: breaker.half_open_in_flight,
    half_open_successes: breaker.half_open_successes,
    last_error: breaker.last_error
      ? {
          status: breaker.last_error.status ?? null,
          message: breaker.last_error.message,
          at: breaker.last_error.at,
        }
      : null,
    in_flight: load?.inFlight ?? 0,
    keys: load?.keys ?? [],
  };
}
