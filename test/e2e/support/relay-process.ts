import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

const REPO_ROOT = resolve(__dirname, '../../..');

/** A relay running as its own process, as `cc-relay --config <file>` runs in production. */
export interface RelayProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** The config file the process was started with. */
  configPath: string;
  /** Every stdout and stderr line so far (JSON log lines included). */
  readonly lines: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process if it still runs and removes its config file. */
  cleanup(): Promise<void>;
}

/**
 * Writes `config` (a raw config, as a YAML file holds it) to a temporary file and starts the relay's real entry
 * point on it: `src/main.ts` through @swc-node/register, so the test needs no prior build and never runs a stale
 * `dist/`. Resolves once the server listens; `server.listen` should use port 0.
 */
export async function spawnRelay(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<RelayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'cc-relay-e2e-'));
  const configPath = join(dir, 'cc-relay.yaml');
  writeFileSync(configPath, stringify(config));
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/main.ts', '--config', configPath], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test', ...env },
  });
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  let onLine: (() => void) | undefined;
  const collect = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    onLine?.();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`relay did not start:\n${lines.join('\n')}`)), 30_000);
      onLine = () => {
        for (const line of lines) {
          // Fastify's own line carries the real port (the config asks for port 0).
          const found = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
          if (found) {
            clearTimeout(timer);
            onLine = undefined;
            resolveUrl(found);
            return;
          }
        }
      };
      void exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`relay exited with ${code} before listening:\n${lines.join('\n')}`));
      });
    });
    return { url, port: Number(new URL(url).port), child, configPath, lines, exited, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
