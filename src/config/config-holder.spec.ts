import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigHolder, type ReloadOutcome } from './config-holder';
import { loadConfigFile } from './config-loader';

const KEY = 'sk-ant-api03-holder-spec-key-0123456789';

function yaml(listen: string, strategy: string, level = 'info'): string {
  return [
    'server:',
    `  listen: "${listen}"`,
    'providers:',
    '  - name: a',
    '    type: anthropic',
    '    keys:',
    `      - key: ${KEY}`,
    'routing:',
    `  strategy: ${strategy}`,
    'logging:',
    `  level: ${level}`,
  ].join('\n');
}

describe('ConfigHolder', () => {
  let dir: string;
  let file: string;
  let holder: ConfigHolder;
  let applied: number;
  let outcomes: ReloadOutcome[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cc-relay-holder-'));
    file = join(dir, 'cc-relay.yaml');
    writeFileSync(file, yaml('127.0.0.1:8787', 'failover'));
    holder = new ConfigHolder(loadConfigFile(file, {}).config, file, {});
    applied = 0;
    outcomes = [];
    holder.onApply(() => applied++);
    holder.onReload((o) => outcomes.push(o));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('swaps the sections of the same config object and calls the appliers once', () => {
    const config = holder.config;
    const routingBefore = config.routing;
    writeFileSync(file, yaml('127.0.0.1:8787', 'round_robin', 'debug'));
    const outcome = holder.reload('admin');
    expect(outcome).toMatchObject({ result: 'applied', changed: ['logging.level', 'routing.strategy'] });
    expect(holder.config).toBe(config);
    expect(config.routing).not.toBe(routingBefore);
    expect(routingBefore.strategy).toBe('failover'); // what a request that started before still holds
    expect(config.routing.strategy).toBe('round_robin');
    expect(applied).toBe(1);
    expect(holder.source).toBe('admin');
  });

  it('refuses an invalid file with every problem, secrets masked, and changes nothing', () => {
    const hash = holder.hash;
    writeFileSync(file, yaml('127.0.0.1:8787', 'fastest').replace('routing:', 'routingg: {}\nrouting:'));
    const outcome = holder.reload('sighup');
    expect(outcome.result).toBe('invalid');
    expect(outcome.problems).toHaveLength(2);
    expect(outcome.problems.join('\n')).not.toContain(KEY);
    expect(holder.config.routing.strategy).toBe('failover');
    expect(holder.hash).toBe(hash);
    expect(applied).toBe(0);
    expect(outcomes).toEqual([outcome]);
  });

  it('keeps server.listen running and reports it as needing a restart', () => {
    writeFileSync(file, yaml('127.0.0.1:9000', 'round_robin'));
    const outcome = holder.reload('file');
    expect(outcome.restart).toEqual(['server.listen']);
    expect(holder.config.server.listen).toBe('127.0.0.1:8787');
    expect(holder.config.routing.strategy).toBe('round_robin');
    expect(holder.restartPending).toEqual(['server.listen']);
  });

  it('reloadIfFileChanged reads the file again only when its content changed', () => {
    expect(holder.reloadIfFileChanged()).toBeUndefined();
    writeFileSync(file, yaml('127.0.0.1:8787', 'fastest'));
    expect(holder.reloadIfFileChanged()?.result).toBe('invalid');
    expect(holder.reloadIfFileChanged()).toBeUndefined(); // the same bad file is not retried
    writeFileSync(file, yaml('127.0.0.1:8787', 'round_robin'));
    expect(holder.reloadIfFileChanged()?.result).toBe('applied');
  });
});
