#!/usr/bin/env node
import 'reflect-metadata';
import { createApp, flushLogs, parseListen } from './app.factory';
import { warmCache } from './cache/cache-warmup';
import { GracefulShutdown } from './common/graceful-shutdown.service';
import { ConfigError } from './config/config-error';
import { loadConfig, resolveConfigPath } from './config/config-loader';
import { runConfigValidate } from './config/config-validate.command';
import { DrainState } from './health/drain-state';

async function main(): Promise<number | undefined> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'config' && argv[1] === 'validate') {
    const path = argv[2] ?? resolveConfigPath([], process.env);
    return runConfigValidate(path, process.env, (line) => process.stdout.write(line + '\n'));
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cc-relay: invalid configuration\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const { config } = loaded;
  // A stop requested while starting up: nothing is served yet, so leave at once (with the buffered log lines).
  const stopDuringStart = () => {
    flushLogs();
    process.exit(0);
  };
  process.once('SIGTERM', stopDuringStart);
  process.once('SIGINT', stopDuringStart);
  const app = await createApp(config);
  const log = app.getHttpAdapter().getInstance().log;
  log.info({ config: loaded.path }, 'configuration loaded');
  for (const warning of loaded.warnings) log.warn(warning);

  const { host, port } = parseListen(config.server.listen);
  await app.listen(port, host);
  app.get(DrainState).markReady();
  log.info(`cc-relay listening on http://${host}:${port}`);
  if (config.cache.warmup_file) {
    const self = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
    warmCache(self, config).then(
      (report) => log.info({ ...report, file: config.cache.warmup_file }, 'cache warm-up done'),
      (err: unknown) => log.warn({ err }, 'cache warm-up failed; the relay serves without it'),
    );
  }

  process.off('SIGTERM', stopDuringStart);
  process.off('SIGINT', stopDuringStart);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: the operator wants out now.
      flushLogs();
      process.exit(1);
    }
    stopping = true;
    void app
      .get(GracefulShutdown)
      .run(signal)
      .then(() => app.close())
      .then(
        () => {
          flushLogs();
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error while shutting down');
          flushLogs();
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    flushLogs();
    process.stderr.write(`cc-relay: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
