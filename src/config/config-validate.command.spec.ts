import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConfigValidate } from './config-validate.command';

const ROOT = resolve(__dirname, '../..');

function run(path: string, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const code = runConfigValidate(path, env, (line) => lines.push(line));
  return { code, lines };
}

describe('runConfigValidate', () => {
  it('says OK with a summary and the warnings, and returns 0', () => {
    const path = join(ROOT, 'config/cc-relay.example.toml');
    const { code, lines } = run(path, {
      ANTHROPIC_API_KEY: 'sk-ant-example-000000',
      ZAI_API_KEY: 'zai-key-000000',
    });
    expect(code).toBe(0);
    expect(lines[0]).toBe(`config OK: ${path} (2 providers, strategy failover, cache mode single)`);
    expect(lines.slice(1)).toEqual([
      'warning: server.auth.api_keys is empty: anyone who can reach 127.0.0.1:8787 can use the relay',
    ]);
  });

  it('prints every problem and returns 1, without leaking keys', () => {
    const path = join(ROOT, 'test/fixtures/config/many-errors.yaml');
    const { code, lines } = run(path);
    expect(code).toBe(1);
    expect(lines[0]).toBe(`config invalid: ${path} (6 problems)`);
    expect(lines).toContain('- providers[1].keys[0].rpm_limit: got "abc", expected an integer >= 0');
    expect(lines.join('\n')).not.toMatch(/SUPERSECRET|ANOTHERSECRET/);
  });

  it('returns 1 for a missing file', () => {
    const { code, lines } = run(join(ROOT, 'test/fixtures/config/does-not-exist.yaml'));
    expect(code).toBe(1);
    expect(lines[1]).toMatch(/^- \(file\): a readable file \(ENOENT/);
  });
});
