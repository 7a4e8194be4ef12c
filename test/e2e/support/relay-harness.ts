import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Writable } from 'node:stream';
import { createApp, type CreateAppOptions } from '../../../src/app.factory';
import { loadConfigFile } from '../../../src/config/config-loader';
import { validateConfig } from '../../../src/config/config-validation';
import type { RelayConfig } from '../../../src/config/relay-config';
import { DrainState } from '../../../src/common/drain-state';
import { deepMerge } from '../../support/deep-merge';

/** The provider key the tests configure; it must never reach a client, a log line or an error. */
export const PROVIDER_KEY = 'sk-ant-provider-secret-0123456789abcdef';
/** A relay client key. */
export const CLIENT_KEY = 'relay-client-key-0123456789';

/** A running relay for one test file. */
export interface RunningRelay {
  url: string;
  app: NestFastifyApplication;
  config: RelayConfig;
  /** Every log line the relay wrote. */
  logs: string[];
  close(): Promise<void>;
}

/** A raw config (as a YAML file would hold it) with one provider pointing at `upstreamUrl`, then `patch` merged in. */
export function rawConfig(upstreamUrl: string, patch: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    server: { listen: '127.0.0.1:0', auth: { api_keys: [CLIENT_KEY] } },
    providers: [
      {
        name: 'primary',
        type: 'anthropic',
        base_url: upstreamUrl,
        keys: [{ key: PROVIDER_KEY }],
        models: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
      },
    ],
    health: { health_check: { enabled: false } },
    cache: { mode: 'disabled' },
    logging: { level: 'info' },
  };
  return deepMerge(base, patch);
}

/** Boots the relay from a config file (reload cases: the admin call, the file watch). */
export async function startRelayFromFile(
  path: string,
  opts: { env?: NodeJS.ProcessEnv; watch?: boolean } = {},
): Promise<RunningRelay> {
  const env = opts.env ?? {};
  const { config } = loadConfigFile(path, env);
  return bootRelay(config, { configPath: path, configEnv: env, watchConfig: opts.watch ?? true });
}

/**
 * Boots the relay through the production factory on a real port. `time` hands it a clock (and randomness) of the
 * test's, e.g. a JumpClock that skips cooldowns.
 */
export async function startRelay(
  raw: Record<string, unknown>,
  opts: { time?: CreateAppOptions['time'] } = {},
): Promise<RunningRelay> {
  const { config } = validateConfig(raw);
  return bootRelay(config, opts.time ? { time: opts.time } : {});
}

async function bootRelay(config: RelayConfig, options: CreateAppOptions): Promise<RunningRelay> {
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const app = await createApp(config, { ...options, logStream });
  await app.listen(0, '127.0.0.1');
  app.get(DrainState).markReady();
  const address = app.getHttpServer().address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    config,
    logs,
    close: () => app.close(),
  };
}
