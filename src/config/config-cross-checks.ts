import { formatPath } from './config-error';
import { closestMatch } from './did-you-mean';
import type { ProblemList } from './problem-list';
import { isStringListRecord } from './record-validators';
import { DrillConfig, ProviderConfig, type RelayConfig } from './relay-config';

/*
 * The config's cross-field rules: what no single key can check on its own (unique names, references to providers,
 * what a provider type needs, an open relay on the network). validateConfig runs them after the per-key checks,
 * only where those passed.
 */

/** Rules that span keys; run after the per-key checks and only where those passed. */
export function crossCheck(config: RelayConfig, list: ProblemList): void {
  const providers = config.providers.filter((p): p is ProviderConfig => p instanceof ProviderConfig);
  const names = new Map<string, number>();
  providers.forEach((p, i) => {
    if (typeof p.name !== 'string') return;
    const first = names.get(p.name);
    if (first === undefined) names.set(p.name, i);
    else
      list.bad(['providers', i, 'name'], p.name, `a unique provider name (providers[${first}] has it too)`);
  });
  if (!list.touches('providers') && !providers.some((p) => p.enabled === true)) {
    list.add({
      path: 'providers',
      expected:
        providers.length === 0
          ? 'at least one enabled provider is required, and none is configured'
          : `at least one enabled provider is required, and all ${providers.length} are disabled`,
    });
  }

  providers.forEach((p, i) => {
    if (list.touches(formatPath(['providers', i]))) return;
    for (const problem of providerTypeProblems(p))
      list.add({ path: formatPath(['providers', i, problem.key]), expected: problem.expected });
  });

  const routes = config.routing.model_routes;
  if (isStringListRecord(routes)) {
    const known = [...names.keys()];
    for (const [prefix, targets] of Object.entries(routes)) {
      targets.forEach((name, i) => {
        if (names.has(name)) return;
        const hint = closestMatch(name, known);
        const expected = `the name of a configured provider (${known.join(', ') || 'none'})${hint === undefined ? '' : `; did you mean ${hint}?`}`;
        list.bad(['routing', 'model_routes', prefix, i], name, expected);
      });
    }
    if (config.routing.strategy === 'model_based' && Object.keys(routes).length === 0) {
      list.add({
        path: 'routing.model_routes',
        expected: 'strategy model_based needs at least one route (model prefix -> [provider names])',
      });
    }
  }

  const drillNames = new Map<string, number>();
  config.drills.forEach((d, i) => {
    if (!(d instanceof DrillConfig)) return;
    const hasCron = d.schedule !== undefined;
    const hasEvery = d.every !== undefined;
    if (hasCron === hasEvery) {
      list.add({
        path: `drills[${i}]`,
        expected: hasCron
          ? 'either schedule (cron) or every (a period), not both'
          : 'a schedule: schedule (a cron expression such as "0 3 * * 1") or every (a period such as "90d")',
      });
    }
    if (typeof d.provider === 'string' && !names.has(d.provider)) {
      const known = [...names.keys()];
      const hint = closestMatch(d.provider, known);
      list.bad(
        ['drills', i, 'provider'],
        d.provider,
        `the name of a configured provider (${known.join(', ') || 'none'})${hint === undefined ? '' : `; did you mean ${hint}?`}`,
      );
    }
    if (typeof d.name === 'string') {
      const first = drillNames.get(d.name);
      if (first === undefined) drillNames.set(d.name, i);
      else list.bad(['drills', i, 'name'], d.name, `a unique drill name (drills[${first}] has it too)`);
    }
  });

  const retry = config.routing.retry;
  if (
    Number.isInteger(retry.base_delay_ms) &&
    Number.isInteger(retry.max_delay_ms) &&
    retry.base_delay_ms > retry.max_delay_ms
  ) {
    list.bad(
      ['routing', 'retry', 'base_delay_ms'],
      retry.base_delay_ms,
      `at most max_delay_ms (${retry.max_delay_ms})`,
    );
  }

  const listen = config.server.listen;
  const port = typeof listen === 'string' ? Number(/:(\d+)$/.exec(listen)?.[1]) : NaN;
  if (Number.isInteger(port) && port > 65535 && !list.covers(['server', 'listen'])) {
    list.bad(['server', 'listen'], listen, 'host:port with a port from 0 to 65535');
  }

  // No client keys: whoever reaches the listener spends the providers' keys. Only this machine may, unless
  // server.auth.allow_open says an open relay on the network is meant.
  const auth = config.server.auth;
  if (
    typeof listen === 'string' &&
    !list.covers(['server', 'listen']) &&
    !list.touches('server.auth') &&
    auth.api_keys.length === 0 &&
    auth.allow_open !== true &&
    !isLoopbackListen(listen)
  ) {
    list.bad(
      ['server', 'listen'],
      listen,
      'a loopback address such as 127.0.0.1:8787 while server.auth.api_keys is empty (anyone who reaches this ' +
        "address could use the relay and its providers' keys): add client keys to server.auth.api_keys, or set " +
        'server.auth.allow_open: true if an open relay is meant',
    );
  }
}

/** True when host:port names an address only this machine can connect to (127.0.0.0/8, ::1, localhost). */
export function isLoopbackListen(listen: string): boolean {
  const host = listen
    .slice(0, listen.lastIndexOf(':'))
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The keys a provider type needs (or refuses) beyond what each key checks on its own. */
function providerTypeProblems(p: ProviderConfig): { key: string; expected: string }[] {
  const out: { key: string; expected: string }[] = [];
  if (p.type === 'azure') {
    if (p.base_url === undefined)
      out.push({
        key: 'base_url',
        expected:
          'the Foundry resource URL for type azure (https://<resource>.services.ai.azure.com/anthropic)',
      });
    if (p.entra_id && p.keys.length > 0)
      out.push({ key: 'entra_id', expected: 'either keys or entra_id: true for type azure, not both' });
  } else if (p.entra_id) {
    out.push({ key: 'entra_id', expected: 'entra_id only with type azure' });
  }
  if (p.type === 'vertex') {
    if (p.gcp_project_id === undefined)
      out.push({ key: 'gcp_project_id', expected: 'the Google Cloud project for type vertex' });
    if (p.gcp_region === undefined)
      out.push({ key: 'gcp_region', expected: 'the region for type vertex (us-east5, global, …)' });
  }
  if (p.type === 'openai' && p.base_url === undefined)
    out.push({
      key: 'base_url',
      expected: 'the Chat Completions base URL for type openai (https://api.openai.com/v1, …)',
    });
  if (p.type === 'bedrock' && p.aws_region === undefined)
    out.push({ key: 'aws_region', expected: 'the AWS region for type bedrock (us-east-1, …)' });
  if ((p.type === 'vertex' || p.type === 'bedrock') && p.keys.length > 0)
    out.push({
      key: 'keys',
      expected: `no keys for type ${p.type}: it authenticates with its cloud credentials`,
    });
  return out;
}
