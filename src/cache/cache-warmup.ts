import { readFileSync } from 'node:fs';
import { request } from 'undici';
import type { RelayConfig } from '../config/relay-config';

/** One line of a warm-up file (JSON lines): what to send to the relay. */
interface WarmupLine {
  path?: string;
  headers?: Record<string, string>;
  body: unknown;
}

/** How a warm-up went. */
export interface WarmupReport {
  sent: number;
  ok: number;
  failed: number;
  skipped: number;
}

/**
 * Fills the cache at start from `cache.warmup_file`: JSON lines of `{"path"?, "headers"?, "body"}` sent to the
 * relay's own listener, so each answer is fetched, checked and stored exactly as a client's would be (same key,
 * same rules). A line without credentials uses the first `server.auth.api_keys` entry, so its entries belong to
 * that client's scope unless `cache.shared_across_clients` is set. Bad lines are skipped and counted; nothing here
 * can stop the relay from serving.
 */
export async function warmCache(
  baseUrl: string,
  config: RelayConfig,
  concurrency = 4,
): Promise<WarmupReport> {
  const file = config.cache.warmup_file;
  const report: WarmupReport = { sent: 0, ok: 0, failed: 0, skipped: 0 };
  if (!file || config.cache.mode === 'disabled') return report;
  const lines: WarmupLine[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    if (raw.trim() === '') continue;
    try {
      const parsed = JSON.parse(raw) as WarmupLine;
      if (typeof parsed === 'object' && parsed !== null && typeof parsed.body === 'object')
        lines.push(parsed);
      else report.skipped++;
    } catch {
      report.skipped++;
    }
  }
  const fallbackKey = config.server.auth.api_keys[0];
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const line = lines[next++]!;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        ...(fallbackKey ? { 'x-api-key': fallbackKey } : {}),
        ...(line.headers ?? {}),
      };
      report.sent++;
      try {
        const res = await request(baseUrl + (line.path ?? '/v1/messages'), {
          method: 'POST',
          headers,
          body: JSON.stringify(line.body),
        });
        await res.body.text();
        if (res.statusCode === 200) report.ok++;
        else report.failed++;
      } catch {
        report.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return report;
}
