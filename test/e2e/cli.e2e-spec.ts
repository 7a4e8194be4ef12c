import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = resolve(__dirname, '../..');

/** Runs the relay's real entry point with these arguments; it must end by itself within the timeout. */
function run(args: string[]) {
  const out = spawnSync(process.execPath, ['-r', '@swc-node/register', 'src/main.ts', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, CC_RELAY_CONFIG: '' },
  });
  return { code: out.status, signal: out.signal, stdout: out.stdout, stderr: out.stderr };
}

describe('the command line (real process)', () => {
  it('refuses a mistyped option with usage and exit 2, instead of serving the bundled config', () => {
    const out = run(['--conifg', 'config/cc-relay.yaml']);
    expect(out.signal).toBeNull(); // it ended by itself: nothing was served
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('unknown argument "--conifg"');
    expect(out.stderr).toContain('usage:');
  });

  it('prints usage for --help and the version for --version, exit 0', () => {
    const help = run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('cc-relay config validate');
    const version = run(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^cc-relay \d+\.\d+\.\d+/);
  });

  it('validates a file given after config validate, as --config too', () => {
    expect(run(['config', 'validate', 'config/cc-relay.example.toml']).code).toBe(0);
    const viaOption = run(['config', 'validate', '--config', 'config/cc-relay.yaml']);
    expect(viaOption.code).toBe(0);
    expect(viaOption.stdout).toContain('config OK');
  });
});
